"""Routing: which finding goes to whom, and when. Runs inside the audit's transaction.

high/medium -> email at once to every DSL of the finding's schools (audience.py); low -> the next
daily digest. Each finding is routed once, ever (``alerted_findings`` is keyed by finding id; outbox keys are
``finding:<id>:<created>[:r<n>]:<recipient>``), so calling this twice, or for a finding with new
occurrences, queues nothing new: new occurrences surface as "updated" in the next digest.

Bursts (a school's first audit once sent 49 separate emails to one DSL): the audit routes its
high/medium findings as ``held`` batch by batch, in each batch's transaction, and releases them
when the run ends (`release_held`). If those released, plus the ones emailed in the last
``[alerts] burst_window_minutes``, number more than ``burst_threshold``, they go as one email per
DSL address listing them all, each with its link (key ``burst:<first finding's key>:<recipient>``);
otherwise one email each. In a trust this is counted and listed per DSL, over their schools' findings. A release claims its rows (``held`` -> ``immediate``) with one UPDATE, so
two releasers never email the same finding. Held rows an interrupted audit left behind are
released by the next ``alerts`` job once older than the window: delayed, never lost.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists, func, or_, select, update
from sqlalchemy.orm import Session

from integration.alerts import audience, compose
from integration.alerts.audience import NO_SCHOOL, Mailbox
from integration.alerts.outbox import queue_email
from integration.logs import event
from integration.settings import Settings
from integration.store.models_alerts import AlertedFinding
from integration.store.models_audit import Finding, FindingEvent, FindingSchool

log = logging.getLogger("safechannels.alerts")

IMMEDIATE = ("high", "medium")
ALERTABLE_STATUSES = ("new",)
REOPENED_FROM = ("resolved", "suppressed", "false_positive")


def route_for(severity: str) -> str:
    return "immediate" if severity in IMMEDIATE else "digest"


recipients = audience.clean  # kept for callers of the old name


def _reopenings(session: Session, finding_id: int) -> list[datetime]:
    """When the finding went back to ``new`` (recurred after resolution, exception expired)."""
    return list(session.scalars(select(FindingEvent.at).where(
        FindingEvent.finding_id == finding_id, FindingEvent.action == "status", FindingEvent.to_status == "new",
        FindingEvent.from_status.in_(REOPENED_FROM))))


def _reopened(session: Session, finding_id: int, since: datetime) -> int:
    """How many times the finding reopened; 0 unless the latest reopening is after ``since`` (the
    last time it was routed)."""
    events = _reopenings(session, finding_id)
    return len(events) if events and max(events) > since else 0


def queue_finding_alerts(session: Session, findings: list, settings: Settings, now: datetime, *,
                         hold: bool = False) -> int:
    """Route new, not suppressed findings; returns how many findings were (re)routed.

    ``findings`` may hold new and updated findings alike (model objects or ids); anything
    already routed, suppressed or triaged is skipped. A finding that was routed, then resolved
    and has recurred (back to ``new``) is a new state: it is routed again under a new key.
    high/medium are emailed now (as a burst if there are many), or, with ``hold`` (the audit,
    batch by batch), held until `release_held` at the end of the run.
    """
    if not findings:
        return 0
    session.flush()  # the caller's new findings need their ids
    ids = [f if isinstance(f, int) else f.id for f in findings]
    done = {a.finding_id: a for a in session.scalars(select(AlertedFinding).where(AlertedFinding.finding_id.in_(ids)))}
    routed, held = 0, []
    for finding in session.scalars(select(Finding).where(Finding.id.in_(ids)).order_by(Finding.id)):
        if finding.status not in ALERTABLE_STATUSES:
            continue
        route = "held" if route_for(finding.severity) == "immediate" else "digest"
        alerted = done.get(finding.id)
        if alerted is not None:
            if not _reopened(session, finding.id, alerted.queued_at):
                continue
            alerted.severity, alerted.route, alerted.queued_at = finding.severity, route, now
            alerted.digest_id, alerted.escalated_at = None, None
            alerted.reported_occurrences = max(finding.occurrences or 1, 1)
        else:
            alerted = AlertedFinding(finding_id=finding.id, severity=finding.severity, route=route, queued_at=now,
                                     reported_occurrences=max(finding.occurrences or 1, 1))
            session.add(alerted)
            done[finding.id] = alerted
        routed += 1
        if route == "held":
            held.append(finding.id)
    session.flush()
    if routed:
        event(log, "alerts.queued", findings=routed)
    if held and not hold:
        release_held(session, settings, now, only=held)
    return routed


def _key(session: Session, finding: Finding) -> str:
    """The finding's alert identity: its creation time too (SQLite reuses the highest id once retention
    deleted that finding) and how often it reopened (a recurrence is a new alert)."""
    reopened = len(_reopenings(session, finding.id))
    return f"finding:{finding.id}:{int(finding.created_at.timestamp())}" + (f":r{reopened}" if reopened else "")


def recent_immediate(session: Session, settings: Settings, now: datetime, exclude: list[int],
                     mailbox: Mailbox | None = None) -> int:
    """High/medium findings emailed within the burst window, other than ``exclude`` (in a trust: those
    ``mailbox`` was told of, i.e. of its schools, or in no school for the trust's leads)."""
    since = now - timedelta(minutes=settings.alerts.burst_window_minutes)
    q = select(func.count()).select_from(AlertedFinding).where(
        AlertedFinding.route == "immediate", AlertedFinding.queued_at > since,
        AlertedFinding.finding_id.not_in(exclude))
    if mailbox is not None and settings.tenants.is_trust:
        placed = exists().where(FindingSchool.finding_id == AlertedFinding.finding_id)
        mine = exists().where(FindingSchool.finding_id == AlertedFinding.finding_id,
                              FindingSchool.school.in_(mailbox.schools - {NO_SCHOOL}))
        q = q.where(or_(mine, ~placed) if NO_SCHOOL in mailbox.schools else mine)
    return session.scalar(q) or 0


def is_burst(session: Session, batch: list[Finding], settings: Settings, now: datetime, exclude: list[int],
             mailbox: Mailbox | None = None) -> bool:
    """More than ``burst_threshold`` within the window, counting this batch; one finding is never a burst."""
    if len(batch) < 2:
        return False
    return recent_immediate(session, settings, now, exclude, mailbox) + len(batch) > settings.alerts.burst_threshold


def release_held(session: Session, settings: Settings, now: datetime, *, only: list[int] | None = None,
                 older_than: datetime | None = None) -> int:
    """Email the held high/medium findings (``only`` these; or those routed before ``older_than``) to
    the DSLs of each finding's schools: one email each, or one burst email per DSL listing that DSL's
    findings (a DSL of one school never sees another school's). Returns how many findings were released."""
    claim = update(AlertedFinding).where(AlertedFinding.route == "held")
    if only is not None:
        claim = claim.where(AlertedFinding.finding_id.in_(only))
    if older_than is not None:
        claim = claim.where(AlertedFinding.queued_at < older_than)
    claimed = list(session.scalars(claim.values(route="immediate").returning(AlertedFinding.finding_id)))
    if not claimed:
        return 0
    batch = list(session.scalars(select(Finding).where(Finding.id.in_(claimed), Finding.status.in_(ALERTABLE_STATUSES))
                                 .order_by(Finding.id)))  # one the DSL already triaged needs no email
    tenants = settings.tenants
    schools = audience.schools_of(session, tenants, [f.id for f in batch])
    unheard = [f.id for f in batch if not audience.dsls(settings, tenants, schools[f.id])]
    if unheard:
        event(log, "alerts.no_dsl_configured", logging.WARNING, findings=len(unheard),
              advice=("set dsl_emails of the findings' schools ([[schools]]), and [trust] safeguarding_leads for "
                      "findings in no school" if tenants.is_trust else "set [alerts] dsl_emails")
              + "; the findings are on the dashboard")
    domains = dict(domain=settings.school.domain, school_domains=settings.approved_domains)
    one_by_one: set[str] = set()
    for box in audience.mailboxes(settings, tenants):
        mine = [f for f in batch if box.concerns(schools[f.id])]
        if not is_burst(session, mine, settings, now, claimed, box):
            one_by_one.add(box.address)
            continue
        mine_schools = sorted({s for f in mine for s in schools[f.id]})
        email = compose.burst_email(session, mine, settings, settings.alerts.burst_window_minutes,
                                    audience.school_names(tenants, settings, mine_schools))
        email.to = [box.address]
        queue_email(session, email, f"burst:{_key(session, mine[0])}:{box.address}", now=now, kind="alert",
                    school=audience.outbox_school(mine_schools), **domains)
        event(log, "alerts.burst", findings=len(mine), recipients=1)
    for finding in batch:
        dsl = [a for a in audience.dsls(settings, tenants, schools[finding.id]) if a in one_by_one]
        if not dsl:
            continue
        email = compose.finding_email(session, finding, settings,
                                      audience.school_names(tenants, settings, schools[finding.id]))
        key = _key(session, finding)
        for addr in dsl:
            email.to = [addr]
            queue_email(session, email, f"{key}:{addr}", now=now, kind="alert", finding_id=finding.id,
                        school=audience.outbox_school(schools[finding.id]), **domains)
    return len(claimed)


def purge_orphans(session: Session) -> int:
    """Forget routing of findings that retention has deleted."""
    from sqlalchemy import delete, exists

    res = session.execute(delete(AlertedFinding).where(~exists().where(Finding.id == AlertedFinding.finding_id)))
    return res.rowcount or 0
