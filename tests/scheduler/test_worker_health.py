"""The worker's health: leases of dead processes, and the heartbeat /readyz reads."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from integration import jobs
from integration.scheduler import (
    HOST,
    NO_WORKER,
    acquire,
    beat,
    heartbeat_problem,
    holder_gone,
    run_job,
    run_name,
)
from integration.store.models_ops import Run
from integration.web.queries import readiness

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: the pid names no process now
    return proc.pid


def test_a_lease_whose_process_is_gone_is_taken_over_at_once(store, ctx, monkeypatch):
    """Defect 13: a killed `worker --run audit` blocked the next run for 5 minutes (its lease)."""
    monkeypatch.setitem(jobs.JOBS, "audit", lambda ctx, now: {"resumed": True})
    pid = _dead_pid()
    owner = f"{HOST}:{pid}:abc123"
    assert holder_gone(owner)
    assert acquire(store, "audit", owner, NOW) is not None  # ... then SIGKILL: no finish
    out = run_job(ctx, "audit", now=NOW + timedelta(seconds=5))  # the lease has 5 minutes left
    assert out.status == "ok"
    with store.session() as s:
        orphan, rerun = s.scalars(select(Run).where(Run.job == run_name("audit")).order_by(Run.id))
    assert orphan.status == "failed" and f"process {pid} on {HOST}" in orphan.error
    assert rerun.status == "ok"


def test_a_lease_of_a_live_process_or_another_host_is_respected(store, ctx, monkeypatch):
    monkeypatch.setitem(jobs.JOBS, "audit", lambda ctx, now: {})
    assert not holder_gone(f"{HOST}:{os.getppid()}:x")  # alive
    assert not holder_gone(f"some-other-host:{_dead_pid()}:x")  # cannot tell: wait for the lease
    assert not holder_gone("0123456789abcdef")  # an owner without host and pid
    acquire(store, "audit", f"some-other-host:{_dead_pid()}:x", NOW)
    assert run_job(ctx, "audit", now=NOW + timedelta(minutes=1)).status == "skipped"


def test_readyz_fails_while_the_heartbeat_is_stale(store):
    assert readiness(store) == (False, NO_WORKER)  # no worker has run here: nothing would be scheduled
    beat(store, f"{HOST}:1", NOW, NOW)
    with store.session() as s:
        assert heartbeat_problem(s, NOW + timedelta(seconds=10)) == ""
        problem = heartbeat_problem(s, NOW + timedelta(seconds=45))
    assert problem == "worker not scheduling jobs: its last heartbeat was 45 s ago"
    ok, reason = readiness(store)  # the real clock: that beat is days old
    assert not ok and reason.startswith("worker not scheduling jobs")
    beat(store, f"{HOST}:1", NOW, datetime.now(UTC))
    assert readiness(store) == (True, "ok")
