"""Queue mode's bookkeeping in the database: heartbeat roles for /readyz, dead queue workers' runs
found again (the process-level behaviour is in tests/faults/test_queue.py)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from integration.scheduler import (
    HOST,
    NO_QUEUE_WORKER,
    NO_WORKER,
    QUEUE_ROLE,
    SCHEDULER_ROLE,
    acquire,
    beat,
    forget_dead_workers,
    heartbeat_problem,
    interrupted_kinds,
    run_name,
)
from integration.store.models_alerts import JobLock
from integration.store.models_ops import Run
from integration.store.models_worker import WorkerHeartbeat

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _problem(store, at: datetime) -> str:
    with store.session() as s:
        return heartbeat_problem(s, at)


def test_an_enqueuing_worker_is_ready_only_while_a_queue_worker_beats(store):
    beat(store, f"{QUEUE_ROLE}{HOST}:2", NOW, NOW)
    assert _problem(store, NOW) == NO_WORKER  # queue workers alone: nothing schedules the jobs
    beat(store, f"{SCHEDULER_ROLE}{HOST}:1", NOW, NOW + timedelta(seconds=40))
    assert _problem(store, NOW + timedelta(seconds=41)) == (
        "no queue worker running jobs: the last queue worker's heartbeat was 41 s ago")
    beat(store, f"{QUEUE_ROLE}{HOST}:3", NOW, NOW + timedelta(seconds=40))  # a second one, fresh
    assert _problem(store, NOW + timedelta(seconds=41)) == ""
    assert _problem(store, NOW + timedelta(seconds=70)) == "worker not scheduling jobs: its last heartbeat was 30 s ago"


def test_an_enqueuing_worker_without_any_queue_worker_says_so(store):
    beat(store, f"{SCHEDULER_ROLE}{HOST}:1", NOW, NOW)
    assert _problem(store, NOW) == NO_QUEUE_WORKER


def test_the_one_process_worker_needs_no_queue_worker(store):
    beat(store, f"{QUEUE_ROLE}{HOST}:2", NOW, NOW - timedelta(hours=1))  # left from an old queue setup
    beat(store, f"{HOST}:1", NOW, NOW)
    assert _problem(store, NOW) == ""


def test_a_killed_queue_workers_heartbeat_is_forgotten_with_its_host_and_pid(store):
    dead = _dead_pid()
    beat(store, f"{QUEUE_ROLE}{HOST}:{dead}", NOW, NOW)
    with store.session() as s:
        row = s.get(WorkerHeartbeat, f"{QUEUE_ROLE}{HOST}:{dead}")
        assert (row.host, row.pid) == (HOST, dead)
    forget_dead_workers(store)
    with store.session() as s:
        assert s.scalar(select(WorkerHeartbeat)) is None


def test_a_run_whose_queue_worker_died_is_closed_and_its_kind_named_once(store):
    """What the enqueuing worker's tick enqueues again at once (not after the visibility timeout)."""
    dead = f"{HOST}:{_dead_pid()}:abc123"
    live_elsewhere = "other-host:4242:def456"  # another machine: wait for its lease to run out
    assert acquire(store, "audit", dead, NOW) is not None
    assert acquire(store, "alerts", live_elsewhere, NOW) is not None
    assert interrupted_kinds(store, NOW + timedelta(seconds=5)) == ["audit"]
    assert interrupted_kinds(store, NOW + timedelta(seconds=6)) == []  # closed once
    with store.session() as s:
        audit = s.scalar(select(Run).where(Run.job == run_name("audit")))
        assert audit.status == "failed" and audit.error.startswith("interrupted: the worker (process")
        assert s.get(JobLock, "audit").owner == "" and s.get(JobLock, "alerts").owner == live_elsewhere
    assert interrupted_kinds(store, NOW + timedelta(minutes=6)) == ["alerts"]  # its lease ran out
