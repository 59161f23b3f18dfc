"""Escalation: a high alert nobody has opened or triaged within ``escalate_after_hours`` goes to
the deputies of the finding's schools, once.

"Opened or triaged" = the finding is no longer ``new``, or the triage log holds a view or a
status change for it. The clock starts when the alert was queued (not when it was sent):
if the DSL's email could not be delivered, that is all the more reason to tell a deputy.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from integration.alerts import audience, compose
from integration.alerts.outbox import queue_email
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
    tenants = settings.tenants
    schools = audience.schools_of(session, tenants, [f.id for _a, f in due])
    hours = settings.alerts.escalate_after_hours
    escalated, unheard, told = 0, 0, set()
    for alerted, finding in due:
        deputies = audience.deputies(tenants, schools[finding.id])
        if not deputies:  # stays due: escalated once a deputy is configured
            unheard += bool(schools[finding.id])  # in no school: the trust's leads, alerted, have no deputies
            continue
        where = audience.school_names(tenants, settings, schools[finding.id]) if tenants.is_trust else ""
        email = compose.escalation_email(session, finding, settings, hours, where)
        for addr in deputies:
            email.to = [addr]
            key = f"escalation:{finding.id}:{int(finding.created_at.timestamp())}:{addr}"  # see routing's key
            queue_email(session, email, key, now=now, kind="escalation", finding_id=finding.id,
                        domain=settings.school.domain, school_domains=settings.approved_domains,
                        school=audience.outbox_school(schools[finding.id]))
            told.add(addr)
        alerted.escalated_at = now
        escalated += 1
    if unheard:
        event(log, "alerts.escalation_unconfigured", logging.WARNING, findings=unheard,
              advice=("set deputy_emails of the findings' schools ([[schools]])" if tenants.is_trust else
                      "set [alerts] deputy_emails so untriaged high alerts reach a deputy DSL"))
    if not escalated:
        return 0
    session.flush()
    event(log, "alerts.escalated", findings=escalated, deputies=len(told))
    return escalated
