"""`alerts`: deliver every alert that is due now (`--digest`: queue and send the digest now too).

`--json` prints exactly {"sent","failed","queued","pending_digest"}: a cancelled email (an
acknowledgement request whose recipient left before it went) is in none of them; the human
line counts it, and the dashboard's outbox state has it as "cancelled". Exit 0 even when some sends
failed (they stay queued and are retried); 2 on bad configuration; 3 when the transport
refused (e.g. SMTP login), with the fix on stderr.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from integration.jobs import release_stale_held
from integration.wiring import context_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--digest", action="store_true", help="compose and send the digest now as well")
    p.add_argument("--retry-failed", action="store_true",
                   help="retry emails the mail server refused for good (after fixing the address or relay)")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def run(args) -> int:
    from integration.__main__ import print_json
    from integration.alerts import deliver_due, retry_failed, run_digest, run_escalation

    ctx = context_from_args(args)
    mailer = ctx.mailer()  # a bad transport config fails here (exit 2), before anything changes
    now = datetime.now(UTC)
    with ctx.store.session() as s:
        if args.retry_failed:
            retried = retry_failed(s, now)
            print(f"{retried} refused email(s) queued again", file=sys.stderr)
        run_escalation(s, ctx.settings, now)
    release_stale_held(ctx, now)
    with ctx.store.session() as s:
        if args.digest:
            run_digest(s, ctx.settings, now, force=True)
    result = deliver_due(ctx, now, mailer=mailer, retry_waiting=True)  # the operator wants it now
    if args.json:
        print_json(result.as_json())
    else:
        cancelled = f", cancelled {result.cancelled} (recipient left)" if result.cancelled else ""
        print(f"sent {result.sent}, failed {result.failed}, queued {result.queued}, "
              f"waiting for the digest {result.pending_digest}{cancelled}")
    if result.refused is not None:
        exc = result.refused
        print(f"error: {exc}" + (f"\n  fix: {exc.fix}" if exc.fix else ""), file=sys.stderr)
        return 3
    return 0
