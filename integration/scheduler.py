"""The worker's scheduler: APScheduler 3 in ONE dedicated process (`python -m integration worker`).

- Cron jobs (``[schedule]``, plus the digest at ``[alerts] digest_time`` in the school's
  timezone and escalation every 5 minutes) live in a persistent SQLAlchemyJobStore in the
  service's database, so a digest missed while the worker was down still runs on restart.
- Every run goes through :func:`run_job`: a lease row per job kind (``job_locks``) so one run of
  a kind happens at a time even across two worker processes, a ``runs`` row with the outcome
  and error, a heartbeat that keeps the lease while the job works, and a short retry backoff
  after a failure (plus the next tick) — a failing job is never silently skipped.
- A run left ``running`` by a killed worker is found through its expired lease — or at once,
  when the lease's holder (``host:pid`` in ``job_locks.owner``) was a process on this host that
  no longer exists — marked failed ("interrupted"), and the job runs again (jobs are idempotent).
- Requested jobs (``job_requests``, from webhooks) are polled every 2 seconds and debounced.
- The database may be locked or restarting: a scheduler pass that fails is retried in seconds
  (APScheduler 3's own loop would die on it and the process would stay up doing nothing), a job
  that cannot start is retried shortly, a run's outcome is written once the database is back.
  The 2-second tick stores a heartbeat (``worker_heartbeats``) that ``/readyz`` checks; if no
  tick has succeeded for ``[schedule] stall_exit_seconds`` (2 minutes) the worker exits non-zero
  so the platform restarts it.
- With ``[queue] broker_url`` set the same process only schedules: each due job is enqueued for the
  ``queue-worker`` processes (:mod:`integration.taskqueue`), which run it through :func:`run_job`;
  every tick it also enqueues again the kinds whose queue worker died mid-run
  (:func:`interrupted_kinds`). Its heartbeat is ``scheduler@host:pid``, theirs ``queue@host:pid``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from integration import jobs as jobs_mod
from integration.errors import ConfigError
from integration.holders import HOST, holder_gone, lease_free, lease_over, new_owner
from integration.logs import event
from integration.periodic import Periodic
from integration.store.models_alerts import JobLock
from integration.store.models_ops import Run
from integration.store.models_worker import WorkerHeartbeat

log = logging.getLogger("safechannels.worker")

LEASE = timedelta(minutes=5)
SAME_TICK = timedelta(seconds=30)  # a second worker firing the same cron tick skips it
RETRY_BASE, RETRY_CAP = 60.0, 900.0  # seconds: 1, 2, 4 ... 15 minutes after consecutive failures
ESCALATION_CRON = "*/5 * * * *"
DB_RETRY = 10.0  # seconds before a job that could not reach the database is tried again
PASS_RETRY = 5.0  # seconds before a scheduler pass that failed on the database is tried again
HEARTBEAT_EVERY = 5.0  # seconds between stored heartbeats
STALE_AFTER = timedelta(seconds=20)  # /readyz: no heartbeat for this long = jobs are not being scheduled
STALL_EXIT = 120.0  # default of [schedule] stall_exit_seconds: no successful tick this long = exit non-zero
FINISH_PATIENCE = 120.0  # seconds a finished run keeps trying to record its outcome


@dataclass
class RunOutcome:
    kind: str
    status: str  # ok | partial | failed | skipped | queued (handed to the queue workers)
    run_id: int | None = None
    summary: dict = field(default_factory=dict)
    error: str = ""
    failures: int = 0  # consecutive failures of this kind, after this run
    exit_code: int = 0  # the failure's operator exit code (2 config, 3 refused), for `worker --run`


def run_name(kind: str) -> str:
    """``runs.job`` of worker runs: ``worker.<kind>``, apart from the rows roster/audit write themselves
    (``sync``, ``audit``) so a scheduled audit is not counted twice."""
    return f"worker.{kind}"


def retry_delay(failures: int) -> float:
    return min(RETRY_BASE * 2 ** max(failures - 1, 0), RETRY_CAP)


def _interrupted(owner: str) -> str:
    parts = (owner or "").split(":")
    if holder_gone(owner):
        return (f"interrupted: the worker (process {parts[1]} on {parts[0]}) stopped mid-job; "
                "the job runs again")
    return "interrupted: the worker stopped mid-job (lease expired); the job runs again"


def _ensure_lock_row(store, kind: str) -> None:
    with store.session() as s:
        if s.get(JobLock, kind) is None:
            try:
                with s.begin_nested():
                    s.add(JobLock(kind=kind, owner="", failures=0, last_status=""))
                    s.flush()
            except IntegrityError:
                pass


def acquire(store, kind: str, owner: str, now: datetime, *, min_gap: timedelta = timedelta(0)) -> int | None:
    """Take the lease for ``kind`` and open a ``runs`` row; None if another run holds it.

    A lease that ran out while its run was still ``running`` means that worker died: the run is
    closed as failed (interrupted) and this one takes over.
    """
    _ensure_lock_row(store, kind)
    with store.session() as s:
        previous, holder = s.execute(select(JobLock.run_id, JobLock.owner).where(JobLock.kind == kind)).one()
        cond = [JobLock.kind == kind, lease_free(JobLock.lease_until, JobLock.owner, holder, now)]
        if min_gap:
            cond.append(JobLock.last_started_at.is_(None) | (JobLock.last_started_at < now - min_gap))
        res = s.execute(update(JobLock).where(*cond).values(owner=owner, lease_until=now + LEASE,
                                                           last_started_at=now))
        if res.rowcount != 1:
            return None
        if previous is not None:
            s.execute(update(Run).where(Run.id == previous, Run.status == "running").values(
                status="failed", finished_at=now, error=_interrupted(holder)))
        run = Run(job=run_name(kind), started_at=now, status="running", summary={}, error="")
        s.add(run)
        s.flush()
        s.execute(update(JobLock).where(JobLock.kind == kind).values(run_id=run.id))
        return run.id


def _finish(store, kind: str, owner: str, run_id: int, status: str, summary: dict, error: str,
            now: datetime) -> int:
    with store.session() as s:
        s.execute(update(Run).where(Run.id == run_id).values(status=status, finished_at=now, summary=summary,
                                                              error=error[:4000]))
        lock = s.get(JobLock, kind)
        failures = 0 if status != "failed" else ((lock.failures or 0) if lock is not None else 0) + 1
        if lock is not None and lock.owner == owner:
            lock.owner, lock.lease_until, lock.run_id = "", None, None
            lock.last_finished_at, lock.last_status, lock.failures = now, status, failures
        return failures


def _renew(store, kind: str, owner: str) -> None:
    """Extend a live run's lease, so a long job is never taken for a dead one."""
    with store.session() as s:
        s.execute(update(JobLock).where(JobLock.kind == kind, JobLock.owner == owner)
                  .values(lease_until=datetime.now(UTC) + LEASE))


