"""`roster`: list people (staff, pupils, former pupils, other, guardians) with their courses."""

from __future__ import annotations

import argparse

from integration.roster import list_roster
from integration.wiring import context_from_args

ROLES = ("staff", "pupil", "former_pupil", "other", "guardian")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--role", choices=ROLES, help="only this role")
    p.add_argument("--json", action="store_true", help='print [{"email","name","role","org_unit","courses"}]')


def run(args) -> int:
    ctx = context_from_args(args)
    rows = list_roster(ctx.store, args.role)
    if args.json:
        from integration.__main__ import print_json

        print_json(rows)
        return 0
    for r in rows:
        courses = ", ".join(r["courses"][:4]) + (" …" if len(r["courses"]) > 4 else "")
        print(f"{r['role']:<13} {r['email']:<40} {r['name']:<28} {r['org_unit']:<24} {courses}")
    print(f"{len(rows)} people")
    return 0
