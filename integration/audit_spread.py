"""Queue mode: one audit's lanes spread over the queue workers' processes (issue 13).

Why: in one process an audit's lanes share one interpreter (and its GIL) and one writer lock, so a
trust's audit took as long however many queue workers were running. Lanes (integration/lanes.py)
feed disjoint record types — no rule, fingerprint or finding spans two — so they can run in
different processes, each writing its own transactions, with the same findings as one process.

How: the process that got the ``audit`` job (the coordinator) plans the lanes as ever, stores one
``audit_lanes`` row per lane (``ready``) and enqueues one task per lane; it then works lanes too,
so a single queue worker never waits on itself. A lane is run by whoever claims its row first:
one ``UPDATE … WHERE`` turns it ``running`` under a holder (``host:pid:nonce``) and a lease the
runner renews every 20 s. A lane whose holder died (its process gone from this host at once, any
host once its 2-minute lease has run out) is claimed again and re-run from its stored cursors:
cursors advance only after their batch is stored, so a re-run loses nothing and, since findings
and occurrences are unique, records nothing twice. The coordinator takes a waiting lane itself
after GRACE seconds while it runs fewer than its share (lanes / live queue workers), any lane
after IDLE seconds (the other workers are busy), and a dead holder's lane at once. When every lane
is ``done`` it adds their results up (counts, failed streams in declared order, fed record types,
timings) and the run ends as in one process (alerts released, ``runs`` row, ``audit.done``).

A coordinator that dies leaves its run to the scheduler (``interrupted_kinds``): the next
coordinator marks the dead run's unfinished lanes ``stopped`` (their runners stop at their next
renewal) and its ``runs`` row interrupted, then plans afresh.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update

from integration import errors, lanes
from integration.holders import lease_free, lease_over, new_owner
from integration.logs import event
from integration.periodic import Periodic
from integration.store.models_ops import AuditLane, Run
from integration.store.models_worker import WorkerHeartbeat

log = logging.getLogger("safechannels.audit")

LANE_LEASE = timedelta(minutes=2)
RENEW_EVERY = 20.0  # seconds between a runner's lease renewals (and its check that the run still stands)
POLL = 0.5  # seconds between the coordinator's looks at its lanes
GRACE = 3.0  # seconds a ready lane waits for another worker before the coordinator takes it (within its share)
IDLE = 30.0  # seconds after which the coordinator takes any waiting lane (the other workers are busy)
KEEP = timedelta(days=7)  # finished lanes of earlier runs are kept this long (the holders, for an admin)

_ERRORS = (errors.Unreachable, errors.SourceRefused, errors.TransientError, errors.CursorExpired,
           errors.NotFound, errors.SourceError, errors.SkippableRecord)


class LaneCrashed(RuntimeError):
    """A lane raised an unexpected error (a bug) in another process: the run fails naming it."""


def key(source, stream: str) -> str:
    return f"{source.name}/{stream}"


def _now() -> datetime:
    return datetime.now(UTC)  # leases run on the wall clock, whatever ``now`` the audit judges by


# ------------------------------------------------------------------ errors across processes


def error_doc(exc: BaseException) -> dict:
    """A stream's error as JSON: its nearest class of integration.errors and the fields callers read."""
    kind = next((c.__name__ for c in type(exc).__mro__ if c in _ERRORS), "")
    doc = {"type": kind or type(exc).__name__, "crash": not kind, "message": str(exc)}
    for name in ("api", "fix", "endpoint"):
        if getattr(exc, name, ""):
            doc[name] = str(getattr(exc, name))
    return doc


def error_from(doc: dict) -> Exception:
    message, api, fix = doc.get("message", ""), doc.get("api", ""), doc.get("fix", "")
    cls = next((c for c in _ERRORS if c.__name__ == doc.get("type")), None)
    if doc.get("crash") or cls is None:
        return LaneCrashed(f"{doc.get('type', 'Error')}: {message}")
    if cls is errors.SkippableRecord:
        return errors.SkippableRecord(message)
    if cls is errors.Unreachable:
        return errors.Unreachable(message, api=api, fix=fix, endpoint=doc.get("endpoint", ""))
    if cls is errors.TransientError:
        return errors.TransientError(message, api=api)
    return cls(message, api=api, fix=fix)


# ------------------------------------------------------------------ the lane rows


