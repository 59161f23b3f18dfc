"""Job functions the worker runs, and the queue of requested (debounced) incremental jobs.

Each job is ``fn(ctx, now) -> summary dict``. Other engineers' modules are imported inside the
job, so a missing or broken module fails that job visibly (a ``failed`` run naming it), never
the worker. Jobs are idempotent, so a run interrupted by a kill is simply run again.

``request_job(session, kind, reason, debounce_key="")`` is how webhooks ask for a run "soon":
it inserts a ``job_requests`` row in the caller's transaction; the worker picks requests up
within seconds and runs the job once for however many requests arrived (debounced).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from integration.errors import ConfigError
from integration.store.models_alerts import JobRequest

JobFn = Callable[[object, datetime], dict]


def _call(module: str, name: str, *args, **kwargs):
    """Import ``module.name`` lazily; a missing one is an error naming it (recorded on the run)."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            raise ConfigError(f"job needs {module}.{name}, but {module} is not installed in this build") from None
        raise
    fn = getattr(mod, name, None)
    if fn is None:
        raise ConfigError(f"job needs {module}.{name}, which does not exist in this build")
    return fn(*args, **kwargs)


def summarise(result) -> dict:
    """Whatever a job returned, as a JSON-safe dict for the ``runs`` table (datetimes as text)."""
    doc: object
    if result is None:
        doc = {}
    elif isinstance(result, dict):
        doc = result
    elif hasattr(result, "as_json") and isinstance(result.as_json(), dict):
        status = getattr(result, "status", "")
        errors = getattr(result, "errors", None)
        doc = {**result.as_json(), **({"status": status} if isinstance(status, str) and status else {}),
               **({"errors": errors} if errors else {})}
    elif dataclasses.is_dataclass(result) and not isinstance(result, type):
        doc = dataclasses.asdict(result)
    else:
        doc = {"result": str(result)}
    return json.loads(json.dumps(doc, default=str))


def roster_sync(ctx, now: datetime) -> dict:
    return summarise(_call("integration.roster", "run_sync", ctx))


def audit(ctx, now: datetime) -> dict:
    summary = summarise(_call("integration.audit", "run_audit", ctx))
    with ctx.store.session() as s:  # deliver the alerts it queued within seconds, not at the next tick
        request_job(s, "alerts", "audit finished", debounce_key="after-audit")
    return summary


def acknowledgement(ctx, now: datetime) -> dict:
    return summarise(_call("integration.acknowledgement", "run_acknowledgement", ctx))


def _deliver(ctx, now: datetime) -> dict:
    from integration.alerts import deliver_due

    result = deliver_due(ctx, now)
    if result.refused is not None:
        raise result.refused
    return result.as_json()


def alerts(ctx, now: datetime) -> dict:
    release_stale_held(ctx, now)
    return _deliver(ctx, now)


def release_stale_held(ctx, now: datetime) -> int:
    """Alerts an interrupted audit held and never released: emailed once older than the burst window."""
    from integration.alerts import release_held

    window = timedelta(minutes=ctx.settings.alerts.burst_window_minutes)
    with ctx.store.session() as s:
        return release_held(s, ctx.settings, now, older_than=now - window)


def digest(ctx, now: datetime) -> dict:
    from integration.alerts import run_digest

    with ctx.store.session() as s:
        outcome = run_digest(s, ctx.settings, now)
    summary = {"digest": outcome.run_key if outcome else None, "new": outcome.new if outcome else 0,
               "updated": outcome.updated if outcome else 0}
    return {**summary, **_deliver(ctx, now)}


def escalation(ctx, now: datetime) -> dict:
    from integration.alerts import run_escalation

    with ctx.store.session() as s:
        escalated = run_escalation(s, ctx.settings, now)
    return {"escalated": escalated, **(_deliver(ctx, now) if escalated else {})}


def watch_renewal(ctx, now: datetime) -> dict:
    return summarise(_call("integration.watches", "renew_all", ctx))


