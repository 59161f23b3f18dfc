"""Claiming an audit's lanes in queue mode (integration/audit_spread.py), at the database: one of two
claimants wins, a dead holder's lane is claimed again, a live one's never, and a new coordinator
stops the lanes of a run whose coordinator died."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import select, update

from integration import audit_spread
from integration.holders import HOST
from integration.lanes import Job, Lane
from integration.store.models_ops import AuditLane, Run

SOURCE = SimpleNamespace(name="google")


def _run(store, streams=(("drive.files", "drive.events"), ("mail",))) -> int:
    with store.session() as s:
        run = Run(job="audit", status="running", summary={}, error="")
        s.add(run)
        s.flush()
        run_id = run.id
    plan = [Lane([Job(i, SOURCE, stream, None) for i, stream in enumerate(lane)]) for lane in streams]
    audit_spread.open_lanes(store, run_id, plan)
    return run_id


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _row(store, run_id: int, lane: int) -> AuditLane:
    return next(r for r in audit_spread.lane_rows(store, run_id) if r.lane == lane)


def test_of_two_claimants_one_wins_and_only_it_renews_and_finishes(store):
    run_id = _run(store)
    assert [r.streams for r in audit_spread.lane_rows(store, run_id)] == [["google/drive.files", "google/drive.events"],
                                                                        ["google/mail"]]
    first = audit_spread.claim(store, run_id, 0, "a:1:x")
    assert first is not None and audit_spread.claim(store, run_id, 0, "b:2:y") is None
    assert audit_spread.renew(store, first, "a:1:x") and not audit_spread.renew(store, first, "b:2:y")
    assert not audit_spread.finish(store, first, "b:2:y", {"events_read": 9})
    assert audit_spread.finish(store, first, "a:1:x", {"events_read": 3})
    row = _row(store, run_id, 0)
    assert (row.status, row.holder, row.attempts, row.result) == ("done", "a:1:x", 1, {"events_read": 3})
    assert audit_spread.claim(store, run_id, 0, "b:2:y") is None  # a done lane is never run again
    assert audit_spread.claim(store, run_id, 1, "b:2:y") is not None  # the other lane is free


def test_a_dead_holders_lane_is_claimed_again_a_live_ones_never(store):
    run_id = _run(store)
    dead = f"{HOST}:{_dead_pid()}:gone"
    assert audit_spread.claim(store, run_id, 0, dead) is not None
    alive = f"{HOST}:1:init"  # pid 1 exists for as long as the machine runs
    assert audit_spread.claim(store, run_id, 1, alive) is not None
    assert audit_spread.claim(store, run_id, 1, "c:3:z") is None  # held by a live process
    lane_id = audit_spread.claim(store, run_id, 0, "c:3:z")  # its process is gone from this host: at once
    assert lane_id is not None
    assert not audit_spread.renew(store, lane_id, dead)  # the dead holder, were it back, has lost it
    row = _row(store, run_id, 0)
    assert (row.holder, row.attempts) == ("c:3:z", 2)


def test_another_hosts_holder_is_taken_over_only_once_its_lease_ran_out(store):
    run_id = _run(store)
    lane_id = audit_spread.claim(store, run_id, 0, "elsewhere:77:n")
    assert audit_spread.claim(store, run_id, 0, "c:3:z") is None  # no pid can be asked of another host
    with store.session() as s:
        s.execute(update(AuditLane).where(AuditLane.id == lane_id)
                  .values(lease_until=datetime.now(UTC) - timedelta(seconds=1)))
    assert audit_spread.claim(store, run_id, 0, "c:3:z") == lane_id


def test_released_lanes_are_ready_again_and_a_new_coordinator_stops_a_dead_runs_lanes(store):
    old = _run(store)
    lane_id = audit_spread.claim(store, old, 0, "a:1:x")
    audit_spread.release(store, lane_id, "a:1:x")
    assert (_row(store, old, 0).status, _row(store, old, 0).holder) == ("ready", "")
    lane_id = audit_spread.claim(store, old, 0, "a:1:x")
    new = _run(store)  # the coordinator of `old` died; the next audit run opens its lanes
    assert {r.status for r in audit_spread.lane_rows(store, old)} == {"stopped"}
    assert not audit_spread.renew(store, lane_id, "a:1:x")  # its runner stops at its next renewal
    assert audit_spread.claim(store, old, 1, "b:2:y") is None
    with store.session() as s:
        assert s.scalar(select(Run.status).where(Run.id == old)) == "failed"
    assert {r.status for r in audit_spread.lane_rows(store, new)} == {"ready"}
