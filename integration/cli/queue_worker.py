"""`queue-worker`: runs the jobs the `worker` puts on the queue (`[queue] broker_url` set).

Start as many as the trust needs, on one machine or several: each takes one job at a time per
`--concurrency` thread, under the same leases and `runs` records as the one-process worker, so a
job kind never runs twice at once. SIGTERM/SIGINT: no new jobs, running ones finish. SIGKILL:
the scheduler sees the dead run and enqueues it again. Broker unreachable: exit 3, one line.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from integration.errors import ConfigError
from integration.wiring import context_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--concurrency", type=int, default=1, metavar="N",
                   help="jobs this process runs at once (threads; default 1). Run more processes for more")


def run(args) -> int:
    from integration.holders import HOST
    from integration.scheduler import HEARTBEAT_EVERY, forget_dead_workers
    from integration.taskqueue import QueueHeartbeat, bind_context, check_broker, make_app

    if args.concurrency < 1:
        raise ConfigError(f"--concurrency must be 1 or more, got {args.concurrency}")
    ctx = context_from_args(args)
    if not ctx.settings.queue.broker_url:
        raise ConfigError("queue-worker needs [queue] broker_url (e.g. redis://127.0.0.1:6379/0); "
                          "without it `python -m integration worker` runs every job itself")
    check_broker(ctx.settings)
    app = make_app(ctx.settings)
    bind_context(ctx, app)  # its audits spread their lanes over the queue workers
    forget_dead_workers(ctx.store)
    heartbeat = QueueHeartbeat(ctx.store, HEARTBEAT_EVERY).start()
    print(f"queue-worker: {HOST}:{os.getpid()} taking jobs from {app.conf.task_default_queue!r} "
          f"({args.concurrency} at a time)", file=sys.stderr)
    try:
        worker = app.Worker(pool="threads", concurrency=args.concurrency, hostname=f"safechannels-{os.getpid()}@{HOST}",
                            loglevel=logging.getLevelName(logging.getLogger("safechannels").getEffectiveLevel()),
                            quiet=True, without_heartbeat=True, without_mingle=True, without_gossip=True,
                            optimization="fair")
        worker.start()
        code = int(worker.exitcode or 0)
    finally:
        heartbeat.stop()
        app.close()
    print(f"queue-worker: stopped ({code})", file=sys.stderr)
    return code
