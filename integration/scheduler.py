"""The worker's scheduler: APScheduler 3 in ONE dedicated process (`python -m integration worker`).

- Cron jobs (``[schedule]``, plus the digest at ``[alerts] digest_time`` in the school's
  timezone and escalation every 5 minutes) live in a persistent SQLAlchemyJobStore in the
  service's database, so a digest missed while the worker was down still runs on restart.
- Every run goes through :func:`run_job`: a lease row per job kind (``job_locks``) so one run of
  a kind happens at a time even across two worker processes, a ``runs`` row with the outcome
  and error, a heartbeat that keeps the lease while the job works, and a short retry backoff
  after a failure (plus the next tick) — a failing job is never silently skipped.
- A run left ``running`` by a killed worker is found through its expired lease, marked failed
  ("interrupted"), and the job runs again (jobs are idempotent).
- Requested jobs (``job_requests``, from webhooks) are polled every 2 seconds and debounced.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from integration import jobs as jobs_mod
from integration.errors import ConfigError
from integration.logs import event
from integration.store.models_alerts import JobLock
from integration.store.models_ops import Run

log = logging.getLogger("safechannels.worker")

LEASE = timedelta(minutes=5)
SAME_TICK = timedelta(seconds=30)  # a second worker firing the same cron tick skips it
RETRY_BASE, RETRY_CAP = 60.0, 900.0  # seconds: 1, 2, 4 ... 15 minutes after consecutive failures
ESCALATION_CRON = "*/5 * * * *"


@dataclass
class RunOutcome:
    kind: str
    status: str  # ok | partial | failed | skipped
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
        previous = s.scalar(select(JobLock.run_id).where(JobLock.kind == kind))
        cond = [JobLock.kind == kind, JobLock.lease_until.is_(None) | (JobLock.lease_until < now)]
        if min_gap:
            cond.append(JobLock.last_started_at.is_(None) | (JobLock.last_started_at < now - min_gap))
        res = s.execute(update(JobLock).where(*cond).values(owner=owner, lease_until=now + LEASE,
                                                           last_started_at=now))
        if res.rowcount != 1:
            return None
        if previous is not None:
            s.execute(update(Run).where(Run.id == previous, Run.status == "running").values(
                status="failed", finished_at=now,
                error="interrupted: the worker stopped mid-job (lease expired); the job runs again"))
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


class _Heartbeat:
    """Extends the lease while a long job works, so a live run is never taken for a dead one."""

    def __init__(self, store, kind: str, owner: str):
        self.store, self.kind, self.owner = store, kind, owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{kind}", daemon=True)

    def _beat(self) -> None:
        while not self._stop.wait(LEASE.total_seconds() / 3):
            try:
                with self.store.session() as s:
                    s.execute(update(JobLock).where(JobLock.kind == self.kind, JobLock.owner == self.owner)
                              .values(lease_until=datetime.now(UTC) + LEASE))
            except Exception:  # noqa: BLE001 - a missed beat only risks a duplicate run, never a loss
                event(log, "worker.heartbeat_failed", logging.WARNING, job=self.kind)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def run_job(ctx, kind: str, *, now: datetime | None = None, min_gap: timedelta = timedelta(0),
            on_start=None) -> RunOutcome:
    """Run one job under its lease and record it in ``runs``. Never raises for a job's failure."""
    fn = jobs_mod.JOBS[kind]
    clock = now or datetime.now(UTC)
    owner = uuid.uuid4().hex
    store = ctx.store
    run_id = acquire(store, kind, owner, clock, min_gap=min_gap)
    if run_id is None:
        event(log, "worker.job_skipped", logging.DEBUG, job=kind, reason="another run holds the lease")
        return RunOutcome(kind, "skipped")
    if on_start is not None:
        on_start()
    status, summary, error, code = "ok", {}, "", 0
    try:
        with _Heartbeat(store, kind, owner):
            summary = jobs_mod.summarise(fn(ctx, clock))
        if summary.get("partial") or summary.get("status") == "partial" or summary.get("errors"):
            status = "partial"
    except Exception as exc:  # noqa: BLE001 - recorded on the run, logged, retried
        status, error, code = "failed", f"{type(exc).__name__}: {exc}", int(getattr(exc, "exit_code", 1) or 1)
        fix = getattr(exc, "fix", "")
        if fix:
            error += f" (fix: {fix})"
    finished = clock if now is not None else datetime.now(UTC)
    failures = _finish(store, kind, owner, run_id, status, summary, error, finished)
    level = logging.ERROR if status == "failed" else logging.INFO
    event(log, f"worker.job_{status}", level, job=kind, run=run_id, failures=failures,
          **({"error": error} if error else {}))
    return RunOutcome(kind, status, run_id, summary, error, failures, code)


