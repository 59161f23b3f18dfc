"""Routing: which finding goes to whom, and when. Runs inside the audit's transaction.

high/medium -> one email per DSL address at once; low -> the next daily digest. Each finding
is routed once, ever (``alerted_findings`` is keyed by finding id; outbox keys are
``finding:<id>:<recipient>``), so calling this twice, or for a finding with new occurrences,
queues nothing new: new occurrences surface as "updated" in the next digest.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.alerts import compose
from integration.alerts.outbox import queue_email
from integration.logs import event
from integration.settings import Settings
from integration.store.models_alerts import AlertedFinding
from integration.store.models_audit import Finding, FindingEvent

log = logging.getLogger("safechannels.alerts")

IMMEDIATE = ("high", "medium")
ALERTABLE_STATUSES = ("new",)
REOPENED_FROM = ("resolved", "suppressed", "false_positive")


def route_for(severity: str) -> str:
    return "immediate" if severity in IMMEDIATE else "digest"


def recipients(addresses: list[str]) -> list[str]:
    """Configured addresses, trimmed, lower-cased, de-duplicated, order kept."""
    seen: dict[str, None] = {}
    for a in addresses:
        a = a.strip().lower()
        if a:
            seen.setdefault(a, None)
    return list(seen)


def _reopened(session: Session, finding_id: int, since: datetime) -> int:
    """How many times the finding went back to ``new`` (recurred after resolution, exception expired);
    0 unless the latest reopening is after ``since`` (the last time it was routed)."""
    events = list(session.scalars(select(FindingEvent.at).where(
        FindingEvent.finding_id == finding_id, FindingEvent.action == "status", FindingEvent.to_status == "new",
        FindingEvent.from_status.in_(REOPENED_FROM))))
    return len(events) if events and max(events) > since else 0


def queue_finding_alerts(session: Session, findings: list, settings: Settings, now: datetime) -> int:
    """Queue alerts for new, not suppressed findings; returns how many findings were (re)routed.

    ``findings`` may hold new and updated findings alike (model objects or ids); anything
    already routed, suppressed or triaged is skipped. A finding that was routed, then resolved
    and has recurred (back to ``new``) is a new state: it is routed again under a new key.
    """
    if not findings:
        return 0
    session.flush()  # the caller's new findings need their ids
    ids = [f if isinstance(f, int) else f.id for f in findings]
    done = {a.finding_id: a for a in session.scalars(select(AlertedFinding).where(AlertedFinding.finding_id.in_(ids)))}
    routed = 0
    dsl = recipients(settings.alerts.dsl_emails)
    for finding in session.scalars(select(Finding).where(Finding.id.in_(ids)).order_by(Finding.id)):
        if finding.status not in ALERTABLE_STATUSES:
            continue
        route = route_for(finding.severity)
        # its creation time too: SQLite reuses the highest id once retention deleted that finding, and
        # a new finding must not meet the old one's outbox row under the same key
        key = f"finding:{finding.id}:{int(finding.created_at.timestamp())}"
        alerted = done.get(finding.id)
        if alerted is not None:
            generation = _reopened(session, finding.id, alerted.queued_at)
            if not generation:
                continue
            key += f":r{generation}"
            alerted.severity, alerted.route, alerted.queued_at = finding.severity, route, now
            alerted.digest_id, alerted.escalated_at = None, None
            alerted.reported_occurrences = max(finding.occurrences or 1, 1)
        else:
            alerted = AlertedFinding(finding_id=finding.id, severity=finding.severity, route=route, queued_at=now,
                                     reported_occurrences=max(finding.occurrences or 1, 1))
            session.add(alerted)
            done[finding.id] = alerted
        routed += 1
        if route == "immediate":
            if not dsl:
                event(log, "alerts.no_dsl_configured", logging.WARNING, finding=finding.id,
                      advice="set [alerts] dsl_emails; the finding is on the dashboard")
            email = compose.finding_email(session, finding, settings)
            for addr in dsl:
                email.to = [addr]
                queue_email(session, email, f"{key}:{addr}", now=now, kind="alert",
                            finding_id=finding.id, domain=settings.school.domain, school_domains=settings.approved_domains)
    session.flush()
    if routed:
        event(log, "alerts.queued", findings=routed)
    return routed


def purge_orphans(session: Session) -> int:
    """Forget routing of findings that retention has deleted."""
    from sqlalchemy import delete, exists

    res = session.execute(delete(AlertedFinding).where(~exists().where(Finding.id == AlertedFinding.finding_id)))
    return res.rowcount or 0