def _patiently(fn, *, seconds: float = FINISH_PATIENCE):
    """Call ``fn`` until the database takes it (locked, restarting), for up to ``seconds``."""
    deadline, delay = time.monotonic() + seconds, 1.0
    while True:
        try:
            return fn()
        except SQLAlchemyError:
            if time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 15.0)


def run_job(ctx, kind: str, *, now: datetime | None = None, min_gap: timedelta = timedelta(0),
            on_start=None) -> RunOutcome:
    """Run one job under its lease and record it in ``runs``. Never raises for a job's failure."""
    fn = jobs_mod.JOBS[kind]
    clock = now or datetime.now(UTC)
    owner = new_owner()
    store = ctx.store
    run_id = acquire(store, kind, owner, clock, min_gap=min_gap)
    if run_id is None:
        event(log, "worker.job_skipped", logging.DEBUG, job=kind, reason="another run holds the lease")
        return RunOutcome(kind, "skipped")
    if on_start is not None:
        on_start()
    status, summary, error, code = "ok", {}, "", 0
    try:
        with Periodic(lambda: _renew(store, kind, owner), LEASE.total_seconds() / 3, f"lease-{kind}"):
            summary = jobs_mod.summarise(fn(ctx, clock))
        if summary.get("partial") or summary.get("status") == "partial" or summary.get("errors"):
            status = "partial"
    except Exception as exc:  # noqa: BLE001 - recorded on the run, logged, retried
        status, error, code = "failed", f"{type(exc).__name__}: {exc}", int(getattr(exc, "exit_code", 1) or 1)
        fix = getattr(exc, "fix", "")
        if fix:
            error += f" (fix: {fix})"
    finished = clock if now is not None else datetime.now(UTC)
    failures = _patiently(lambda: _finish(store, kind, owner, run_id, status, summary, error, finished))
    level = logging.ERROR if status == "failed" else logging.INFO
    event(log, f"worker.job_{status}", level, job=kind, run=run_id, failures=failures,
          **({"error": error} if error else {}))
    return RunOutcome(kind, status, run_id, summary, error, failures, code)


