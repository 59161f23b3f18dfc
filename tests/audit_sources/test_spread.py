"""Queue mode's coordinator (integration/audit_spread.run_spread) in one process: lanes enqueued to a
stand-in queue whose "worker" runs them on its own thread, through the real lane task's code
(`work_lane`: its own claim, rule context and run state). The run stores what the one-process run
stores and reports the same result; a lane the worker never picks up is run by the coordinator."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import func, select
from test_overlap import stored

from integration import audit_spread
from integration.audit import run_audit
from integration.store.models_ops import AuditLane


class ThreadQueue:
    """A queue whose worker takes every ``take``-th lane (none when 0), each on a thread of its own."""

    def __init__(self, ctx, take: int = 1):
        self.ctx, self.take = ctx, take
        self.threads: list[threading.Thread] = []
        self.outcomes: list[str] = []

    def enqueue_lane(self, run_id, lane, streams, *, full, now) -> None:
        if not self.take or lane % self.take:
            return
        t = threading.Thread(target=lambda: self.outcomes.append(
            audit_spread.work_lane(self.ctx, run_id, lane, full=full, now=now)))
        t.start()
        self.threads.append(t)


def _lanes(env):
    """The lane rows of the newest spread run."""
    with env.ctx.store.session() as s:
        last = s.scalar(select(func.max(AuditLane.run_id)))
    return audit_spread.lane_rows(env.ctx.store, last)


def test_spread_lanes_store_what_the_one_process_run_stores(school, other_database):
    now = datetime.now(UTC)
    serial = school("tiny", 5, database=other_database)
    one = run_audit(serial.ctx, now=now)
    reference = stored(serial)
    side = school("tiny", 5)
    queue = ThreadQueue(side.ctx, take=2)
    side.ctx.lane_queue = queue
    many = run_audit(side.ctx, now=now)
    for t in queue.threads:
        t.join(30)
    assert many.errors == [] and many.not_evaluated == one.not_evaluated == {}
    assert (many.findings_new, many.findings_updated, many.events_read, many.skipped) == \
        (one.findings_new, one.findings_updated, one.events_read, one.skipped)
    assert set(many.timings) == set(one.timings)
    assert stored(side) == reference
    rows = _lanes(side)
    assert rows and {r.status for r in rows} == {"done"} and all(r.attempts == 1 for r in rows)
    theirs = queue.outcomes.count("done")  # each lane task claims under a holder of its own
    assert theirs >= 1 and len({r.holder for r in rows}) == theirs + 1  # + the coordinator's one


def test_a_lane_no_worker_takes_is_run_by_the_coordinator(school):
    env = school("tiny", 6)
    env.ctx.lane_queue = ThreadQueue(env.ctx, take=0)
    result = run_audit(env.ctx)
    assert result.errors == [] and result.findings_new > 0
    rows = _lanes(env)
    assert {r.status for r in rows} == {"done"} and len({r.holder for r in rows}) == 1