def open_lanes(store, run_id: int, plan: list[lanes.Lane]) -> None:
    """One ``ready`` row per lane; lanes of dead runs stopped, their runs closed; old rows dropped."""
    now = _now()
    with store.session() as s:
        stale = [r for r, in s.execute(select(AuditLane.run_id).where(
            AuditLane.run_id != run_id, AuditLane.status.in_(("ready", "running"))).distinct())]
        if stale:
            s.execute(update(AuditLane).where(AuditLane.run_id.in_(stale), AuditLane.status.in_(("ready", "running")))
                      .values(status="stopped", finished_at=now))
            s.execute(update(Run).where(Run.id.in_(stale), Run.status == "running").values(
                status="failed", finished_at=now,
                error="interrupted: its coordinating queue worker stopped mid-run; the audit ran again"))
            event(log, "audit.lanes_superseded", logging.WARNING, runs=",".join(map(str, stale)))
        s.execute(delete(AuditLane).where(AuditLane.run_id != run_id, AuditLane.status.in_(("done", "stopped")),
                                          AuditLane.finished_at < now - KEEP))
        for i, lane in enumerate(plan):
            s.add(AuditLane(run_id=run_id, lane=i, streams=[key(j.source, j.stream) for j in lane.jobs],
                            status="ready", holder="", attempts=0, ready_at=now, result={}))


def claim(store, run_id: int, lane: int, holder: str) -> int | None:
    """Take lane ``lane`` of the run for ``holder``: the row's id, or None when it is done, stopped
    or held by a live process. Atomic (one conditional UPDATE), so of two claimants one wins."""
    now = _now()
    with store.session() as s:
        row = s.execute(select(AuditLane.id, AuditLane.status, AuditLane.holder).where(
            AuditLane.run_id == run_id, AuditLane.lane == lane)).first()
        if row is None or row.status not in ("ready", "running"):
            return None
        free = (AuditLane.status == "ready") | (
            (AuditLane.status == "running") & lease_free(AuditLane.lease_until, AuditLane.holder, row.holder, now))
        res = s.execute(update(AuditLane).where(AuditLane.id == row.id, free).values(
            status="running", holder=holder, lease_until=now + LANE_LEASE, attempts=AuditLane.attempts + 1))
        if res.rowcount != 1:
            return None
    if row.status == "running":
        event(log, "audit.lane_reclaimed", logging.WARNING, run=run_id, lane=lane, previous=row.holder, holder=holder)
    return row.id


def renew(store, lane_id: int, holder: str) -> bool:
    """Extend the lease; False when the lane is no longer this holder's (taken over, or its run stopped)."""
    with store.session() as s:
        res = s.execute(update(AuditLane).where(AuditLane.id == lane_id, AuditLane.holder == holder,
                                                AuditLane.status == "running")
                        .values(lease_until=_now() + LANE_LEASE))
        return res.rowcount == 1


def finish(store, lane_id: int, holder: str, result: dict) -> bool:
    with store.session() as s:
        res = s.execute(update(AuditLane).where(AuditLane.id == lane_id, AuditLane.holder == holder,
                                                AuditLane.status == "running")
                        .values(status="done", result=result, finished_at=_now(), lease_until=None))
        return res.rowcount == 1


def release(store, lane_id: int, holder: str) -> None:
    """Give a lane back (its runner failed outside its streams): ready again for anyone, at once."""
    with store.session() as s:
        s.execute(update(AuditLane).where(AuditLane.id == lane_id, AuditLane.holder == holder,
                                          AuditLane.status == "running")
                  .values(status="ready", holder="", lease_until=None, ready_at=_now()))


def lane_rows(store, run_id: int) -> list[AuditLane]:
    with store.session() as s:
        rows = list(s.scalars(select(AuditLane).where(AuditLane.run_id == run_id).order_by(AuditLane.lane)))
        s.expunge_all()
        return rows


def live_queue_workers(store) -> int:
    from integration.scheduler import QUEUE_ROLE, STALE_AFTER

    with store.session() as s:
        return s.scalar(select(func.count()).select_from(WorkerHeartbeat).where(
            WorkerHeartbeat.worker.startswith(QUEUE_ROLE), WorkerHeartbeat.beat_at > _now() - STALE_AFTER)) or 0


# ------------------------------------------------------------------ running one lane