def recover_interrupted(store, now: datetime) -> int:
    """At start-up: close runs whose worker died (lease expired, still ``running``). Returns how many."""
    return len(interrupted_kinds(store, now))


def interrupted_kinds(store, now: datetime) -> list[str]:
    """Close the runs whose worker died (its lease ran out, or its process is gone from this host)
    and free their leases; the kinds whose run was closed. The queue scheduler enqueues them again
    at once instead of waiting for the broker's visibility timeout."""
    kinds: list[str] = []
    with store.session() as s:
        for lock in s.scalars(select(JobLock).where(JobLock.run_id.is_not(None), JobLock.lease_until.is_not(None))):
            if not lease_over(lock.lease_until, lock.owner, now):
                continue
            res = s.execute(update(Run).where(Run.id == lock.run_id, Run.status == "running").values(
                status="failed", finished_at=now, error=_interrupted(lock.owner)))
            if res.rowcount:
                kinds.append(lock.kind)
            lock.owner, lock.lease_until, lock.run_id = "", None, None
    if kinds:
        event(log, "worker.recovered_interrupted", logging.WARNING, runs=len(kinds), jobs=",".join(kinds))
    return kinds


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# ------------------------------------------------------------------ the heartbeat /readyz reads


def beat(store, worker: str, started_at: datetime, now: datetime) -> None:
    with store.session() as s:
        row = s.get(WorkerHeartbeat, worker)
        if row is None:
            host, _, pid = _process(worker).partition(":")
            s.add(WorkerHeartbeat(worker=worker, host=host, pid=int(pid or 0), started_at=started_at, beat_at=now))
        else:
            row.beat_at = now


SCHEDULER_ROLE = "scheduler@"  # the worker that only enqueues ([queue] broker_url set)
QUEUE_ROLE = "queue@"  # a queue worker (`queue-worker`); the one-process worker's rows have no role


def _process(worker: str) -> str:
    """``host:pid`` of a heartbeat row's worker, whatever its role prefix."""
    for role in (SCHEDULER_ROLE, QUEUE_ROLE):
        if worker.startswith(role):
            return worker[len(role):]
    return worker


def forget_dead_workers(store) -> None:
    """Heartbeats of worker processes on this host that no longer exist (killed) are dropped at start."""
    with store.session() as s:
        for row in s.scalars(select(WorkerHeartbeat).where(WorkerHeartbeat.host == HOST)):
            if holder_gone(_process(row.worker)):
                s.delete(row)


NO_WORKER = "no worker running: no heartbeat yet (start `python -m integration worker`)"
NO_QUEUE_WORKER = ("no queue worker running: jobs are enqueued but nothing runs them "
                   "(start `python -m integration queue-worker`)")


def heartbeat_problem(session, now: datetime) -> str:
    """'' while a worker is scheduling jobs (and, when it only enqueues them, a queue worker is
    running them); else what /readyz says. No heartbeat at all (no worker started yet, or the last
    one stopped) is not ready either: nothing would audit or alert."""
    rows = session.execute(select(WorkerHeartbeat.worker, WorkerHeartbeat.beat_at)).all()
    schedulers = sorted(((_aware(at), w) for w, at in rows if not w.startswith(QUEUE_ROLE)), reverse=True)
    if not schedulers:
        return NO_WORKER
    newest, worker = schedulers[0]
    age = (now - newest).total_seconds()
    if age > STALE_AFTER.total_seconds():
        return f"worker not scheduling jobs: its last heartbeat was {round(age)} s ago"
    if not worker.startswith(SCHEDULER_ROLE):
        return ""
    queue = [_aware(at) for w, at in rows if w.startswith(QUEUE_ROLE)]
    if not queue:
        return NO_QUEUE_WORKER
    age = (now - max(queue)).total_seconds()
    if age > STALE_AFTER.total_seconds():
        return f"no queue worker running jobs: the last queue worker's heartbeat was {round(age)} s ago"
    return ""


