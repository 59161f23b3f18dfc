"""Builds connectors from a Context; called only by integration.wiring."""

from __future__ import annotations


def roster_sources(ctx) -> list:
    raise NotImplementedError("roster sources are wired by the roster work")


def activity_sources(ctx) -> list:
    raise NotImplementedError("activity sources are wired by the audit work")


def acknowledgement_source(ctx):
    raise NotImplementedError("the acknowledgement source is wired by the acknowledgement work")


def mailer(ctx):
    raise NotImplementedError("mailers are wired by the alerts work")


def doctor_checks(ctx) -> list:
    raise NotImplementedError("doctor checks are wired by the roster work")
