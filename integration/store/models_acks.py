"""Tables for the acks feature (filled in by that feature's work)."""

from __future__ import annotations