def cron_specs(settings) -> dict[str, dict]:
    """job kind -> CronTrigger kwargs, validated (bad cron strings are a ConfigError naming the key)."""
    from apscheduler.triggers.cron import CronTrigger

    tz = settings.school.timezone
    specs: dict[str, dict] = {}
    problems = []
    sched = settings.schedule
    for kind, key in (("roster_sync", "roster_sync"), ("audit", "audit"), ("acknowledgement", "acknowledgement"),
                      ("alerts", "alerts"), ("watch_renewal", "watch_renewal"),
                      ("retention_purge", "retention_purge")):
        spec = getattr(sched, key)
        try:
            CronTrigger.from_crontab(spec, timezone=tz)
        except ValueError as exc:
            problems.append(f"[schedule] {key} must be a 5-field cron expression, got {spec!r} ({exc})")
            continue
        specs[kind] = {"crontab": spec}
    hh, mm = settings.alerts.digest_time.split(":")
    specs["digest"] = {"hour": int(hh), "minute": int(mm)}
    specs["escalation"] = {"crontab": ESCALATION_CRON}
    if problems:
        raise ConfigError("; ".join(problems), problems)
    return specs


def trigger_for(spec: dict, timezone: str):
    from apscheduler.triggers.cron import CronTrigger

    if "crontab" in spec:
        return CronTrigger.from_crontab(spec["crontab"], timezone=timezone)
    return CronTrigger(hour=spec["hour"], minute=spec["minute"], timezone=timezone)


# ------------------------------------------------------------------ the worker process

_WORKER: Worker | None = None
POLL_SECONDS = 2.0
REQUEST_RESEND = 600.0  # seconds: a requested run enqueued but never started is enqueued again


def scheduled(kind: str) -> None:
    """Entry point of the persistent cron jobs (stored by reference, so it must be module-level)."""
    if _WORKER is None:
        raise RuntimeError("no worker is running in this process")
    _WORKER.run(kind, min_gap=SAME_TICK)


