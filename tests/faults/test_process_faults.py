"""Processes killed, doubled, a flaky API and a restarted PostgreSQL, against a sandbox process.

Each ends with every finding once (the same findings as a clean run) and every alert delivered
once to a real SMTP relay (one Message-ID per outbox row; a send interrupted by SIGKILL between
the relay's "250" and the row being marked sent may repeat that one Message-ID, which is the
documented at-least-once edge).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections import Counter

import pytest
from faults_env import SandboxProcess, Service, wait_for
from sqlalchemy import func, select

from integration.store.models_alerts import OutboxEmail
from integration.store.models_audit import Finding
from integration.store.models_ops import Run

pytestmark = pytest.mark.faults
PG = os.environ.get("SAFECHANNELS_TEST_DATABASE_URL", "")
YEARLY = "0 3 1 1 *"
QUIET = {k: YEARLY for k in ("roster_sync", "audit", "acknowledgement", "alerts", "watch_renewal", "retention_purge")}


def _findings(store) -> Counter:
    with store.session() as s:
        return Counter((f.rule, f.staff, f.pupil or "") for f in s.scalars(select(Finding)))


def _smtp(service, relay) -> Service:
    return service.set("alerts", transport="smtp", smtp_url=relay.url).set("schedule", **QUIET)


@pytest.fixture(scope="module")
def clean(sandbox, tmp_path_factory):
    """The findings of an undisturbed sync + audit of the module's sandbox (on a scratch SQLite file)."""
    tmp = tmp_path_factory.mktemp("clean")
    svc = Service.for_sandbox(sandbox, tmp, f"sqlite:///{tmp / 'clean.db'}")
    assert svc.run("sync", "--json").code == 0
    audit = svc.run("audit", "--json")
    assert audit.code == 0, audit.err
    found = _findings(svc.store())
    svc.close()
    assert found
    return found


def _delivered_once(service, relay) -> None:
    with service.store().session() as s:
        rows = list(s.scalars(select(OutboxEmail).where(OutboxEmail.status != "cancelled")))
    assert rows and all(r.status == "sent" for r in rows), Counter(r.status for r in rows)
    got = Counter(relay.log.message_ids())
    assert set(got) == {r.message_id for r in rows}
    assert sum(n - 1 for n in got.values()) <= 1, got.most_common(3)


def test_a_killed_worker_run_audit_does_not_block_the_next_one(sandboxed, relay, clean):
    """Defect 13: a SIGKILLed `worker --run audit` left a lease blocking the next run for 5 minutes
    and a `runs` row stuck at `running`."""
    _smtp(sandboxed, relay)
    store = sandboxed.store()
    assert sandboxed.run("sync", "--json").code == 0
    first = sandboxed.start("worker", "--run", "audit")
    wait_for(lambda: _running(store, "worker.audit"), 60, "the audit run to start")
    first.kill()
    second = sandboxed.run("worker", "--run", "audit")
    assert second.code == 0, second.err
    with store.session() as s:
        runs = list(s.scalars(select(Run).where(Run.job == "worker.audit").order_by(Run.id)))
    assert [r.status for r in runs] == ["failed", "ok"]
    assert f"(process {first.pid} on " in runs[0].error
    assert _findings(store) == clean
    assert sandboxed.run("alerts", "--json").code == 0
    _delivered_once(sandboxed, relay)


def test_a_worker_killed_mid_delivery_and_a_second_worker_deliver_everything_once(sandboxed, relay, clean):
    _smtp(sandboxed, relay).set("alerts", burst_threshold=1000)  # an email per finding: a run of many sends
    store = sandboxed.store()
    assert sandboxed.run("sync", "--json").code == 0
    assert sandboxed.run("audit", "--json").code == 0  # queues the alerts
    relay.log.delay = 0.3  # a slow relay: the kill lands mid-run
    first = sandboxed.start("worker")  # delivers at start (catch-up)
    wait_for(lambda: len(relay.log.messages) >= 2, 60, "the first alerts to arrive")
    first.kill()
    assert len(relay.log.messages) < _queued(store)  # really mid-run
    relay.log.delay = 0.0  # the rest need not be slow
    workers = [sandboxed.start("worker"), sandboxed.start("worker")]  # restarted, twice over
    try:
        wait_for(lambda: _unsent(store) == 0, 90, "every alert to be sent")
    finally:
        codes = [w.stop() for w in workers]
    assert codes == [0, 0], [w.text()[-2000:] for w in workers]
    assert _findings(store) == clean
    _delivered_once(sandboxed, relay)


def test_thirty_percent_api_faults_lose_nothing(tmp_path, database_url, relay, clean):
    """The same faults and retries as against Google, with the retries' waits cut from 1 s, 2 s … to
    50 ms, 100 ms … (`[google] retry_base_ms`): the waits were 90 % of this test's time."""
    flaky = SandboxProcess(tmp_path / "flaky", fault_rate=0.3)
    try:
        svc = _smtp(Service.for_sandbox(flaky, tmp_path / "svc", database_url), relay).set("google", retry_base_ms=50)
        assert svc.run("sync", "--json").code == 0
        for _ in range(3):  # a stream given up on after its retries is read again by the next run
            audit = svc.run("audit", "--json")
            if audit.code == 0 and "source error" not in audit.err:
                break
        assert audit.code == 0 and "source error" not in audit.err, audit.err[-2000:]
        assert _findings(svc.store()) == clean
        assert svc.run("alerts", "--json").code == 0
        _delivered_once(svc, relay)
        svc.close()
    finally:
        flaky.stop()


@pytest.mark.postgres
@pytest.mark.skipif(not PG or not shutil.which("pg_ctlcluster"), reason="needs PostgreSQL and pg_ctlcluster")
def test_postgresql_restarted_mid_audit(sandboxed, relay, clean):
    _smtp(sandboxed, relay)
    store = sandboxed.store()
    assert sandboxed.run("sync", "--json").code == 0
    audit = sandboxed.start("audit", "--json")
    wait_for(lambda: _running(store, "audit"), 60, "the audit to start")
    store.dispose()
    subprocess.run(["pg_ctlcluster", _pg_version(), "main", "restart"], check=True, timeout=60)
    audit.proc.wait(120)  # it may fail (exit non-zero), never hang
    for _ in range(3):
        again = sandboxed.run("audit", "--json")
        if again.code == 0:
            break
        time.sleep(1)
    assert again.code == 0, again.err[-2000:]
    assert _findings(store) == clean
    assert sandboxed.run("alerts", "--json").code == 0
    _delivered_once(sandboxed, relay)


def _pg_version() -> str:
    return sorted(os.listdir("/etc/postgresql"))[-1]


def _running(store, job: str) -> bool:
    try:
        with store.session() as s:
            return s.scalar(select(Run.id).where(Run.job == job, Run.status == "running")) is not None
    except Exception:  # noqa: BLE001 - the schema may not exist yet
        return False


def _queued(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(OutboxEmail)) or 0


def _unsent(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(OutboxEmail).where(
            OutboxEmail.status.in_(("pending", "failed")))) or 0

