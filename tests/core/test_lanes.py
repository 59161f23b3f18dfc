"""The audit's stream lanes: which streams may run side by side, that they really do, and that one
lane's failure ends only that lane."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from integration import lanes


def job(order: int, stream: str, types: set | None, apis: tuple[str, ...] = ()) -> lanes.Job:
    return lanes.Job(order, SimpleNamespace(name="src"), stream, None if types is None else frozenset(types), apis)


def test_streams_sharing_a_record_type_share_a_lane_in_declared_order():
    jobs = [job(0, "drive.files", {"DriveItem"}), job(1, "mail", {"MailEvent"}),
            job(2, "drive.events", {"DriveItem"}), job(3, "chat", {"ChatEvent"}),
            job(4, "drive.shared", {"DriveItem"})]
    plan = lanes.plan(jobs)
    assert [[j.stream for j in lane.jobs] for lane in plan] == [
        ["drive.files", "drive.events", "drive.shared"], ["mail"], ["chat"]]


def test_a_stream_of_unknown_record_types_runs_alone_with_everything():
    plan = lanes.plan([job(0, "mail", {"MailEvent"}), job(1, "mystery", None), job(2, "chat", {"ChatEvent"})])
    assert [[j.stream for j in lane.jobs] for lane in plan] == [["mail", "mystery", "chat"]]


def test_lanes_run_at_the_same_time():
    # each job waits for the other lane's job: this only completes if both lanes are running at once
    meet = threading.Barrier(2, timeout=30)
    plan = lanes.plan([job(0, "a", {"A"}), job(1, "b", {"B"})])
    results = lanes.run(plan, lambda j: (meet.wait(), j.stream)[1], max_lanes=2)
    assert results == {0: "a", 1: "b"}


def test_a_failing_job_ends_its_lane_only():
    ran = []

    def work(j: lanes.Job) -> str:
        ran.append(j.stream)
        if j.stream == "a1":
            raise RuntimeError("a1 broke")
        return j.stream

    plan = lanes.plan([job(0, "a1", {"A"}), job(1, "b", {"B"}), job(2, "a2", {"A"}), job(3, "c", {"C"})])
    results = lanes.run(plan, work, max_lanes=3)
    assert isinstance(results[0], RuntimeError) and (results[1], results[3]) == ("b", "c")
    assert 2 not in results and "a2" not in ran  # after its lane's failure, like the serial run


def test_one_lane_at_a_time_runs_in_the_callers_thread_in_order():
    seen = []
    plan = lanes.plan([job(0, "a", {"A"}), job(1, "b", {"B"}), job(2, "c", {"C"})])
    lanes.run(plan, lambda j: seen.append((j.stream, threading.current_thread())), max_lanes=1)
    assert seen == [(s, threading.current_thread()) for s in ("a", "b", "c")]


def test_with_fewer_slots_the_next_lane_is_the_one_on_idle_apis():
    plan = lanes.plan([job(0, "mail", {"M"}, ("reports",)), job(1, "chat", {"C"}, ("reports", "chat")),
                       job(2, "tokens", {"T"}, ("directory",))])
    started = []
    gate = threading.Event()

    def work(j: lanes.Job) -> None:
        started.append(j.stream)
        if j.stream == "mail":
            gate.wait(30)  # holds its slot (and Reports) until the second lane has started
        else:
            gate.set()

    lanes.run(plan, work, max_lanes=2)
    # while mail holds Reports, tokens (Directory, idle) starts before chat (Reports), though declared later
    assert started.index("tokens") < started.index("chat") and sorted(started) == ["chat", "mail", "tokens"]


def test_an_interrupted_run_tells_the_lanes_to_stop():
    stop = threading.Event()
    plan = lanes.plan([job(0, "a", {"A"}), job(1, "b", {"B"})])

    def work(j: lanes.Job) -> None:
        if j.stream == "a":
            raise KeyboardInterrupt  # a BaseException: not a stream failure
        stop.wait(30)

    with pytest.raises(KeyboardInterrupt):
        lanes.run(plan, work, max_lanes=2, stop=stop)
    assert stop.is_set()
