"""Scale-out: the jobs on a Celery 5 queue (Redis broker), run by any number of `queue-worker` processes.

Why Celery + Redis (docs/internals.md weighs procrastinate/PostgreSQL): Redis is already the shared
rate limiter's store, so a trust adds no further service; Celery's late acknowledgement keeps a
message until its task has finished, so a worker killed mid-job loses nothing.

What is on the queue is a *request to run a job kind*; the run itself goes through
:func:`integration.scheduler.run_job` exactly as in the one-process worker: the ``job_locks`` lease
(one run of a kind at a time across every process), the ``runs`` row, the lease renewal while the
job works. So a message delivered twice (redelivery after a kill, two schedulers firing one tick)
costs at most a second, idempotent run — never a second email (the outbox leases each email) and
never two runs at once.

Delivery guarantees, and who covers what:

- ``task_acks_late``: a message is acknowledged when its task returns, not when it is received.
- ``task_reject_on_worker_lost``: a prefork child that dies mid-task (OOM, SIGKILL) puts its message
  back at once (the default ``queue-worker`` pool is threads, where the whole process is the unit).
- A whole worker process killed: its unacknowledged messages go back on the queue after the Redis
  ``visibility_timeout`` (``[queue] visibility_timeout_seconds``, default 2 hours: longer than any
  job, or a still-running job would be handed to a second worker). That is slow, so the scheduler
  does not wait for it: every tick it looks for runs whose lease holder died (a process gone from
  its host at once, any host once its 5-minute lease runs out), closes them as interrupted and
  enqueues the kind again (:func:`integration.scheduler.interrupted_kinds`).
- A job that fails is retried with the one-process worker's backoff (1, 2, 4 ... 15 minutes), at
  most ``JOB_RETRIES`` times, then its next cron tick; a database that cannot be reached when the
  task starts is retried every ``DB_RETRY`` seconds, at most ``DB_RETRIES`` times.
- ``worker_prefetch_multiplier = 1`` with late acks: a worker holds only the messages it is running,
  so a killed worker strands nothing it had not started.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import delete
from sqlalchemy.exc import SQLAlchemyError

from integration import jobs as jobs_mod
from integration.errors import ConfigError, Unreachable
from integration.holders import HOST
from integration.logs import event
from integration.scheduler import QUEUE_ROLE, beat, retry_delay, run_job

log = logging.getLogger("safechannels.queue")

TASK = "safechannels.run_job"
LANE_TASK = "safechannels.audit_lane"  # one lane of a running audit (integration/audit_spread.py)
JOB_RETRIES = 8  # a failed job: retried after 1, 2, 4, 8, 15, 15, 15, 15 minutes, then its next cron tick
DB_RETRY, DB_RETRIES = 10, 12  # the database unreachable as the task starts: every 10 s for 2 minutes
PUBLISH_RETRIES = 2  # an enqueue that cannot reach the broker fails fast; the scheduler tries again


def broker_endpoint(url: str) -> str:
    """``host:port`` of a broker URL, for the one-line error when nothing answers there."""
    parts = urlsplit(url)
    default = {"redis": 6379, "rediss": 6380, "amqp": 5672, "pyamqp": 5672}.get(parts.scheme, 0)
    return f"{parts.hostname or 'localhost'}:{parts.port or default}"


def _queue_name(settings) -> str:
    return settings.queue.queue_name or "safechannels"


def make_app(settings):
    """The Celery app for this installation (broker = ``[queue] broker_url``), with the task registered."""
    from celery import Celery

    q = settings.queue
    if not q.broker_url:
        raise ConfigError("[queue] broker_url is empty: set it (e.g. redis://127.0.0.1:6379/0) to run queue workers")
    name = _queue_name(settings)
    app = Celery("safechannels", broker=q.broker_url, set_as_current=False)
    transport: dict = {"visibility_timeout": int(q.visibility_timeout_seconds)}
    if urlsplit(q.broker_url).scheme in ("redis", "rediss"):
        transport["global_keyprefix"] = f"{name}:"  # two installations sharing a Redis never mix
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,  # outcomes are the ``runs`` rows, not a result backend
        task_default_queue=name,
        task_serializer="json", accept_content=["json"],
        broker_transport_options=transport,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_redirect_stdouts=False,
        enable_utc=True,
    )
    app.task(name=TASK, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)(_run_job_task)
    app.task(name=LANE_TASK, bind=True, acks_late=True, reject_on_worker_lost=True)(_audit_lane_task)
    return app


def check_broker(settings, timeout: float = 5.0) -> None:
    """Raise :class:`Unreachable` (exit 3, one line naming host:port) unless the broker answers."""
    from kombu import Connection

    url = settings.queue.broker_url
    endpoint = broker_endpoint(url)
    try:
        with Connection(url, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - kombu raises its own and the client library's errors
        raise Unreachable(f"queue broker unreachable at {endpoint} ([queue] broker_url): "
                          f"{type(exc).__name__}: {exc} — start it or correct [queue] broker_url",
                          api="queue", endpoint=endpoint) from None


class Dispatcher:
    """The scheduler's side: puts job requests on the queue (it never runs a job itself)."""

    def __init__(self, settings):
        self.app = make_app(settings)
        self.endpoint = broker_endpoint(settings.queue.broker_url)

    def enqueue(self, kind: str, *, min_gap: timedelta = timedelta(0), picked_up_to: int | None = None,
                reason: str = "") -> None:
        """Raises (kombu's OperationalError, mostly) when the broker cannot take it: the caller retries."""
        self.app.send_task(TASK, kwargs={"kind": kind, "min_gap": min_gap.total_seconds(),
                                         "picked_up_to": picked_up_to, "reason": reason},
                           retry=True, retry_policy={"max_retries": PUBLISH_RETRIES, "interval_start": 0.2,
                                                     "interval_step": 0.5})
        event(log, "queue.enqueued", logging.DEBUG, job=kind, reason=reason or "schedule")

    def close(self) -> None:
        self.app.close()


