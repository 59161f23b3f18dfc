"""`sync`: roster sync. Exit 3 (after printing the counts) when a source refused part of the read."""

from __future__ import annotations

import argparse
import sys

from integration.roster import run_sync
from integration.wiring import context_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--full", action="store_true", help="re-read everything (every sync reads the whole roster "
                   "and applies only the difference; --full is recorded in the run)")
    p.add_argument("--json", action="store_true", help="print one JSON document with the counts")


def progress_printer(args) -> object:
    """Progress lines on stderr, only for a person at a terminal (never with --json)."""
    if getattr(args, "json", False) or not sys.stderr.isatty():
        return None
    return lambda msg: print(f"  {msg}", file=sys.stderr, flush=True)


def run(args) -> int:
    ctx = context_from_args(args)
    result = run_sync(ctx, full=args.full, progress=progress_printer(args))
    if args.json:
        from integration.__main__ import print_json

        print_json(result.as_json())
    else:
        doc = result.as_json()
        print(f"roster: {doc['staff']} staff, {doc['pupils']} pupils, {doc['former_pupils']} former pupils, "
              f"{doc['guardians']} guardians, {doc['courses']} courses")
        print(f"changes: {doc['added']} added, {doc['updated']} updated, {doc['removed']} removed "
              f"({doc['api_calls']} API calls)")
    if result.errors:
        print("error: part of the roster could not be read; nothing it covers was removed:", file=sys.stderr)
        for coll, msg in result.errors.items():
            print(f"  {coll}: {msg}", file=sys.stderr)
        for fix in dict.fromkeys(result.fixes):
            print(f"  fix: {fix}", file=sys.stderr)
        return 3
    return 0
