"""Escalation: a high alert nobody has opened or triaged within ``escalate_after_hours`` goes to
the deputies, once.

"Opened or triaged" = the finding is no longer ``new``, or the triage log holds a view or a
status change for it. The clock starts when the alert was queued (not when it was sent):
if the DSL's email could not be delivered, that is all the more reason to tell a deputy.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from integration.alerts import compose
from integration.alerts.outbox import queue_email
from integration.alerts.routing import recipients
from integration.logs import event
from integration.settings import Settings
from integration.store.models_alerts import AlertedFinding
from integration.store.models_audit import Finding, FindingEvent

log = logging.getLogger("safechannels.alerts")

TRIAGE_ACTIONS = ("viewed", "status")


def due_for_escalation(session: Session, settings: Settings, now: datetime) -> list[tuple[AlertedFinding, Finding]]:
    cutoff = now - timedelta(hours=settings.alerts.escalate_after_hours)
    touched = exists().where(FindingEvent.finding_id == Finding.id, FindingEvent.action.in_(TRIAGE_ACTIONS))
    rows = session.execute(
        select(AlertedFinding, Finding).join(Finding, Finding.id == AlertedFinding.finding_id)
        .where(AlertedFinding.severity == "high", AlertedFinding.route == "immediate",
               AlertedFinding.escalated_at.is_(None), AlertedFinding.queued_at <= cutoff,
               Finding.status == "new", ~touched)
        .order_by(Finding.id))
    return [(a, f) for a, f in rows]


def run_escalation(session: Session, settings: Settings, now: datetime) -> int:
    """Queue escalation emails for untriaged high alerts; returns how many findings were escalated."""
    due = due_for_escalation(session, settings, now)
    if not due:
        return 0
    deputies = recipients(settings.alerts.deputy_emails)
    if not deputies:
        event(log, "alerts.escalation_unconfigured", logging.WARNING, findings=len(due),
              advice="set [alerts] deputy_emails so untriaged high alerts reach a deputy DSL")
        return 0
    hours = settings.alerts.escalate_after_hours
    for alerted, finding in due:
        email = compose.escalation_email(session, finding, settings, hours)
        for addr in deputies:
            email.to = [addr]
            key = f"escalation:{finding.id}:{int(finding.created_at.timestamp())}:{addr}"  # see routing's key
            queue_email(session, email, key, now=now, kind="escalation",
                        finding_id=finding.id, domain=settings.school.domain, school_domains=settings.approved_domains)
        alerted.escalated_at = now
    session.flush()
    event(log, "alerts.escalated", findings=len(due), deputies=len(deputies))
    return len(due)
