"""`acks`: policy acknowledgement status for the current version, and the first invitations of everyone
not asked yet (opening a round invites its staff); `--remind` sends every due email (reminders and the
overdue list too); `--report json|csv` writes the governors' compliance report and sends nothing.

Per school (issue 13): a trust's schools each have their own round. `--school ID` runs and reports
that school alone; without it every school runs, and `--json` prints one document per school as a
JSON array in config order (a single-school config prints its one document, with "school").

Every run first reads new form responses (so the numbers are today's). Exit codes: 0 ok;
2 the form cannot be used as configured (e.g. it does not collect email addresses: the status
is still printed, the fix goes to stderr), or an unknown --school; 3 the Forms API or the mail
transport refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from integration.cli.school_option import add_school_argument, checked_school
from integration.errors import InputError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document (the status) on stdout")
    p.add_argument("--remind", action="store_true",
                   help="queue and send every due email (reminders and escalation too; plain acks sends only "
                        "the first invitations)")
    p.add_argument("--report", choices=("json", "csv"), help="print the compliance report by org unit and role")
    p.add_argument("--output", metavar="FILE", help="write the --report to FILE instead of stdout")
    add_school_argument(p)


def run(args) -> int:
    from integration.__main__ import print_json
    from integration.acknowledgement import compliance_csv, reports, run_acknowledgement
    from integration.wiring import context_from_args

    if args.output and not args.report:
        raise InputError("--output needs --report json|csv")
    ctx = context_from_args(args)
    trust = ctx.settings.tenants.is_trust
    school = checked_school(ctx.settings.tenants, args.school)
    result = run_acknowledgement(ctx, send=bool(args.remind), invite=not args.report, school=school)
    for r in result.runs:
        at = f"school {r.school}: " if trust else ""
        for p in r.problems:
            print(f"{'error' if p.blocking else 'warning'}: {at}{p.problem}\n  fix: {p.fix}", file=sys.stderr)
    refused = getattr(result.delivery, "refused", None)
    if refused is not None:
        print(f"error: emails were queued but the mail transport refused them: {refused}\n"
              f"  fix: {getattr(refused, 'fix', '') or 'check [alerts] transport settings'}", file=sys.stderr)
    if args.report:
        docs = reports(ctx, school=school)
        doc = docs if trust and not school else docs[0]
        text = compliance_csv(doc) if args.report == "csv" else json.dumps(doc, ensure_ascii=False, indent=2) + "\n"
        if args.output:
            path = Path(args.output)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}", file=sys.stderr)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
    if not args.report or args.output:
        if args.json:
            print_json(result.docs if trust and not school else result.doc)
        elif not args.report:
            for r in result.runs:
                _print_human(r, trust)
    if result.blocking:
        return 2
    return 3 if refused is not None else 0


def _print_human(result, trust: bool = False) -> None:
    s = result.doc
    print((f"{s['school']}: " if trust else "") + f"policy {s['policy_version']} (form {s['form_id']}): {s['acknowledged']} acknowledged, "
          f"{s['outstanding']} outstanding")
    for m in s["staff"]:
        if not m["acknowledged_at"]:
            print(f"  outstanding: {m['email']} (reminders sent: {m['reminders_sent']})")
    if result.queued.total:
        print("queued: " + ", ".join(f"{k} {v}" for k, v in result.queued.counts.items() if v))
    if getattr(result, "cancelled", 0):
        print(f"cancelled: {result.cancelled} queued email(s) to people who have left")
    sys.stdout.flush()
