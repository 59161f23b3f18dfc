"""The jobs on the Celery/Redis queue: one `worker` enqueuing, three `queue-worker` processes running
them, on PostgreSQL against a sandbox process, alerts to a real SMTP relay (real processes only).

The reference is the one-process run of the same jobs (`worker --run ...`) on the same sandbox: the
queue must give exactly its findings and its emails, each email once; a queue worker SIGKILLed mid-
audit and another mid-delivery loses nothing (the scheduler sees the dead holder and enqueues the
job again). A send cut by SIGKILL between the relay's "250" and the row being marked sent may repeat
that one Message-ID — the outbox's documented at-least-once edge — so only the delivery kill
allows one repeat.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from faults_env import Relay, Service, wait_for
from sqlalchemy import select

from integration.jobs import request_job
from integration.scheduler import NO_QUEUE_WORKER
from integration.store.models_alerts import JobLock, OutboxEmail
from integration.store.models_audit import Finding
from integration.store.models_ops import Run
from integration.tenancy_store import finding_schools
from integration.web.queries import readiness

pytestmark = [pytest.mark.faults, pytest.mark.postgres]
PG = os.environ.get("SAFECHANNELS_TEST_DATABASE_URL", "")
REDIS = "redis://127.0.0.1:6379/0"
YEARLY = "0 3 1 1 *"  # nothing fires by itself during a test: the test requests each job
QUIET = {k: YEARLY for k in ("roster_sync", "audit", "acknowledgement", "alerts", "watch_renewal", "retention_purge")}
# The tiny sandbox as a two-school trust in one domain (placement by deepest org unit): a Year 7
# pupil and a support-staff member are in one school, a Year 8 pupil and teachers in the other.
SCHOOLS = [{"id": "lower", "name": "Lower School", "org_units": ["/Pupils/Year 7", "/Staff/Support"]},
           {"id": "upper", "name": "Upper School", "org_units": ["/Pupils/Year 8", "/Staff/Teaching"]}]


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


if not PG or not _redis_up():
    pytest.skip("needs PostgreSQL (SAFECHANNELS_TEST_DATABASE_URL) and Redis at 127.0.0.1:6379",
                allow_module_level=True)


def _configure(svc: Service, relay: Relay) -> Service:
    """SMTP to the relay, one email per finding (a delivery long enough to kill mid-way), the trust."""
    domain = svc.data["school"]["domain"]
    svc.data["schools"] = [{**school, "dsl_emails": [f"dsl.{school['id']}@{domain}"]} for school in SCHOOLS]
    svc.data["trust"] = {"name": "Kingsmead Trust", "safeguarding_leads": list(svc.data["alerts"]["dsl_emails"])}
    return (svc.set("alerts", transport="smtp", smtp_url=relay.url, burst_threshold=1000)
            .set("schedule", **QUIET))


def _findings(store) -> Counter:
    with store.session() as s:
        return Counter((f.rule, f.staff, f.pupil or "", tuple(finding_schools(s, f.id)))
                       for f in s.scalars(select(Finding)))


def _emails(relay: Relay) -> Counter:
    """What was delivered, as (recipients, subject without the finding's ref: ids differ by run)."""
    return Counter((str(m["To"]), re.sub(r" — ref \S+", "", str(m["Subject"]))) for m in relay.log.messages)


@pytest.fixture(scope="module")
def reference(sandbox, tmp_path_factory):
    """The one-process run: `worker --run` roster_sync, audit, alerts (on a scratch SQLite file)."""
    relay = Relay().start()
    tmp = tmp_path_factory.mktemp("reference")
    svc = _configure(Service.for_sandbox(sandbox, tmp, f"sqlite:///{tmp / 'reference.db'}"), relay).write()
    try:
        for job in ("roster_sync", "audit", "alerts"):
            done = svc.run("worker", "--run", job)
            assert done.code == 0, done.err[-2000:]
        found, emails = _findings(svc.store()), _emails(relay)
        assert len(set(relay.log.message_ids())) == len(relay.log.messages)
    finally:
        svc.close()
        relay.stop()
    assert found and emails
    assert {schools for *_, schools in found} >= {("lower",), ("upper",)}  # the trust: findings of both schools
    return found, emails


class Queue:
    """One installation on the queue: a scheduler (`worker`) and three `queue-worker` processes."""

    def __init__(self, svc: Service, broker: str = REDIS, workers: int = 3):
        self.svc, self.broker = svc, broker
        self.name = f"test-{uuid.uuid4().hex[:10]}"  # its own queue and Redis key prefix
        svc.set("queue", broker_url=broker, queue_name=self.name)
        self.store = svc.store()
        self.workers = [svc.start("queue-worker") for _ in range(workers)]
        self.scheduler = svc.start("worker")
        wait_for(lambda: readiness(self.store) == (True, "ok"), 60, "the scheduler and queue workers to be ready")

    def request(self, kind: str) -> datetime:
        since = datetime.now(UTC)
        with self.store.session() as s:
            request_job(s, kind, "fault suite")
        return since

    def runs(self, kind: str, since: datetime) -> list[Run]:
        with self.store.session() as s:
            return [r for r in s.scalars(select(Run).where(Run.job == f"worker.{kind}").order_by(Run.id))
                    if r.started_at.replace(tzinfo=r.started_at.tzinfo or UTC) >= since]

    def finished(self, kind: str, since: datetime, seconds: float = 120) -> Run:
        return wait_for(lambda: next((r for r in self.runs(kind, since) if r.status in ("ok", "partial")), None),
                        seconds, f"a {kind} run to finish")

    def holder(self, kind: str):
        """The queue-worker process holding ``kind``'s lease (its pid is in ``job_locks.owner``)."""
        with self.store.session() as s:
            owner = s.scalar(select(JobLock.owner).where(JobLock.kind == kind)) or ""
        pid = owner.split(":")[1] if owner.count(":") >= 2 else ""
        return next((w for w in self.workers if str(w.pid) == pid), None)

    def unsent(self) -> int:
        with self.store.session() as s:
            return len(list(s.scalars(select(OutboxEmail.id).where(OutboxEmail.status.not_in(("sent", "cancelled"))))))

    def stop(self) -> list[int]:
        codes = [self.scheduler.stop()] + [w.stop() for w in self.workers if w.proc.poll() is None]
        self._forget_redis()
        return codes

    def _forget_redis(self) -> None:
        import redis

        client = redis.Redis.from_url(self.broker)
        keys = list(client.scan_iter(f"{self.name}:*"))
        if keys:
            client.delete(*keys)
        client.close()

    def logs(self) -> str:
        return "\n".join(w.text()[-3000:] for w in [self.scheduler, *self.workers])


def _sync_audit_deliver(q: Queue) -> None:
    q.finished("roster_sync", q.request("roster_sync"))
    q.finished("audit", q.request("audit"))  # the audit requests the alerts job as it finishes
    wait_for(lambda: q.unsent() == 0, 120, "every alert to be sent")


def test_three_queue_workers_give_the_one_process_findings_and_each_email_once(sandboxed, relay, reference):
    found, emails = reference
    q = Queue(_configure(sandboxed, relay))
    try:
        _sync_audit_deliver(q)
        assert _findings(q.store) == found
        assert _emails(relay) == emails
        assert len(set(relay.log.message_ids())) == len(relay.log.messages)  # each email once
        ran = [w.text() for w in q.workers]
        assert "worker.job_ok job=audit" in "".join(ran) and "worker.job_ok" not in q.scheduler.text()
    finally:
        codes = q.stop()
    assert codes == [0, 0, 0, 0], q.logs()
    assert readiness(q.store) == (False, "no worker running: no heartbeat yet (start `python -m integration worker`)")


def test_queue_workers_killed_mid_audit_and_mid_delivery_lose_nothing(sandboxed, relay, reference):
    found, emails = reference
    q = Queue(_configure(sandboxed, relay))
    try:
        q.finished("roster_sync", q.request("roster_sync"))
        relay.log.delay = 0.3  # a slow relay: the delivery kill lands mid-run
        since = q.request("audit")
        victim = wait_for(lambda: q.holder("audit"), 60, "a queue worker to take the audit")
        victim.kill()  # SIGKILL mid-audit
        killed = wait_for(lambda: next((r for r in q.runs("audit", since) if r.status == "failed"), None), 30,
                          "the killed audit run to be closed")
        assert "interrupted" in killed.error and str(victim.pid) in killed.error
        q.finished("audit", since)  # enqueued again by the scheduler, run by another queue worker
        carrier = wait_for(lambda: len(relay.log.messages) >= 2 and q.holder("alerts"), 60,
                           "the alerts to start arriving")
        carrier.kill()  # SIGKILL mid-delivery
        assert q.unsent() > 0  # really mid-run
        relay.log.delay = 0.0
        wait_for(lambda: q.unsent() == 0, 120, "every alert to be sent")
        assert _findings(q.store) == found
        got = Counter(relay.log.message_ids())
        assert sum(n - 1 for n in got.values()) <= 1, got.most_common(3)  # the one send cut by the kill
        assert set(_emails(relay)) == set(emails) and len(got) == sum(emails.values())
        assert readiness(q.store) == (True, "ok")  # one queue worker is left running the jobs
    finally:
        codes = q.stop()
    assert codes == [0, 0], q.logs()


class PrivateRedis:
    """A Redis server of the test's own (append-only file on, as the README advises), so it can be
    stopped and started again on the same port without touching the shared one."""

    def __init__(self, directory):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.directory = directory
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = None

    def start(self) -> PrivateRedis:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", str(self.directory), "--appendonly", "yes", "--save", ""],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._answers, 20, "the private Redis to answer")
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: Redis writes its append-only file and exits
            self.proc.wait(20)


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server to run a private Redis")
def test_a_broker_restarted_mid_run_loses_nothing(sandboxed, relay, reference, tmp_path):
    """Redis stops while jobs are requested and while the queue workers wait on it; once it is back
    the scheduler's enqueue goes through, the workers reconnect, and the results are the reference's."""
    found, emails = reference
    broker = PrivateRedis(tmp_path).start()
    try:
        q = Queue(_configure(sandboxed, relay), broker=broker.url, workers=2)
        try:
            q.finished("roster_sync", q.request("roster_sync"))
            broker.stop()
            since = q.request("audit")  # requested while nothing answers at the broker
            time.sleep(8)  # several scheduler ticks fail to enqueue it
            assert not q.runs("audit", since)
            broker.start()
            q.finished("audit", since, 180)
            wait_for(lambda: q.unsent() == 0, 120, "every alert to be sent")
            assert _findings(q.store) == found
            assert _emails(relay) == emails
            assert len(set(relay.log.message_ids())) == len(relay.log.messages)
            assert all(p.proc.poll() is None for p in [q.scheduler, *q.workers]), q.logs()
            assert "worker.enqueue_failed" in q.scheduler.text() and "worker.broker_back" in q.scheduler.text()
        finally:
            codes = q.stop()
        assert codes == [0, 0, 0], q.logs()
    finally:
        broker.stop()


def test_without_a_queue_worker_readyz_says_nothing_runs_the_jobs(service):
    svc = service.set("queue", broker_url=REDIS, queue_name=f"test-{uuid.uuid4().hex[:10]}").set("schedule", **QUIET)
    store = svc.store()
    scheduler = svc.start("worker")
    try:
        wait_for(lambda: readiness(store)[1] == NO_QUEUE_WORKER, 60, "/readyz to say no queue worker runs")
    finally:
        assert scheduler.stop() == 0, scheduler.text()


@pytest.mark.parametrize("command", ["worker", "queue-worker"])
def test_an_unreachable_broker_is_exit_3_naming_host_and_port(service, command):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = service.set("queue", broker_url=f"redis://127.0.0.1:{port}/0").run(command, timeout=60)
    assert done.code == 3, done.err
    lines = [ln for ln in done.err.splitlines() if not ln.startswith("ts=")]
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and lines[0].startswith("error: "), done.err
