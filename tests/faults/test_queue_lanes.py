"""One audit's lanes spread over three `queue-worker` processes (integration/audit_spread.py), on
PostgreSQL and real Redis against a sandbox process: the findings and emails of the one-process run,
each email once, lanes run in more than one process (from the lane rows' holders); a worker SIGKILLed
while it runs a lane loses nothing and duplicates nothing (its lane is claimed again and re-run)."""

from __future__ import annotations

import sys
from collections import Counter

import pytest
from faults_env import ROOT, SandboxProcess, wait_for
from sqlalchemy import func, select
from test_queue import Queue, _configure, _emails, _findings, reference  # noqa: F401 - `reference` is a fixture

from integration.store.models_alerts import JobLock
from integration.store.models_ops import AuditLane

pytestmark = [pytest.mark.faults, pytest.mark.postgres]


class SlowSandbox(SandboxProcess):
    """The tiny sandbox answering every request after 40 ms, so a lane lasts long enough to be killed."""

    def __init__(self, directory):
        import subprocess

        cmd = [sys.executable, "-m", "sandbox", "--size", "tiny", "--seed", "1", "--port", "0", "--fault-rate", "0",
               "--latency-ms", "40", "--write-config", str(directory)]
        self.directory = directory
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=__import__("faults_env").ENV, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.url = ""
        for line in self.proc.stdout:
            if " at http://" in line and not self.url:
                self.url = line.rsplit(" at ", 1)[1].strip()
            if line.startswith("sandbox: wrote"):
                break
        else:
            raise AssertionError(f"the sandbox did not start (exit {self.proc.wait()})")
        import threading

        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        self.config = directory / "safechannels.toml"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    proc = SlowSandbox(tmp_path_factory.mktemp("sandbox"))
    yield proc
    proc.stop()


def _lanes(q: Queue) -> list[AuditLane]:
    with q.store.session() as s:
        last = s.scalar(select(func.max(AuditLane.run_id)))
        rows = list(s.scalars(select(AuditLane).where(AuditLane.run_id == last).order_by(AuditLane.lane)))
        s.expunge_all()
        return rows


def _pid(holder: str) -> int:
    return int(holder.split(":")[1])


def _coordinator(q: Queue) -> int:
    with q.store.session() as s:
        owner = s.scalar(select(JobLock.owner).where(JobLock.kind == "audit")) or ""
    return _pid(owner) if owner.count(":") >= 2 else 0


def test_three_queue_workers_run_one_audits_lanes_in_several_processes(sandboxed, relay, reference):  # noqa: F811
    found, emails = reference
    q = Queue(_configure(sandboxed, relay))
    try:
        q.finished("roster_sync", q.request("roster_sync"))
        q.finished("audit", q.request("audit"), 300)
        wait_for(lambda: q.unsent() == 0, 120, "every alert to be sent")
        assert _findings(q.store) == found
        assert _emails(relay) == emails
        assert len(set(relay.log.message_ids())) == len(relay.log.messages)  # each email once
        rows = _lanes(q)
        pids = {_pid(r.holder) for r in rows}
        assert len(rows) > 1 and {r.status for r in rows} == {"done"} and all(r.attempts == 1 for r in rows)
        assert len(pids) > 1 and pids <= {w.pid for w in q.workers}, [r.holder for r in rows]
    finally:
        codes = q.stop()
    assert codes == [0, 0, 0, 0], q.logs()


def test_a_worker_killed_mid_lane_loses_nothing_and_duplicates_nothing(sandboxed, relay, reference):  # noqa: F811
    found, emails = reference
    q = Queue(_configure(sandboxed, relay))
    try:
        q.finished("roster_sync", q.request("roster_sync"))
        since = q.request("audit")

        def lane_elsewhere():  # a lane running in a worker other than the audit's coordinator
            boss = _coordinator(q)
            return next((r for r in _lanes(q) if r.status == "running" and boss and _pid(r.holder) != boss), None)

        lane = wait_for(lane_elsewhere, 120, "a lane to run in a worker other than the coordinator", step=0.05)
        victim = next(w for w in q.workers if w.pid == _pid(lane.holder))
        victim.kill()  # SIGKILL mid-lane
        q.finished("audit", since, 300)
        wait_for(lambda: q.unsent() == 0, 120, "every alert to be sent")
        assert _findings(q.store) == found
        assert _emails(relay) == emails
        got = Counter(relay.log.message_ids())
        assert all(n == 1 for n in got.values()), got.most_common(3)  # no lane kill repeats an email
        again = next(r for r in _lanes(q) if r.lane == lane.lane)
        assert again.status == "done" and again.attempts >= 2 and _pid(again.holder) != victim.pid
        assert [r.status for r in q.runs("audit", since)].count("ok") + \
            [r.status for r in q.runs("audit", since)].count("partial") == 1
    finally:
        codes = q.stop()
    assert codes == [0, 0, 0], q.logs()
