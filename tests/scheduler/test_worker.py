"""The worker process: persistent cron jobs, requested jobs picked up within seconds, SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import inspect, select

from integration import jobs
from integration.scheduler import Worker, run_name
from integration.store.models_alerts import JobRequest
from integration.store.models_ops import Run

ROOT = Path(__file__).resolve().parents[2]


def _wait(predicate, seconds=8.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_worker_persists_its_schedule_and_runs_requested_jobs_within_seconds(store, ctx, monkeypatch):
    ran = []
    monkeypatch.setitem(jobs.JOBS, "audit", lambda ctx, now: ran.append(now) or {"findings_new": 0})
    worker = Worker(ctx, poll_seconds=0.2, quiet=timedelta(seconds=0.3))
    worker.start()
    try:
        assert "apscheduler_jobs" in inspect(store.engine).get_table_names()
        ids = {j.id for j in worker.scheduler.get_jobs(jobstore="default")}
        assert ids == set(jobs.JOBS)
        with store.session() as s:  # a burst of webhook notifications
            for _ in range(5):
                jobs.request_job(s, "audit", "drive change")
        assert _wait(lambda: len(ran) == 1)
        time.sleep(0.6)
        assert len(ran) == 1  # debounced: five requests, one run
        with store.session() as s:
            assert s.scalar(select(JobRequest).where(JobRequest.picked_at.is_(None))) is None
            assert {r.job for r in s.scalars(select(Run))} >= {run_name("audit"), run_name("alerts"),
                                                                 run_name("digest")}
    finally:
        worker.stop()


def test_a_restarted_worker_keeps_the_stored_schedule(store, ctx):
    first = Worker(ctx, poll_seconds=5)
    first.start()
    digest_next = first.scheduler.get_job("digest").next_run_time
    first.stop()
    second = Worker(ctx, poll_seconds=5)
    second.start()
    try:
        assert second.scheduler.get_job("digest").next_run_time == digest_next
    finally:
        second.stop()


def test_sigterm_stops_the_worker_process_gracefully(tmp_path, database_url):
    key = tmp_path / "k.key"
    cfg = tmp_path / "sc.toml"
    cfg.write_text(f'[school]\ndomain = "northfield.sch.uk"\n[privacy]\nencryption_key_file = "{key}"\n'
                   f'[database]\nurl = "{database_url}"\n[alerts]\ntransport = "outbox"\n'
                   f'outbox_dir = "{tmp_path / "outbox"}"\nfrom_address = "alerts@northfield.sch.uk"\n')
    code = ("import faulthandler, signal; faulthandler.register(signal.SIGUSR1); import sys, integration.__main__ as m; m.COMMANDS = {'worker': m.COMMANDS['worker']}; "
            f"sys.exit(m.main(['--config', {str(cfg)!r}, 'worker']))")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)  # never let the pipe fill
    reader.start()
    try:
        assert _wait(lambda: any("worker.started" in ln for ln in lines), 30), "".join(lines)
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGUSR1)  # faulthandler: dump every thread's stack
            time.sleep(1)
            proc.kill()
            reader.join(5)
            raise AssertionError("".join(lines)) from None
        reader.join(5)
        assert code == 0, "".join(lines)
        assert any("worker.stopped" in ln for ln in lines)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_failed_job_is_retried_by_the_worker_after_a_short_backoff(store, ctx, monkeypatch):
    from datetime import UTC, datetime

    calls = []

    def flaky(ctx, now):
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("directory unreachable")
        return {}

    monkeypatch.setitem(jobs.JOBS, "roster_sync", flaky)
    worker = Worker(ctx)
    try:
        assert worker.run("roster_sync").status == "failed"
        retry_at = worker._retry_at["roster_sync"]
        assert 50 <= (retry_at - datetime.now(UTC)).total_seconds() <= 61  # 1 minute, then 2, 4 … 15
        worker.tick()
        assert len(calls) == 1  # not yet
        worker._retry_at["roster_sync"] = datetime.now(UTC)  # a minute later
        worker.tick()
        assert _wait(lambda: len(calls) == 2)
        assert _wait(lambda: "roster_sync" not in worker._retry_at)
    finally:
        worker.stop()
    with store.session() as s:
        assert [r.status for r in s.scalars(select(Run).order_by(Run.id))] == ["failed", "ok"]
