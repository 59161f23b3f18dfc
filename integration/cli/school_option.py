"""`--school ID`: one school of a trust for the listings (roster, findings, acks).

Kept in one place so every command names the same known ids when given an unknown one (exit 2).
"""

from __future__ import annotations

import argparse

from integration.errors import InputError
from integration.tenancy import Tenants


def add_school_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--school", metavar="ID", help="only this school (an id from [[schools]], or [school] id)")


def checked_school(tenants: Tenants, school_id: str | None) -> str | None:
    """The --school value when it names a configured school; None when not given; else exit 2."""
    if school_id is None:
        return None
    wanted = school_id.strip()
    if tenants.get(wanted) is None:
        raise InputError(f"--school {school_id!r} is not a school of this config "
                         f"(known school ids: {', '.join(tenants.ids)})")
    return wanted
