"""`acks`: policy acknowledgement status for the current version, and the first invitations of everyone
not asked yet (opening a round invites its staff); `--remind` sends every due email (reminders and the
overdue list too); `--report json|csv` writes the governors' compliance report and sends nothing.

Every run first reads new form responses (so the numbers are today's). Exit codes: 0 ok;
2 the form cannot be used as configured (e.g. it does not collect email addresses: the status
is still printed, the fix goes to stderr); 3 the Forms API or the mail transport refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from integration.errors import InputError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document (the status) on stdout")
    p.add_argument("--remind", action="store_true",
                   help="queue and send every due email (reminders and escalation too; plain acks sends only "
                        "the first invitations)")
    p.add_argument("--report", choices=("json", "csv"), help="print the compliance report by org unit and role")
    p.add_argument("--output", metavar="FILE", help="write the --report to FILE instead of stdout")


def run(args) -> int:
    from integration.__main__ import print_json
    from integration.acknowledgement import compliance_csv, report, run_acknowledgement
    from integration.wiring import context_from_args

    if args.output and not args.report:
        raise InputError("--output needs --report json|csv")
    ctx = context_from_args(args)
    result = run_acknowledgement(ctx, send=bool(args.remind), invite=not args.report)
    for p in result.problems:
        print(f"{'error' if p.blocking else 'warning'}: {p.problem}\n  fix: {p.fix}", file=sys.stderr)
    refused = getattr(result.delivery, "refused", None)
    if refused is not None:
        print(f"error: emails were queued but the mail transport refused them: {refused}\n"
              f"  fix: {getattr(refused, 'fix', '') or 'check [alerts] transport settings'}", file=sys.stderr)
    if args.report:
        doc = report(ctx)
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
            print_json(result.doc)
        elif not args.report:
            _print_human(result)
    if result.blocking:
        return 2
    return 3 if refused is not None else 0


def _print_human(result) -> None:
    s = result.doc
    print(f"policy {s['policy_version']} (form {s['form_id']}): {s['acknowledged']} acknowledged, "
          f"{s['outstanding']} outstanding")
    for m in s["staff"]:
        if not m["acknowledged_at"]:
            print(f"  outstanding: {m['email']} (reminders sent: {m['reminders_sent']})")
    if result.queued.total:
        print("queued: " + ", ".join(f"{k} {v}" for k, v in result.queued.counts.items() if v))
    if getattr(result, "cancelled", 0):
        print(f"cancelled: {result.cancelled} queued email(s) to people who have left")
    sys.stdout.flush()
