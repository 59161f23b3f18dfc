"""`audit`: run every enabled rule over new activity (or all of the look-back with --full)."""

from __future__ import annotations

import argparse
import sys

from integration.audit import run_audit
from integration.wiring import context_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--full", action="store_true", help="ignore stored cursors and re-read the whole look-back")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def run(args) -> int:
    ctx = context_from_args(args)
    result = run_audit(ctx, full=args.full)
    for rule_id, reason in sorted(result.not_evaluated.items()):
        print(f"not evaluated: {rule_id}: {reason}", file=sys.stderr)
    for error in result.errors:
        print(f"source error: {error}", file=sys.stderr)
    if result.skipped:
        print(f"skipped {result.skipped} record(s) with missing fields (see the log)", file=sys.stderr)
    for report in result.registers:
        if report.refused or report.problems:
            print(report.summary(), file=sys.stderr)
    doc = result.as_json()
    if args.json:
        from integration.__main__ import print_json

        if result.registers:  # an addition to the contract's document
            doc["registers"] = {r.register: r.as_json() for r in result.registers}
        print_json(doc)
    else:
        print(f"findings: {doc['findings_new']} new, {doc['findings_updated']} updated; "
              f"{doc['events_read']} events read, {doc['api_calls']} API calls")
    # a register refused as a whole is a configuration problem the operator must fix: exit 2,
    # although the audit ran (with the previously loaded register)
    return 2 if any(r.refused for r in result.registers) else 0
