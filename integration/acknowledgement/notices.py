"""Which acknowledgement emails are due now, queued through the alerts outbox.

Schedule (days are whole 24-hour periods since the person was asked — the round's opening,
or the day a new starter first appeared in the roster):

- invite / new_starter: once, as soon as the person is expected and has not acknowledged;
- reminder: on each ``reminder_days`` day until they acknowledge. A run that missed several
  reminder days sends only the latest one (one email, not a burst); day 0 is the invite itself;
- escalation: once the round is ``deadline_days`` old and anyone is past their own deadline, one
  email per ``escalate_to`` + the school's DSL address (``[alerts] dsl_emails``; in a trust the
  school's ``dsl_emails``) listing the school's overdue, then again every 7 days while anyone is
  overdue (a weekly nudge; the list is what changes).

Each email is recorded in ``ack_notices`` (unique per round, recipient, kind, day) in the same
transaction as its outbox row (outbox key ``ack:<version>:<kind>:<day>:<recipient>``; in a trust
``ack:<school>:<version>:…``, as two schools may share a version and an ``escalate_to``), so a
re-run — or two workers at once — never queues the same email twice.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from integration.acknowledgement.emails import escalation_email, request_email
from integration.acknowledgement.matching import Standing
from integration.acknowledgement.schools import escalation_recipients as school_escalation_recipients
from integration.acknowledgement.schools import tenant_for
from integration.alerts.outbox import queue_email
from integration.logs import event
from integration.protocols import OutgoingEmail
from integration.settings import Settings
from integration.store.models_acks import AckNotice
from integration.store.models_alerts import OutboxEmail

log = logging.getLogger("safechannels.acks")

WEEK = 7


@dataclass
class Queued:
    counts: dict[str, int] = field(default_factory=lambda: {"invite": 0, "new_starter": 0, "reminder": 0,
                                                              "escalation": 0})

    @property
    def total(self) -> int:
        return sum(self.counts.values())


FIRST_REQUESTS = ("invite", "new_starter")


def outbox_key(version: str, kind: str, day: int, recipient: str, school: str = "") -> str:
    """``school``: a trust school's id (a single school's keys have none, as before issue 13)."""
    key = f"ack:{school + ':' if school else ''}{version}:{kind}:{day}:{recipient}"
    if len(key) > 255:  # very long addresses or versions: keep it unique and within the column
        key = f"ack:{hashlib.sha256(key.encode()).hexdigest()}"
    return key


def escalation_recipients(settings: Settings, school: str = "") -> list[str]:
    """Who hears of ``school``'s overdue staff (default: the single school's)."""
    return school_escalation_recipients(settings, tenant_for(settings, school))


def days_since(start: datetime, now: datetime) -> int:
    return (now - start) // timedelta(days=1)


def due_reminder_day(reminder_days: list[int], elapsed: int) -> int | None:
    due = [d for d in set(reminder_days) if 0 < d <= elapsed]
    return max(due) if due else None


def _queue(session, settings: Settings, rnd, kind: str, day: int, recipient: str,
           person_id: int | None, email: OutgoingEmail, now: datetime) -> bool:
    key = outbox_key(rnd.policy_version, kind, day, recipient, rnd.school if settings.tenants.is_trust else "")
    try:
        with session.begin_nested():
            session.add(AckNotice(round_id=rnd.id, recipient=recipient, person_id=person_id, kind=kind, day=day,
                                  outbox_key=key, queued_at=now))
            session.flush()
    except IntegrityError:
        return False  # another run queued it first
    queue_email(session, email, key, now=now, kind="ack", domain=settings.school.domain,
                school_domains=settings.approved_domains, school=rnd.school or None)
    return True


def _withdrawn_first_requests(session, round_id: int) -> dict[str, int]:
    """Recipients whose every first request (invite or new-starter email) in this round was cancelled
    unsent, because they had left when it was due: recipient -> the last such request's `day`
    (a request asked again takes the next day number, keeping (round, recipient, kind, day) unique)."""
    rows = session.execute(
        select(AckNotice.recipient, AckNotice.day, OutboxEmail.status)
        .join(OutboxEmail, OutboxEmail.key == AckNotice.outbox_key, isouter=True)
        .where(AckNotice.round_id == round_id, AckNotice.kind.in_(FIRST_REQUESTS))).all()
    delivered = {r for r, _day, status in rows if status != "cancelled"}  # sent, queued, or purged
    out: dict[str, int] = {}
    for recipient, day, status in rows:
        if status == "cancelled" and recipient not in delivered:
            out[recipient] = max(day, out.get(recipient, day))
    return out


def _first_request(session, settings: Settings, rnd, m, withdrawn: dict[str, int], now: datetime,
                   out: Queued) -> None:
    kind = "new_starter" if m.new_starter else "invite"
    # someone whose first request was cancelled (they had left) and who is back is asked again
    day = withdrawn[m.email] + 1 if m.email in withdrawn else 0
    if _queue(session, settings, rnd, kind, day, m.email, m.person_id,
              request_email(kind, m, rnd, settings), now):
        out.counts[kind] += 1


def queue_invitations(session, st: Standing, settings: Settings, now: datetime) -> Queued:
    """Only the first requests (invitation, or the new starter's email) of everyone outstanding who was
    never asked: plain `acks` sends these, so opening a round always invites; reminders and the
    overdue list stay with `acks --remind` and the scheduler."""
    out = Queued()
    sent = {n.recipient for n in session.scalars(
        select(AckNotice).where(AckNotice.round_id == st.round.id, AckNotice.kind.in_(FIRST_REQUESTS)))}
    withdrawn = _withdrawn_first_requests(session, st.round.id)
    asked = sent - set(withdrawn)
    for m in st.outstanding:
        if m.email not in asked:
            _first_request(session, settings, st.round, m, withdrawn, now, out)
    if out.total:
        event(log, "acks.emails_queued", school=st.round.school, policy_version=st.round.policy_version, **out.counts)
    return out


def queue_due(session, st: Standing, settings: Settings, now: datetime) -> Queued:
    """Queue every acknowledgement email due at `now` for this round (in the caller's transaction)."""
    rnd, a = st.round, settings.acknowledgement
    out = Queued()
    sent = {(n.recipient, n.kind, n.day) for n in session.scalars(
        select(AckNotice).where(AckNotice.round_id == rnd.id))}
    withdrawn = _withdrawn_first_requests(session, rnd.id)
    asked = {r for r, k, _ in sent if k in FIRST_REQUESTS} - set(withdrawn)
    for m in st.outstanding:
        if m.email not in asked:
            _first_request(session, settings, rnd, m, withdrawn, now, out)
            continue  # never a reminder in the same run as the first request
        day = due_reminder_day(a.reminder_days, days_since(m.anchor, now))
        if day is not None and (m.email, "reminder", day) not in sent and _queue(
                session, settings, rnd, "reminder", day, m.email, m.person_id,
                request_email("reminder", m, rnd, settings, day), now):
            out.counts["reminder"] += 1
    overdue = st.overdue(now)
    elapsed = days_since(rnd.opened_at, now)
    if overdue and elapsed >= a.deadline_days:
        day = a.deadline_days + (elapsed - a.deadline_days) // WEEK * WEEK
        for r in escalation_recipients(settings, rnd.school):
            if (r, "escalation", day) not in sent and _queue(
                    session, settings, rnd, "escalation", day, r, None,
                    escalation_email(r, overdue, rnd, settings, now, day), now):
                out.counts["escalation"] += 1
    if out.total:
        event(log, "acks.emails_queued", school=rnd.school, policy_version=rnd.policy_version, **out.counts)
    return out


def queue_reminders_now(session, st: Standing, settings: Settings, now: datetime) -> Queued:
    """"Send reminders now" (the web page): one email to everyone outstanding who has had none from
    this round in the last 12 hours — their first request if they were never asked, else a reminder
    keyed by today's day number — so pressing it twice (or two DSLs at once) emails nobody twice.
    No escalation: that stays on its schedule."""
    rnd = st.round
    out = Queued()
    notices = list(session.scalars(select(AckNotice).where(AckNotice.round_id == rnd.id)))
    sent = {(n.recipient, n.kind, n.day) for n in notices}
    recent = {n.recipient for n in notices if n.queued_at >= now - timedelta(hours=12)}
    withdrawn = _withdrawn_first_requests(session, rnd.id)
    asked = {r for r, k, _ in sent if k in FIRST_REQUESTS} - set(withdrawn)
    for m in st.outstanding:
        if m.email in recent:
            continue
        if m.email not in asked:
            _first_request(session, settings, rnd, m, withdrawn, now, out)
            continue
        day = days_since(m.anchor, now)
        if (m.email, "reminder", day) not in sent and _queue(
                session, settings, rnd, "reminder", day, m.email, m.person_id,
                request_email("reminder", m, rnd, settings, day), now):
            out.counts["reminder"] += 1
    event(log, "acks.reminders_now", school=rnd.school, policy_version=rnd.policy_version, **out.counts)
    return out