def recover_interrupted(store, now: datetime) -> int:
    """At start-up: close runs whose worker died (lease expired, still ``running``). Returns how many."""
    closed = 0
    with store.session() as s:
        for lock in s.scalars(select(JobLock).where(JobLock.run_id.is_not(None),
                                                    JobLock.lease_until.is_not(None), JobLock.lease_until < now)):
            res = s.execute(update(Run).where(Run.id == lock.run_id, Run.status == "running").values(
                status="failed", finished_at=now,
                error="interrupted: the worker stopped mid-job (lease expired); the job runs again"))
            closed += res.rowcount or 0
            lock.owner, lock.lease_until, lock.run_id = "", None, None
    if closed:
        event(log, "worker.recovered_interrupted", logging.WARNING, runs=closed)
    return closed


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
                 max_wait: timedelta = timedelta(seconds=30)):
        self.ctx = ctx
        self.poll_seconds = poll_seconds
        self.quiet, self.max_wait = quiet, max_wait  # debounce of requested jobs
        self.scheduler = None
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="job")
        self._running: dict[str, Future] = {}  # one-off runs in flight, by kind
        self._retry_at: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._stopping = False

    def run(self, kind: str, *, min_gap: timedelta = timedelta(0), on_start=None) -> RunOutcome:
        outcome = run_job(self.ctx, kind, min_gap=min_gap, on_start=on_start)
        with self._lock:
            if outcome.status == "failed":
                delay = retry_delay(outcome.failures)
                self._retry_at[kind] = datetime.now(UTC) + timedelta(seconds=delay)
                event(log, "worker.retry_scheduled", logging.WARNING, job=kind, seconds=round(delay))
            elif outcome.status != "skipped":
                self._retry_at.pop(kind, None)
        return outcome

    def submit(self, kind: str, on_start=None) -> bool:
        """Run ``kind`` once, now, unless a one-off run of it is already in flight here."""
        with self._lock:
            if self._stopping or (kind in self._running and not self._running[kind].done()):
                return False
            self._running[kind] = self._pool.submit(self.run, kind, on_start=on_start)
            return True

    def tick(self) -> None:
        """Every few seconds: start requested jobs whose requests have settled, and due retries."""
        now = datetime.now(UTC)
        with self.ctx.store.session() as s:
            ready = jobs_mod.ready_requests(s, now, quiet=self.quiet, max_wait=self.max_wait)
        for kind, max_id in ready:
            self.submit(kind, on_start=self._picker(kind, max_id))
        with self._lock:
            due = [k for k, at in self._retry_at.items() if at <= now]
        for kind in due:
            self.submit(kind)

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
        recover_interrupted(self.ctx.store, datetime.now(UTC))
        self.scheduler = BackgroundScheduler(
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
        event(log, "worker.started", jobs=",".join(sorted(specs)), timezone=tz)

    def stop(self, wait: bool = True) -> None:
        """Graceful: no new runs; running jobs finish (a kill instead leaves a lease that expires)."""
        global _WORKER
        with self._lock:
            self._stopping = True
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=wait)
        self._pool.shutdown(wait=wait)
        _WORKER = None
        event(log, "worker.stopped")
