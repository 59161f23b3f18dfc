"""Acknowledgement requests to people who have left are cancelled, not sent.

Why: a request (invite, new-starter or reminder) is queued in the alerts outbox and delivered
later, after retries and leases; if its recipient is suspended, deleted or out of scope by then
(the roster moved on), it must not go. The delivery worker asks `cancel_reason` for every
acknowledgement row it has claimed (the authoritative moment), and each acknowledgement run
sweeps the rows still queued (`cancel_leavers`). Both use the round's own rule of who is asked
(`matching.not_expected_reason`); in a trust, a request of one school's round to someone who has
moved to another school is cancelled too (the other school's round asks them). Escalations go to the
DSL and the head: never cancelled.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.acknowledgement.matching import not_expected_reason
from integration.alerts.outbox import UNSENT, cancel_queued
from integration.logs import event
from integration.settings import Settings
from integration.store.models_acks import AckNotice, AckRound
from integration.store.models_alerts import OutboxEmail
from integration.store.models_roster import Person

log = logging.getLogger("safechannels.acks")

REQUEST_KINDS = ("invite", "new_starter", "reminder")  # emails to the person chased; not "escalation"


def _person(session: Session, notice: AckNotice) -> Person | None:
    if notice.person_id is not None:
        return session.get(Person, notice.person_id)
    return session.scalar(select(Person).where(Person.email == notice.recipient))


def notice_reason(session: Session, notice: AckNotice, settings: Settings) -> str:
    """Why this queued request must not be sent ('' = send it)."""
    if notice.kind not in REQUEST_KINDS:
        return ""
    person = _person(session, notice)
    why = not_expected_reason(person, settings)
    if not why and settings.tenants.is_trust:
        school = session.scalar(select(AckRound.school).where(AckRound.id == notice.round_id))
        if person.school != school:
            why = f"now at school {person.school}" if person.school else "now in no school"
    return f"recipient no longer asked to acknowledge: {why}" if why else ""


def cancel_reason(session: Session, outbox_key: str, settings: Settings) -> str:
    """For the delivery worker: why the acknowledgement email under ``outbox_key`` must not go."""
    notice = session.scalar(select(AckNotice).where(AckNotice.outbox_key == outbox_key))
    return notice_reason(session, notice, settings) if notice is not None else ""


def cancel_leavers(session: Session, settings: Settings, now: datetime, school: str | None = None) -> int:
    """Cancel every queued request (of ``school``'s rounds, else of any) whose recipient is no longer
    asked; returns how many."""
    q = (select(OutboxEmail.id, AckNotice).join(AckNotice, AckNotice.outbox_key == OutboxEmail.key)
         .where(OutboxEmail.kind == "ack", OutboxEmail.status.in_(UNSENT), AckNotice.kind.in_(REQUEST_KINDS)))
    if school is not None:
        q = q.where(AckNotice.round_id.in_(select(AckRound.id).where(AckRound.school.in_((school, "")))))
    rows = session.execute(q.order_by(OutboxEmail.id)).all()
    cancelled = 0
    for row_id, notice in rows:
        reason = notice_reason(session, notice, settings)
        if reason and cancel_queued(session, row_id, reason, now):
            event(log, "acks.email_cancelled", outbox_id=row_id, kind=notice.kind, reason=reason)
            cancelled += 1
    return cancelled
