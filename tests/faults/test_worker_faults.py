"""The `worker` process under database faults and kills (real processes; faults from outside)."""

from __future__ import annotations

import pickle
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest
from faults_env import wait_for
from sqlalchemy import select, text

from integration.jobs import request_job
from integration.scheduler import STALE_AFTER
from integration.store.models_ops import Run
from integration.store.models_worker import WorkerHeartbeat
from integration.web.queries import readiness

pytestmark = pytest.mark.faults
YEARLY = "0 3 1 1 *"  # nothing fires by itself during a test
QUIET = {k: YEARLY for k in ("roster_sync", "audit", "acknowledgement", "alerts", "watch_renewal", "retention_purge")}


def _outbox_service(service):
    return service.set("alerts", transport="outbox", outbox_dir=str(service.directory / "outbox"),
                       from_address="alerts@northfield.sch.uk", dsl_emails=["dsl@northfield.sch.uk"]
                       ).set("schedule", **QUIET)


def _runs(store, job: str, since: datetime) -> list[Run]:
    with store.session() as s:
        return [r for r in s.scalars(select(Run).where(Run.job == job).order_by(Run.id))
                if r.started_at.replace(tzinfo=r.started_at.tzinfo or UTC) >= since]


def _fire_soon(store, job_id: str, seconds: float) -> None:
    """Bring a stored cron job's next fire time forward (APScheduler keeps it in the job's pickled
    state and in a column), so the test need not wait for a minute boundary."""
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    with store.engine.begin() as conn:
        state = pickle.loads(conn.execute(text("SELECT job_state FROM apscheduler_jobs WHERE id = :i"),
                                          {"i": job_id}).scalar_one())
        state["next_run_time"] = at.astimezone(state["next_run_time"].tzinfo)
        conn.execute(text("UPDATE apscheduler_jobs SET next_run_time = :t, job_state = :s WHERE id = :i"),
                     {"t": at.timestamp(), "s": pickle.dumps(state, pickle.HIGHEST_PROTOCOL), "i": job_id})


def test_a_database_locked_past_the_busy_timeout_is_ridden_out(service, database_url):
    """Defect 1: a cron job firing while the SQLite file was locked for more than 30 s ended
    APScheduler's thread; the process stayed up, ran nothing again, and /readyz said ok."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite file locking (PostgreSQL restarts: test_process_faults.py)")
    _outbox_service(service)
    store = service.store()
    worker = service.start("worker")
    try:
        wait_for(lambda: _has_heartbeat(store), 60, "the worker's first heartbeat")
        assert readiness(store) == (True, "ok")
        _fire_soon(store, "alerts", 4)
        lock = sqlite3.connect(database_url[len("sqlite:///"):], timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # another process holds the database ...
        locked_at, locked = time.monotonic(), datetime.now(UTC)
        # ... the alerts job fires meanwhile; storing its next run time waits 30 s and fails
        ok, reason = wait_for(lambda: _not_ready(store), STALE_AFTER.total_seconds() + 15, "/readyz to fail")
        assert "worker not scheduling jobs" in reason
        time.sleep(max(0.0, 40 - (time.monotonic() - locked_at)))
        lock.execute("ROLLBACK")
        lock.close()
        released = datetime.now(UTC)
        assert worker.proc.poll() is None, worker.text()
        wait_for(lambda: any(r.status == "ok" for r in _runs(store, "worker.alerts", locked)), 60,
                 "the alerts job that fired during the lock to run")
        with store.session() as s:  # requested jobs are picked up again too
            request_job(s, "retention_purge", "fault suite")
        wait_for(lambda: _runs(store, "worker.retention_purge", released), 30, "a requested job to run")
        wait_for(lambda: readiness(store) == (True, "ok"), 30, "/readyz to recover")
    finally:
        code = worker.stop()
    assert code == 0, worker.text()
    with store.session() as s:  # stopped gracefully: /readyz no longer expects its heartbeat
        assert s.scalar(select(WorkerHeartbeat)) is None


def _has_heartbeat(store) -> bool:
    with store.session() as s:
        return s.scalar(select(WorkerHeartbeat.worker)) is not None


def _not_ready(store):
    ok, reason = readiness(store)
    return (ok, reason) if not ok else None