def retention_purge(ctx, now: datetime) -> dict:
    """Findings past retention (the findings module), then our own sent email and old requests."""
    from integration.alerts.outbox import purge_sent
    from integration.alerts.routing import purge_orphans

    summary: dict = {}
    try:
        findings_mod = importlib.import_module("integration.findings")
    except ModuleNotFoundError:
        findings_mod = None
    purge = getattr(findings_mod, "purge", None)
    keep = timedelta(days=max(ctx.settings.privacy.activity_retention_days, 1))
    with ctx.store.session() as s:
        if purge is not None:
            summary["findings"] = summarise(purge(s, ctx.settings, now))
        else:
            summary["findings"] = "integration.findings.purge not available"
        summary["outbox_purged"] = purge_sent(s, now - keep)
        summary["alert_routes_purged"] = purge_orphans(s)
        summary["person_views_purged"] = purge_person_views(s, ctx.settings, now)
        summary["requests_purged"] = s.execute(delete(JobRequest).where(
            JobRequest.picked_at.is_not(None), JobRequest.picked_at < now - timedelta(days=7))).rowcount or 0
    if purge is None:
        summary["partial"] = True
    return summary


def purge_person_views(session: Session, settings, now: datetime) -> int:
    """Views of people's pages, kept as long as a closed finding and its own access log."""
    from integration.store.models_webapp import PersonView

    before = now - timedelta(days=max(settings.privacy.closed_findings_retention_days, 1))
    return session.execute(delete(PersonView).where(PersonView.at < before)).rowcount or 0


JOBS: dict[str, JobFn] = {
    "roster_sync": roster_sync, "audit": audit, "acknowledgement": acknowledgement, "alerts": alerts,
    "digest": digest, "escalation": escalation, "watch_renewal": watch_renewal, "retention_purge": retention_purge,
}


# ------------------------------------------------------------------ requested jobs


def request_job(session: Session, kind: str, reason: str = "", debounce_key: str = "",
                now: datetime | None = None) -> bool:
    """Ask the worker to run ``kind`` soon (in the caller's transaction). False when an identical
    request (same kind and non-empty ``debounce_key``) is already waiting."""
    from integration.store.base import utcnow

    if kind not in JOBS:
        raise ValueError(f"unknown job kind {kind!r} (known: {', '.join(JOBS)})")
    if debounce_key and session.scalar(select(JobRequest.id).where(
            JobRequest.kind == kind, JobRequest.debounce_key == debounce_key[:255],
            JobRequest.picked_at.is_(None)).limit(1)) is not None:
        return False
    session.add(JobRequest(kind=kind, reason=reason[:255], debounce_key=debounce_key[:255],
                           requested_at=now or utcnow()))
    session.flush()
    return True


def ready_requests(session: Session, now: datetime, *, quiet: timedelta = timedelta(seconds=3),
                   max_wait: timedelta = timedelta(seconds=30)) -> list[tuple[str, int]]:
    """Kinds to run now, with the newest request id each covers: when requests have stopped
    arriving for ``quiet``, or the oldest has waited ``max_wait`` (a steady stream still runs)."""
    rows = session.execute(select(JobRequest.kind, func.min(JobRequest.requested_at), func.max(JobRequest.requested_at),
                                  func.max(JobRequest.id)).where(JobRequest.picked_at.is_(None))
                           .group_by(JobRequest.kind))
    ready = []
    for kind, first, last, max_id in rows:
        first, last = _aware(first), _aware(last)
        if now - last >= quiet or now - first >= max_wait:
            ready.append((kind, max_id))
    return ready


def mark_picked(session: Session, kind: str, up_to_id: int, now: datetime) -> int:
    res = session.execute(update(JobRequest).where(JobRequest.kind == kind, JobRequest.picked_at.is_(None),
                                                   JobRequest.id <= up_to_id).values(picked_at=now))
    return res.rowcount or 0


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo else value.replace(tzinfo=UTC)