def run_claimed(state, lane_id: int, streams: list[str], holder: str, sources: list) -> bool:
    """Run a claimed lane's streams in order with ``state`` (an audit._Run of its own) and store its
    result; False when the lane was lost (taken over, run stopped, interrupted): it is not ``done``."""
    store, ctx = state.store, state.ctx
    by_name = {s.name: s for s in sources}
    jobs = []
    for name in streams:
        source_name, _, stream = name.partition("/")
        if source_name not in by_name or stream not in by_name[source_name].streams:
            raise RuntimeError(f"lane stream {name} is not a stream of this process's sources")
        jobs.append((by_name[source_name], stream))

    def beat() -> None:
        if not renew(store, lane_id, holder):
            state.stop.set()  # someone else has it now, or the run was stopped: stop after this batch

    calls = ctx.api_calls() if hasattr(ctx, "api_calls") else 0
    outcomes: dict[str, Any] = {}
    with Periodic(beat, RENEW_EVERY, f"lease-lane-{lane_id}"):
        for source, stream in jobs:
            if state.stop.is_set():
                break
            try:
                outcomes[key(source, stream)] = state.run_stream(source, stream)
            except Exception as exc:  # noqa: BLE001 - a bug ends the lane; the coordinator raises it
                outcomes[key(source, stream)] = exc
                break
    if state.stop.is_set():
        return False
    calls = (ctx.api_calls() if hasattr(ctx, "api_calls") else 0) - calls
    result = {
        "errors": {k: error_doc(v) for k, v in outcomes.items() if isinstance(v, BaseException)},
        "events_read": state.result.events_read, "skipped": state.result.skipped,
        "created": sorted(state.created), "updated": sorted(state.updated),
        "fed": sorted(t.__name__ for t in state.fed), "unknown_fed": state.unknown_fed,
        "stream_s": {k: round(v, 3) for k, v in state.stream_s.items()},
        "store_s": round(state.store_s, 3), "store_wait_s": round(state.store_wait_s, 3), "api_calls": calls,
    }
    return finish(store, lane_id, holder, result)


def work_lane(ctx, run_id: int, lane: int, *, full: bool, now: datetime) -> str:
    """A queue worker's lane task: claim the lane, build this process's own rule context and run state,
    run it. Returns what happened ("done", "taken": someone else has or had it, "lost")."""
    from integration.audit import _Run, build_rule_context
    from integration.rules import rule_set

    holder = new_owner()
    lane_id = claim(ctx.store, run_id, lane, holder)
    if lane_id is None:
        return "taken"
    try:
        streams = next(r.streams for r in lane_rows(ctx.store, run_id) if r.id == lane_id)
        rules = rule_set(ctx.settings)
        with ctx.store.session() as s:
            rctx = build_rule_context(s, ctx.settings, ctx.store.crypto, now)
        state = _Run(ctx, rules, rctx, now, full)
        event(log, "audit.lane_started", run=run_id, lane=lane, streams=",".join(streams))
        done = run_claimed(state, lane_id, streams, holder, ctx.activity_sources())
    except BaseException:
        try:
            release(ctx.store, lane_id, holder)
        except Exception:  # noqa: BLE001 - the database is down: the lease runs out instead
            pass
        raise
    event(log, "audit.lane_done" if done else "audit.lane_lost", run=run_id, lane=lane)
    return "done" if done else "lost"


# ------------------------------------------------------------------ the coordinator


