"""Read-only queries behind the pages and the API, so both show the same numbers.

Only aggregate functions here return data a viewer may see; anything naming people is
fetched by the views that check the ``findings`` capability.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from integration.settings import Settings
from integration.store.models_alerts import OutboxEmail
from integration.store.models_audit import FINDING_STATUSES, Finding
from integration.store.models_ops import Run
from integration.web.scope import Schools, scoped

OPEN = ("new", "reviewing")
SEVERITIES = ("high", "medium", "low")


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def last_runs(session: Session) -> list[Run]:
    """The newest run of every job, by job name."""
    newest = select(Run.job, func.max(Run.id).label("id")).group_by(Run.job).subquery()
    return list(session.scalars(select(Run).join(newest, Run.id == newest.c.id).order_by(Run.job)))


def run_json(run: Run) -> dict:
    return {"job": run.job, "status": run.status, "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at), "summary": run.summary or {}, "error": run.error or ""}


def findings_by_rule(session: Session, schools: Schools = None) -> list[dict]:
    """Per rule and severity: open (new + reviewing) and all-time counts, per status too, within ``schools``."""
    rows = session.execute(scoped(select(Finding.rule, Finding.severity, Finding.status, func.count()), schools)
                           .group_by(Finding.rule, Finding.severity, Finding.status))
    table: dict[tuple[str, str], dict] = {}
    for rule, severity, status, n in rows:
        entry = table.setdefault((rule, severity), {"rule": rule, "severity": severity, "open": 0, "total": 0,
                                                     **{s: 0 for s in FINDING_STATUSES}})
        entry[status] = entry.get(status, 0) + n
        entry["total"] += n
        if status in OPEN:
            entry["open"] += n
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(table.values(), key=lambda e: (order.get(e["severity"], 9), e["rule"]))


def outbox_state(session: Session, schools: Schools = None) -> dict:
    """The outbox's counts, of ``schools``' emails only when the user sees some schools."""
    def mine(q):
        return q if schools is None else q.where(OutboxEmail.school.in_(sorted(schools)))

    counts = dict(session.execute(mine(select(OutboxEmail.status, func.count())).group_by(OutboxEmail.status)).all())
    oldest = session.scalar(mine(select(func.min(OutboxEmail.due_at)).where(OutboxEmail.status == "pending")))
    return {"pending": counts.get("pending", 0), "sent": counts.get("sent", 0),
            "failed": counts.get("failed", 0), "cancelled": counts.get("cancelled", 0),
            "oldest_pending_due": _iso(oldest)}


def ack_progress(session: Session, settings: Settings, now: datetime, schools: Schools = None) -> list[dict]:
    """Acknowledgement of each school's current policy version (the schools in ``schools`` that have a round)."""
    from integration.web import school_acks

    tenants = [t for t in settings.tenants.schools if schools is None or t.id in schools]
    return [p for p in (school_acks.progress(session, settings, t, now) for t in tenants) if p is not None]


def readiness(store) -> tuple[bool, str]:
    """Database reachable, the worker (if one runs) scheduling jobs, and no job's newest run failed."""
    if not store.ping():
        return False, "database not reachable"
    from integration.scheduler import heartbeat_problem

    try:
        with store.session() as s:
            failing = [r.job for r in last_runs(s) if r.status == "failed"]
            stalled = heartbeat_problem(s, datetime.now(UTC))
    except SQLAlchemyError:
        return False, "database not readable"
    if stalled:
        return False, stalled
    if failing:
        return False, "last run failed: " + ", ".join(failing)
    return True, "ok"


def config_health(settings: Settings, dev_login: bool) -> list[dict]:
    """Local configuration checks for the admin (no outside calls; `doctor` does those)."""
    s = settings

    def item(name: str, ok: bool, fix: str) -> dict:
        return {"name": name, "ok": ok, "fix": "" if ok else fix}

    return [
        item("DSL alert recipients", bool(s.alerts.dsl_emails), "set [alerts] dsl_emails"),
        item("Alert sender", bool(s.alerts.from_address), "set [alerts] from_address"),
        item("Policy version", bool(s.acknowledgement.policy_version), "set [acknowledgement] policy_version"),
        item("Google sign-in", bool(s.web.oauth_client_id and s.web.oauth_client_secret),
             "set [web] oauth_client_id and oauth_client_secret (a Web OAuth client)"),
        item("DSL web users", bool(s.web.dsl_users), "add the DSL's address to [web] dsl_users"),
        item("Push channels", bool(s.webhooks.public_url), "set [webhooks] public_url to receive Google push"),
        item("Pub/Sub push", bool(s.webhooks.pubsub_topic and s.webhooks.pubsub_service_account
                                  and (s.webhooks.pubsub_audience or s.webhooks.public_url)),
             "set [webhooks] pubsub_topic, pubsub_service_account and pubsub_audience (or public_url)"),
        item("Production sign-in", not dev_login, "development sign-in is on: set [web] dev_login = false"),
    ]