# ------------------------------------------------------------------ the queue worker's side

_CTX = None  # this process's Context (the queue-worker command sets it before consuming)


def bind_context(ctx, app=None) -> None:
    """This process's Context for the tasks; with ``app``, its audits spread their lanes on the queue."""
    global _CTX
    _CTX = ctx
    if app is not None:
        ctx.lane_queue = LaneQueue(app)


class LaneQueue:
    """How a coordinating audit (audit_spread.run_spread) puts its lanes on the queue."""

    def __init__(self, app):
        self.app = app

    def enqueue_lane(self, run_id: int, lane: int, streams: list[str], *, full: bool, now: datetime) -> None:
        self.app.send_task(LANE_TASK, kwargs={"run_id": run_id, "lane": lane, "streams": streams, "full": full,
                                              "now": now.isoformat()},
                           retry=True, retry_policy={"max_retries": PUBLISH_RETRIES, "interval_start": 0.2,
                                                     "interval_step": 0.5})


def _audit_lane_task(task, run_id: int, lane: int, streams: list[str] | None = None, full: bool = False,
                     now: str = "") -> dict:
    """Run one lane of audit run ``run_id`` if nobody has taken it (the lane row says which streams).
    A database error is not retried here: the lane goes back to ready (or its lease runs out) and the
    run's coordinator takes it."""
    from integration.audit_spread import work_lane

    if _CTX is None:
        raise RuntimeError("the task runs only in `python -m integration queue-worker`")
    try:
        status = work_lane(_CTX, run_id, lane, full=full, now=datetime.fromisoformat(now))
    except SQLAlchemyError as exc:
        event(log, "queue.database_unavailable", logging.WARNING, job="audit lane", run=run_id, lane=lane,
              error=type(exc).__name__)
        return {"status": "database unavailable"}
    return {"status": status}


def _run_job_task(task, kind: str, min_gap: float = 0.0, picked_up_to: int | None = None, reason: str = "") -> dict:
    """One job run under its lease (scheduler.run_job). Requests it covers are marked picked when
    the run starts, as in the one-process worker; a failed run is retried with backoff."""
    if _CTX is None:
        raise RuntimeError("the task runs only in `python -m integration queue-worker`")
    if kind not in jobs_mod.JOBS:  # a message from another version: dropped with a clear log line
        event(log, "queue.unknown_job", logging.ERROR, job=kind)
        return {"status": "unknown"}
    ctx = _CTX

    def picked() -> None:
        with ctx.store.session() as s:
            jobs_mod.mark_picked(s, kind, picked_up_to, datetime.now(UTC))

    try:
        outcome = run_job(ctx, kind, min_gap=timedelta(seconds=min_gap),
                          on_start=picked if picked_up_to else None)
    except SQLAlchemyError as exc:
        event(log, "queue.database_unavailable", logging.WARNING, job=kind, error=type(exc).__name__,
              attempt=task.request.retries)
        raise task.retry(kwargs={"kind": kind, "picked_up_to": picked_up_to, "reason": "database retry"},
                         countdown=DB_RETRY, max_retries=DB_RETRIES) from None
    if outcome.status == "failed" and task.request.retries < JOB_RETRIES:
        delay = retry_delay(outcome.failures)
        event(log, "worker.retry_scheduled", logging.WARNING, job=kind, seconds=round(delay))
        raise task.retry(kwargs={"kind": kind, "reason": "retry after failure"}, countdown=delay,
                         max_retries=JOB_RETRIES)
    return {"status": outcome.status, "run": outcome.run_id}


class QueueHeartbeat:
    """This queue worker's ``worker_heartbeats`` row (``queue@host:pid``), beaten from a thread, so
    ``/readyz`` can tell that jobs are enqueued but no worker takes them."""

    def __init__(self, store, every: float):
        self.store, self.every = store, every
        self.worker = f"{QUEUE_ROLE}{HOST}:{os.getpid()}"
        self.started_at = datetime.now(UTC)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="queue-heartbeat", daemon=True)

    def _beat(self) -> None:
        try:
            beat(self.store, self.worker, self.started_at, datetime.now(UTC))
        except SQLAlchemyError as exc:  # stale until the database is back: /readyz says so
            event(log, "queue.heartbeat_failed", logging.WARNING, error=type(exc).__name__)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self._beat()

    def start(self) -> QueueHeartbeat:
        self._beat()
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stopped gracefully: the row goes (a killed worker's row goes stale, then is forgotten)."""
        from integration.store.models_worker import WorkerHeartbeat

        self._stop.set()
        self._thread.join(timeout=5)
        try:
            with self.store.session() as s:
                s.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker == self.worker))
        except SQLAlchemyError:
            pass