def run_spread(state, run_id: int, sources: list, queue, max_lanes: int = lanes.MAX_LANES):
    """The coordinator: plan, store and enqueue the lanes, work some itself, wait for all, add them up
    into ``state`` and conclude as audit._run_sources does (same return, same raise)."""
    from integration.audit import _TYPES_BY_NAME, _Run, conclude, log_plan, plan_jobs

    jobs = plan_jobs(sources)
    plan = lanes.plan(jobs)
    log_plan(plan, max_lanes, spread="queue")
    store = state.store
    open_lanes(store, run_id, plan)
    alone = False
    for i, lane in enumerate(plan):
        try:
            queue.enqueue_lane(run_id, i, [key(j.source, j.stream) for j in lane.jobs], full=state.full, now=state.now)
        except Exception as exc:  # noqa: BLE001 - the broker is gone: this process runs every lane itself
            event(log, "audit.lane_enqueue_failed", logging.WARNING, run=run_id, error=f"{type(exc).__name__}: {exc}")
            alone = True
            break
    holder = new_owner()
    writer = threading.Lock()  # this process's lanes share one writer, as in the one-process audit
    running: dict[int, tuple[Future, Any]] = {}
    with ThreadPoolExecutor(max_workers=max(1, min(max_lanes, len(plan))), thread_name_prefix="audit-lane") as pool:
        try:
            while True:
                rows = lane_rows(store, run_id)
                for lane_no, (fut, _) in list(running.items()):
                    if fut.done():
                        running.pop(lane_no)
                        fut.result()  # run_claimed keeps a stream's exception; this raises only a bug here
                if all(r.status == "done" for r in rows):
                    break
                if any(r.status == "stopped" for r in rows):
                    raise RuntimeError(f"audit run {run_id} was stopped by another coordinator")
                _take(state, rows, plan, running, pool, holder, writer, sources, alone, max_lanes, _Run)
                time.sleep(POLL)
        except BaseException:
            for _, local in running.values():
                local.stop.set()
            state.stop.set()
            raise
    rows = lane_rows(store, run_id)
    outcomes: dict[int, Any] = {}
    order = {key(j.source, j.stream): j.order for j in jobs}
    stream_s: dict[str, float] = {}
    store_s = wait_s = 0.0
    calls = 0
    elsewhere = 0
    for row in rows:
        r = row.result or {}
        for name in row.streams:
            outcomes[order[name]] = None
        for name, doc in (r.get("errors") or {}).items():
            outcomes[order[name]] = error_from(doc)
        state.result.events_read += int(r.get("events_read", 0))
        state.result.skipped += int(r.get("skipped", 0))
        state.created.update(r.get("created", ()))
        state.updated.update(r.get("updated", ()))
        for name in r.get("fed", ()):
            if name in _TYPES_BY_NAME:
                state.fed.add(_TYPES_BY_NAME[name])
            else:
                state.unknown_fed = True
        state.unknown_fed = state.unknown_fed or bool(r.get("unknown_fed"))
        stream_s.update(r.get("stream_s", {}))
        store_s += float(r.get("store_s", 0.0))
        wait_s += float(r.get("store_wait_s", 0.0))
        calls += int(r.get("api_calls", 0))
        elsewhere += row.holder != holder
    state.api_calls = calls
    state.result.timings = {**{k: stream_s[k] for k in sorted(stream_s, key=lambda k: order.get(k, 0))},
                            "store_s": round(store_s, 3), "store_wait_s": round(wait_s, 3)}
    processes = len({":".join(r.holder.split(":")[:2]) for r in rows})
    event(log, "audit.lanes_done", run=run_id, lanes=len(rows), processes=processes, elsewhere=elsewhere)
    return conclude(state, sources, jobs, outcomes)


def _take(state, rows: list[AuditLane], plan: list[lanes.Lane], running: dict, pool: ThreadPoolExecutor,
          holder: str, writer: threading.Lock, sources: list, alone: bool, max_lanes: int, run_cls) -> None:
    """Claim, and start on this process's threads, the lanes this coordinator should run now: a dead
    holder's at once; a ready one at once when no other queue worker lives, after GRACE while it runs
    fewer than its share, after IDLE in any case. The least busy APIs first, as lanes.run does."""
    now = _now()
    live = max(live_queue_workers(state.store), 1)
    immediate = alone or live == 1
    share = max(1, math.ceil(len(plan) / live))
    busy: dict[str, int] = {}
    for lane_no in running:
        for api in plan[lane_no].apis:
            busy[api] = busy.get(api, 0) + 1
    candidates = [r for r in rows if r.lane not in running and (
        (r.status == "running" and r.holder != holder and lease_over(r.lease_until, r.holder, now))
        or r.status == "ready")]
    candidates.sort(key=lambda r: (r.status == "ready", sum(busy.get(a, 0) for a in plan[r.lane].apis), r.lane))
    for r in candidates:
        if len(running) >= max_lanes:
            return
        waited = (now - (r.ready_at if r.ready_at.tzinfo else r.ready_at.replace(tzinfo=UTC))).total_seconds()
        if r.status == "ready" and not (immediate or waited >= IDLE or (waited >= GRACE and len(running) < share)):
            continue
        lane_id = claim(state.store, r.run_id, r.lane, holder)
        if lane_id is None:
            continue
        local = run_cls(state.ctx, state.rules, state.rctx, state.now, state.full, writer=writer)
        running[r.lane] = (pool.submit(run_claimed, local, lane_id, r.streams, holder, sources), local)