class Worker:
    """Owns the APScheduler instance; one per process, started only by `python -m integration worker`.

    APScheduler holds only recurring jobs (cron + the 2-second tick). One-off runs (catch-up at
    start, requested jobs, retries after a failure) go to a small pool of our own: APScheduler 3
    raises in its thread if a one-off job is removed while it shuts down.
    """

    def __init__(self, ctx, *, poll_seconds: float = POLL_SECONDS, quiet: timedelta = timedelta(seconds=3),
                 max_wait: timedelta = timedelta(seconds=30), dispatcher=None):
        self.ctx = ctx
        # With a dispatcher ([queue] broker_url set) every due job is put on the queue for the queue
        # workers, never run here: this process only schedules, recovers and beats.
        self.dispatcher = dispatcher
        self._sent: dict[str, tuple[int, float]] = {}
        self._broker_down = False  # kind -> (request id enqueued up to, monotonic time)
        self.poll_seconds = poll_seconds
        self.quiet, self.max_wait = quiet, max_wait  # debounce of requested jobs
        self.scheduler = None
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="job")
        self._running: dict[str, Future] = {}  # one-off runs in flight, by kind
        self._retry_at: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._stopping = False
        self.worker_id = f"{SCHEDULER_ROLE if dispatcher is not None else ''}{HOST}:{os.getpid()}"
        self.started_at = datetime.now(UTC)
        self._tick_ok = time.monotonic()  # the last tick that reached the database
        self.stall_exit = float(getattr(ctx.settings.schedule, "stall_exit_seconds", STALL_EXIT))
        self._beat_at = 0.0
        self._db_down = False

    def run(self, kind: str, *, min_gap: timedelta = timedelta(0), on_start=None) -> RunOutcome:
        if self.dispatcher is not None:
            return self._enqueue(kind, min_gap=min_gap)
        try:
            outcome = run_job(self.ctx, kind, min_gap=min_gap, on_start=on_start)
        except SQLAlchemyError as exc:  # the database is locked or restarting: try again shortly
            self._database_unavailable(exc, job=kind)
            with self._lock:
                self._retry_at[kind] = datetime.now(UTC) + timedelta(seconds=DB_RETRY)
            return RunOutcome(kind, "skipped", error=f"database unavailable: {type(exc).__name__}")
        with self._lock:
            if outcome.status == "failed":
                delay = retry_delay(outcome.failures)
                self._retry_at[kind] = datetime.now(UTC) + timedelta(seconds=delay)
                event(log, "worker.retry_scheduled", logging.WARNING, job=kind, seconds=round(delay))
            elif outcome.status != "skipped":
                self._retry_at.pop(kind, None)
        return outcome

    def _enqueue(self, kind: str, *, min_gap: timedelta = timedelta(0), picked_up_to: int | None = None,
                 reason: str = "", retry: bool = True) -> RunOutcome:
        """Queue mode: hand the run to the queue workers; a broker that does not take it is tried
        again in DB_RETRY seconds (the run itself, and its ``runs`` row, happen in a queue worker).
        ``retry=False``: the caller tries again by itself (requests stay ready until a run picks them)."""
        try:
            self.dispatcher.enqueue(kind, min_gap=min_gap, picked_up_to=picked_up_to, reason=reason)
        except Exception as exc:  # noqa: BLE001 - whatever kept it off the queue, it is tried again
            if not self._broker_down:  # logged once per outage, not on every tick
                self._broker_down = True
                event(log, "worker.enqueue_failed", logging.WARNING, job=kind, broker=self.dispatcher.endpoint,
                      error=f"{type(exc).__name__}: {exc}")
            if retry:
                with self._lock:
                    self._retry_at[kind] = datetime.now(UTC) + timedelta(seconds=DB_RETRY)
            return RunOutcome(kind, "skipped", error="broker unavailable")
        if self._broker_down:
            self._broker_down = False
            event(log, "worker.broker_back", broker=self.dispatcher.endpoint)
        with self._lock:
            self._retry_at.pop(kind, None)
        return RunOutcome(kind, "queued")

    def _enqueue_requested(self, kind: str, max_id: int, lease_held: bool) -> None:
        """Requests settled for ``kind``: enqueue one run covering them, once. Not while a run of the
        kind holds the lease (the queued task would only be skipped), and again only if the run did
        not pick them up within REQUEST_RESEND (its message was lost with a broker that lost data)."""
        sent = self._sent.get(kind)
        if lease_held or (sent is not None and sent[0] >= max_id
                          and time.monotonic() - sent[1] < REQUEST_RESEND):
            return
        if self._enqueue(kind, picked_up_to=max_id, reason="requested", retry=False).status == "queued":
            self._sent[kind] = (max_id, time.monotonic())

    def submit(self, kind: str, on_start=None) -> bool:
        """Run ``kind`` once, now, unless a one-off run of it is already in flight here."""
        with self._lock:
            if self._stopping or (kind in self._running and not self._running[kind].done()):
                return False
            self._running[kind] = self._pool.submit(self.run, kind, on_start=on_start)
            return True

    def tick(self) -> None:
        """Every few seconds: the heartbeat, requested jobs whose requests have settled, due retries."""
        now = datetime.now(UTC)
        try:
            if time.monotonic() - self._beat_at >= HEARTBEAT_EVERY:
                beat(self.ctx.store, self.worker_id, self.started_at, now)
                self._beat_at = time.monotonic()
            with self.ctx.store.session() as s:
                ready = jobs_mod.ready_requests(s, now, quiet=self.quiet, max_wait=self.max_wait)
                held = ({k for k, in s.execute(select(JobLock.kind).where(JobLock.run_id.is_not(None)))}
                        if self.dispatcher is not None and ready else set())
            interrupted = interrupted_kinds(self.ctx.store, now) if self.dispatcher is not None else []
        except SQLAlchemyError as exc:
            self._database_unavailable(exc)
            return
        self._tick_ok = time.monotonic()
        if self._db_down:
            self._db_down = False
            event(log, "worker.database_back")
        for kind in interrupted:  # a queue worker died mid-run: run it again now, not after the visibility timeout
            self.submit(kind)
        for kind, max_id in ready:
            if self.dispatcher is not None:
                self._enqueue_requested(kind, max_id, kind in held)
            else:
                self.submit(kind, on_start=self._picker(kind, max_id))
        with self._lock:
            due = [k for k, at in self._retry_at.items() if at <= now]
        for kind in due:
            self.submit(kind)

    def _database_unavailable(self, exc: BaseException, **fields) -> None:
        """Logged once per outage, not on every 2-second tick."""
        if not self._db_down:
            self._db_down = True
            event(log, "worker.database_unavailable", logging.WARNING, error=f"{type(exc).__name__}", **fields)

    def stalled(self) -> str:
        """Why this worker should exit so the platform restarts it ('' = healthy)."""
        if self.scheduler is not None and not self.scheduler.running:
            return "the scheduler stopped"
        thread = getattr(self.scheduler, "_thread", None)
        if thread is not None and not thread.is_alive():
            return "the scheduler's thread died"
        idle = time.monotonic() - self._tick_ok
        if idle > self.stall_exit:
            return f"no job could be scheduled for {round(idle)} s (database unavailable)"
        return ""

    def _picker(self, kind: str, max_id: int):
        def picked() -> None:  # requests are consumed when the run starts; later ones get another run
            with self.ctx.store.session() as s:
                jobs_mod.mark_picked(s, kind, max_id, datetime.now(UTC))
        return picked

    def start(self) -> None:
        from apscheduler.executors.pool import ThreadPoolExecutor as ApsPool
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        global _WORKER
        settings = self.ctx.settings
        specs = cron_specs(settings)
        tz = settings.school.timezone
        interrupted = interrupted_kinds(self.ctx.store, datetime.now(UTC))
        forget_dead_workers(self.ctx.store)
        self.scheduler = _steady(BackgroundScheduler, self)(
            jobstores={"default": SQLAlchemyJobStore(engine=self.ctx.store.engine, tablename="apscheduler_jobs"),
                       "memory": MemoryJobStore()},
            executors={"default": ApsPool(4)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 600}, timezone=tz)
        _WORKER = self
        self.scheduler.start(paused=True)
        for job in self.scheduler.get_jobs(jobstore="default"):
            if job.id not in specs:
                job.remove()
        for kind, spec in specs.items():
            trigger = trigger_for(spec, tz)
            existing = self.scheduler.get_job(kind, jobstore="default")
            if existing is not None and repr(existing.trigger) == repr(trigger):
                continue  # keep its next run time, so a tick missed while we were down still fires
            self.scheduler.add_job("integration.scheduler:scheduled", trigger, args=[kind], id=kind, name=kind,
                                   jobstore="default", replace_existing=True,
                                   misfire_grace_time=12 * 3600 if kind == "digest" else 600)
        self.scheduler.add_job(self.tick, "interval", seconds=self.poll_seconds, id="tick", jobstore="memory",
                               misfire_grace_time=None)
        self.scheduler.resume()
        for kind in ("alerts", "digest"):  # catch up at once: both are idempotent and cheap when idle
            self.submit(kind)
        if self.dispatcher is not None:  # a queue worker's run interrupted while no scheduler ran
            for kind in interrupted:
                self.submit(kind)
        event(log, "worker.started", jobs=",".join(sorted(specs)), timezone=tz,
              mode="enqueue" if self.dispatcher is not None else "run")

    def stop(self, wait: bool = True) -> None:
        """Graceful: no new runs; running jobs finish (a kill instead leaves a lease that expires).
        ``wait=False`` (stalled): nothing waits for the database, and the heartbeat is left to go stale."""
        global _WORKER
        with self._lock:
            self._stopping = True
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        self._pool.shutdown(wait=wait)
        if self.dispatcher is not None:
            self.dispatcher.close()
        _WORKER = None
        if wait:  # stopped, not stalled: its heartbeat goes (/readyz says no worker runs until another starts)
            try:
                with self.ctx.store.session() as s:
                    s.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker == self.worker_id))
            except SQLAlchemyError:
                pass
        event(log, "worker.stopped")


def _steady(base: type, worker: Worker) -> type:
    """APScheduler's scheduler class, with a pass that survives the database.

    APScheduler 3 catches errors of ``get_due_jobs`` but not of ``update_job`` or
    ``get_next_run_time``: one ``database is locked`` there ends its thread for good. A failed
    pass is retried after PASS_RETRY seconds instead (a cron job whose next run time could not be
    stored is found due again and runs once: ``SAME_TICK`` and the lease keep it single).
    """

    class SteadyScheduler(base):
        def _process_jobs(self):
            try:
                return super()._process_jobs()
            except SQLAlchemyError as exc:
                worker._database_unavailable(exc, during="scheduling")
                return PASS_RETRY

    return SteadyScheduler
