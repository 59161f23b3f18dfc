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
from integration.scheduler import NO_WORKER, STALE_AFTER
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
    assert readiness(store) == (False, NO_WORKER)  # before any worker: nothing would be scheduled
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
    with store.session() as s:  # stopped gracefully: its heartbeat goes, /readyz says no worker runs
        assert s.scalar(select(WorkerHeartbeat)) is None
    assert readiness(store) == (False, NO_WORKER)


def _has_heartbeat(store) -> bool:
    with store.session() as s:
        return s.scalar(select(WorkerHeartbeat.worker)) is not None


def _not_ready(store):
    ok, reason = readiness(store)
    return (ok, reason) if not ok else None


def test_a_worker_that_cannot_schedule_jobs_exits_so_it_is_restarted(service, database_url):
    """The stall exit: a database that takes nothing (here: tables locked by another connection) for
    `[schedule] stall_exit_seconds` makes the worker exit 1 at once — not hang on its stuck threads —
    so its supervisor restarts it; the heartbeat it could not remove turns /readyz red."""
    _outbox_service(service).set("schedule", stall_exit_seconds=6)
    store = service.store()
    worker = service.start("worker")
    try:
        wait_for(lambda: _has_heartbeat(store), 60, "the worker's first heartbeat")
        with _database_held(database_url):
            held = time.monotonic()
            code = worker.proc.wait(60)
            waited = time.monotonic() - held
    finally:
        worker.stop()
    assert code == 1, worker.text()
    assert "error: worker: no job could be scheduled for " in worker.text()
    assert 6 <= waited < 40, waited  # the stall time, plus a tick, plus process exit on a busy machine
    assert _has_heartbeat(store)  # left to go stale: heartbeat_problem reports it (tests/scheduler)


class _database_held:  # noqa: N801 - used as a `with` statement
    """Another connection holding what the worker's tick writes: the whole SQLite file, or the
    PostgreSQL tables (the tick then waits on the lock, as on a database that does not answer)."""

    def __init__(self, url: str):
        self.url = url

    def __enter__(self):
        if self.url.startswith("sqlite"):
            self.conn = sqlite3.connect(self.url[len("sqlite:///"):], timeout=30, isolation_level=None)
            self.conn.execute("BEGIN EXCLUSIVE")
            return self
        from sqlalchemy import create_engine

        self.engine = create_engine(self.url)
        self.conn = self.engine.connect()
        self.tx = self.conn.begin()
        self.conn.execute(text("LOCK TABLE worker_heartbeats, job_requests IN ACCESS EXCLUSIVE MODE"))
        return self

    def __exit__(self, *exc):
        if self.url.startswith("sqlite"):
            self.conn.execute("ROLLBACK")
            self.conn.close()
            return
        self.tx.rollback()
        self.conn.close()
        self.engine.dispose()
