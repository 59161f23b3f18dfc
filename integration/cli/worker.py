"""`worker`: the scheduler process (one per installation; never inside web workers).

Runs every job on its `[schedule]`, the digest at `[alerts] digest_time`, escalation every few
minutes, and jobs requested by webhooks. SIGTERM/SIGINT stop it gracefully: no new runs,
running jobs finish. It rides out a locked or restarting database; if no job could be scheduled
for `[schedule] stall_exit_seconds` (2 minutes) it exits 1 at once, so the platform restarts it. `--run JOB` runs one job now (same lease and `runs` record) and exits.

With `[queue] broker_url` set it runs no job itself: it puts each due job on the queue for the
`queue-worker` processes, and re-enqueues a run whose queue worker died. A broker that does not
answer at start is exit 3, one line naming host:port.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from integration.jobs import JOBS
from integration.wiring import context_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", choices=sorted(JOBS), metavar="JOB",
                   help=f"run one job now and exit ({', '.join(sorted(JOBS))})")


def run(args) -> int:
    from integration.scheduler import Worker, run_job

    ctx = context_from_args(args)
    if args.run:
        outcome = run_job(ctx, args.run)
        print(f"{outcome.kind}: {outcome.status}" + (f" — {outcome.error}" if outcome.error else ""),
              file=sys.stderr)
        if outcome.status == "skipped":
            return 1
        return outcome.exit_code if outcome.status == "failed" else 0
    stop = threading.Event()

    def _signal(signum, _frame) -> None:
        print(f"worker: signal {signum}, stopping after running jobs finish", file=sys.stderr)
        stop.set()

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    dispatcher = None
    if ctx.settings.queue.broker_url:
        from integration.taskqueue import Dispatcher, check_broker

        check_broker(ctx.settings)
        dispatcher = Dispatcher(ctx.settings)
    worker = Worker(ctx, dispatcher=dispatcher)
    worker.start()
    stalled = ""
    try:
        while not stop.wait(1.0):
            stalled = worker.stalled()
            if stalled:
                break
    finally:
        worker.stop(wait=not stalled)
    if stalled:  # exit non-zero so the platform (systemd, a container runtime) restarts the worker
        print(f"error: worker: {stalled}; exiting so it can be restarted", file=sys.stderr)
        _exit_now(1)
    return 0


def _exit_now(code: int) -> None:
    """Exit without joining threads: a job or tick thread stuck on the database (a lock held, a server
    that does not answer) would otherwise keep a stalled worker alive, and it would never be restarted."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
