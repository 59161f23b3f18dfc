"""Job runs: leases, the runs table, failures retried, interrupted runs resumed, requests debounced."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from integration import jobs
from integration.errors import ConfigError
from integration.scheduler import (
    SAME_TICK,
    acquire,
    cron_specs,
    recover_interrupted,
    retry_delay,
    run_job,
    run_name,
)
from integration.store.models_alerts import JobLock, JobRequest
from integration.store.models_ops import Run

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _runs(store, kind):
    with store.session() as s:
        return list(s.scalars(select(Run).where(Run.job == run_name(kind)).order_by(Run.id)))


def test_a_failing_job_is_recorded_with_its_error_and_runs_again(store, ctx, monkeypatch):
    calls = []

    def flaky(ctx, now):
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("Reports API unreachable")
        return {"findings_new": 2}

    monkeypatch.setitem(jobs.JOBS, "audit", flaky)
    first = run_job(ctx, "audit", now=NOW)
    assert (first.status, first.failures) == ("failed", 1)
    assert retry_delay(first.failures) == 60
    second = run_job(ctx, "audit", now=NOW + timedelta(minutes=1))
    assert (second.status, second.failures) == ("ok", 0)
    failed, ok = _runs(store, "audit")
    assert failed.status == "failed" and "Reports API unreachable" in failed.error and failed.finished_at == NOW
    assert ok.status == "ok" and ok.summary == {"findings_new": 2}
    with store.session() as s:
        lock = s.get(JobLock, "audit")
        assert lock.lease_until is None and lock.last_status == "ok" and lock.failures == 0


def test_a_missing_module_fails_that_job_visibly_not_the_worker(store, ctx, monkeypatch):
    monkeypatch.setitem(jobs.JOBS, "watch_renewal",
                        lambda ctx, now: jobs._call("integration.no_such_feature", "renew_all", ctx))
    out = run_job(ctx, "watch_renewal", now=NOW)
    assert out.status == "failed" and out.exit_code == 2
    assert "integration.no_such_feature.renew_all" in _runs(store, "watch_renewal")[0].error


def test_partial_results_are_recorded_as_partial(store, ctx, monkeypatch):
    monkeypatch.setitem(jobs.JOBS, "roster_sync", lambda ctx, now: {"staff": 3, "errors": {"classroom": "down"}})
    assert run_job(ctx, "roster_sync", now=NOW).status == "partial"


def test_the_lease_prevents_two_concurrent_runs_of_a_kind(store, ctx, monkeypatch):
    started, release = threading.Event(), threading.Event()

    def slow(ctx, now):
        started.set()
        assert release.wait(10)
        return {}

    monkeypatch.setitem(jobs.JOBS, "audit", slow)
    outcomes = []
    t = threading.Thread(target=lambda: outcomes.append(run_job(ctx, "audit")))
    t.start()
    assert started.wait(10)
    assert run_job(ctx, "audit").status == "skipped"  # e.g. a second worker process at the same moment
    release.set()
    t.join(10)
    assert outcomes[0].status == "ok"
    assert run_job(ctx, "audit").status == "ok"  # free again afterwards


def test_a_second_worker_firing_the_same_cron_tick_skips_it(store, ctx, monkeypatch):
    monkeypatch.setitem(jobs.JOBS, "alerts", lambda ctx, now: {})
    assert run_job(ctx, "alerts", now=NOW, min_gap=SAME_TICK).status == "ok"
    assert run_job(ctx, "alerts", now=NOW + timedelta(seconds=2), min_gap=SAME_TICK).status == "skipped"
    assert run_job(ctx, "alerts", now=NOW + timedelta(minutes=2), min_gap=SAME_TICK).status == "ok"


def test_a_worker_killed_mid_job_is_resumed_after_restart(store, ctx, monkeypatch):
    monkeypatch.setitem(jobs.JOBS, "audit", lambda ctx, now: {"resumed": True})
    killed_at = NOW - timedelta(minutes=30)
    assert acquire(store, "audit", "dead-worker", killed_at) is not None  # ... then SIGKILL: no finish
    (orphan,) = _runs(store, "audit")
    assert orphan.status == "running"

    assert run_job(ctx, "audit", now=killed_at + timedelta(minutes=1)).status == "skipped"  # lease still live
    out = run_job(ctx, "audit", now=NOW)  # lease expired: take over
    assert out.status == "ok"
    orphan, rerun = _runs(store, "audit")
    assert orphan.status == "failed" and orphan.error.startswith("interrupted")
    assert rerun.status == "ok" and rerun.summary == {"resumed": True}


def test_worker_start_closes_runs_left_running_by_a_dead_worker(store, ctx):
    acquire(store, "digest", "dead-worker", NOW - timedelta(hours=1))
    assert recover_interrupted(store, NOW) == 1
    assert _runs(store, "digest")[0].status == "failed"
    assert recover_interrupted(store, NOW) == 0


def test_requests_are_debounced_into_one_run(store):
    with store.session() as s:
        for i in range(10):
            jobs.request_job(s, "audit", "drive change notification", now=NOW + timedelta(seconds=i / 10))
        assert jobs.request_job(s, "roster_sync", "users.watch", debounce_key="dir", now=NOW) is True
        assert jobs.request_job(s, "roster_sync", "users.watch", debounce_key="dir", now=NOW) is False
        with pytest.raises(ValueError):
            jobs.request_job(s, "nonsense", "x")
    with store.session() as s:
        assert jobs.ready_requests(s, NOW + timedelta(seconds=2)) == []  # still arriving: wait
        ready = dict(jobs.ready_requests(s, NOW + timedelta(seconds=5)))
        assert set(ready) == {"audit", "roster_sync"}
        assert jobs.mark_picked(s, "audit", ready["audit"], NOW + timedelta(seconds=5)) == 10
        jobs.request_job(s, "audit", "arrived during the run", now=NOW + timedelta(seconds=6))
    with store.session() as s:
        assert [k for k, _ in jobs.ready_requests(s, NOW + timedelta(seconds=10))] == ["audit", "roster_sync"]
        assert s.scalar(select(JobRequest).where(JobRequest.picked_at.is_(None), JobRequest.kind == "audit")).reason \
            == "arrived during the run"


def test_a_steady_stream_of_requests_still_runs_after_max_wait(store):
    with store.session() as s:
        for i in range(40):
            jobs.request_job(s, "audit", "busy", now=NOW + timedelta(seconds=i))
    with store.session() as s:
        assert jobs.ready_requests(s, NOW + timedelta(seconds=39.5)) != []


def test_schedule_is_validated(ctx):
    specs = cron_specs(ctx.settings)
    assert set(specs) == set(jobs.JOBS)
    ctx.settings.schedule.audit = "every 15 minutes"
    with pytest.raises(ConfigError) as err:
        cron_specs(ctx.settings)
    assert "[schedule] audit" in str(err.value)


def test_alert_jobs_deliver_and_retention_purges(store, ctx):
    assert run_job(ctx, "alerts", now=NOW).status == "ok"
    assert run_job(ctx, "digest", now=NOW).status == "ok"
    assert run_job(ctx, "escalation", now=NOW).status == "ok"
    out = run_job(ctx, "retention_purge", now=NOW)
    assert out.status == "ok", out.error
    assert out.summary["outbox_purged"] == 0
