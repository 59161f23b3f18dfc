"""`roster`: list people (staff, pupils, former pupils, other, guardians) with their courses and school."""

from __future__ import annotations

import argparse

from integration.cli.school_option import add_school_argument, checked_school
from integration.roster import list_roster
from integration.wiring import context_from_args

ROLES = ("staff", "pupil", "former_pupil", "other", "guardian")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--role", choices=ROLES, help="only this role")
    add_school_argument(p)
    p.add_argument("--json", action="store_true",
                   help='print [{"email","name","role","org_unit","school","courses"}]')


def run(args) -> int:
    ctx = context_from_args(args)
    tenants = ctx.settings.tenants
    school = checked_school(tenants, args.school)
    rows = list_roster(ctx.store, args.role, school=school, tenants=tenants)
    if args.json:
        from integration.__main__ import print_json

        print_json(rows)
        return 0
    for r in rows:
        courses = ", ".join(r["courses"][:4]) + (" …" if len(r["courses"]) > 4 else "")
        where = f"{r['school'] or '-':<16} " if tenants.is_trust else ""  # one school: the column says nothing
        print(f"{r['role']:<13} {r['email']:<40} {r['name']:<28} {where}{r['org_unit']:<24} {courses}")
    print(f"{len(rows)} people")
    return 0
