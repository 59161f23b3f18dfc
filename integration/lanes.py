"""Running an audit's streams side by side: lanes of streams that cannot affect each other's findings.

Why lanes: the first audit's streams are mostly waiting on different Google APIs (the Drive crawl,
Reports pages, Directory batches), so running them one after another adds their latencies up. Two
streams may run at once only if they feed disjoint record types: then no rule sees records of both,
no fingerprint can come from both, and the findings (and each finding's first evidence) are the
same as in a serial run whatever the interleaving. Streams that share a record type (My Drive crawl,
Drive events, shared drives) stay in one lane, in their declared order; a stream whose record types
are unknown shares a lane with everything. Streams also declare the APIs they call
(``stream_apis``): when fewer lanes may run than exist, the next lane to start is the first whose
APIs are least in use, so each API's in-flight cap (enforced by the transport) is not split
between lanes while another API idles.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

MAX_LANES = 8  # lanes running at once (a Google source has 6; each holds a few reader threads)


@dataclass(frozen=True)
class Job:
    """One stream of one source, in the audit's declared order (`order`)."""

    order: int
    source: Any
    stream: str
    types: frozenset | None  # record types it yields; None = unknown (could be anything)
    apis: tuple[str, ...] = ()


@dataclass
class Lane:
    jobs: list[Job] = field(default_factory=list)

    @property
    def apis(self) -> set[str]:
        return {a for j in self.jobs for a in j.apis}

    @property
    def label(self) -> str:
        return "+".join(f"{j.source.name}/{j.stream}" for j in self.jobs)


def stream_apis(source, stream: str) -> tuple[str, ...]:
    """The APIs a stream calls, as the source declares them (``stream_apis``); () when undeclared."""
    return tuple((getattr(source, "stream_apis", None) or {}).get(stream, ()))


def plan(jobs: list[Job]) -> list[Lane]:
    """Group jobs into lanes: connected by shared record types (unknown types connect to all),
    each lane's jobs in declared order, lanes ordered by their first job."""
    parent = list(range(len(jobs)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(jobs):
        for k in range(i):
            b = jobs[k]
            if a.types is None or b.types is None or a.types & b.types:
                parent[root(i)] = root(k)
    lanes: dict[int, Lane] = {}
    for i, job in enumerate(jobs):
        lanes.setdefault(root(i), Lane()).jobs.append(job)
    return sorted(lanes.values(), key=lambda lane: lane.jobs[0].order)


def run(lanes: list[Lane], work: Callable[[Job], Any], *, max_lanes: int = MAX_LANES,
        stop: threading.Event | None = None) -> dict[int, Any]:
    """Run every lane (its jobs one after another) with up to `max_lanes` lanes at once; returns
    {job.order: result or the exception it raised}. A job that raises ends its own lane only: the
    other lanes run to their end, so their stored results stand. `stop`, set here if the caller is
    interrupted, is for `work` to check between batches. With one lane at a time nothing is threaded."""
    stop = stop or threading.Event()
    results: dict[int, Any] = {}

    def run_lane(lane: Lane) -> None:
        for job in lane.jobs:
            if stop.is_set():
                return
            try:
                results[job.order] = work(job)
            except Exception as exc:  # noqa: BLE001 - the caller raises it, after the other lanes finish
                results[job.order] = exc
                return

    if max_lanes <= 1 or len(lanes) <= 1:
        for lane in lanes:
            run_lane(lane)
        return results
    waiting = list(lanes)
    running: dict[Future, Lane] = {}
    with ThreadPoolExecutor(max_workers=min(max_lanes, len(lanes)), thread_name_prefix="audit-lane") as pool:
        try:
            while waiting or running:
                while waiting and len(running) < max_lanes:
                    lane = _next(waiting, running.values())
                    running[pool.submit(run_lane, lane)] = lane
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    running.pop(fut)
                    fut.result()  # run_lane keeps its exceptions; this re-raises only a BaseException
        except BaseException:
            stop.set()  # interrupted (or a lane died): the others stop after their current batch
            raise
    return results


def _next(waiting: list[Lane], running) -> Lane:
    """The first waiting lane whose APIs are least in use by the running lanes."""
    busy: dict[str, int] = {}
    for lane in running:
        for api in lane.apis:
            busy[api] = busy.get(api, 0) + 1
    best = min(waiting, key=lambda lane: sum(busy.get(a, 0) for a in lane.apis))
    waiting.remove(best)
    return best
