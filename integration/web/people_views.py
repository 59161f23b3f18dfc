"""A person's page (/people/<email>): who they are in the roster, why they have that role, their
classes, their acknowledgement of the current policy, and every finding that names them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, render_template
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from integration.settings import Settings
from integration.store.models_audit import Finding
from integration.store.models_roster import Person, PersonAlias
from integration.web import access_log, inbox, people, services
from integration.web.auth import current_user, require
from integration.web.roster_view import RosterIndex

bp = Blueprint("people", __name__)


@dataclass
class AckStatus:
    state: str  # acknowledged | outstanding | overdue | not_expected | no_round
    policy_version: str = ""
    at: datetime | None = None
    due: datetime | None = None
    reason: str = ""


def ack_status(session: Session, settings: Settings, person: Person | None, now: datetime) -> AckStatus:
    from integration.acknowledgement.matching import not_expected_reason, standing
    from integration.acknowledgement.rounds import current_round

    version = settings.acknowledgement.policy_version
    rnd = current_round(session, version) if version else None
    if rnd is None:
        return AckStatus("no_round", version)
    reason = not_expected_reason(person, settings)
    if reason or person is None:
        return AckStatus("not_expected", version, reason=reason)
    member = next((m for m in standing(session, rnd, settings).members if m.person_id == person.id), None)
    if member is None:
        return AckStatus("not_expected", version, reason="not in this round")
    if member.acknowledged_at:
        return AckStatus("acknowledged", version, at=member.acknowledged_at, due=member.due)
    return AckStatus("overdue" if now >= member.due else "outstanding", version, due=member.due)


def find_person(session: Session, email: str) -> Person | None:
    person = session.scalar(select(Person).where(Person.email == email))
    if person is None:
        pid = session.scalar(select(PersonAlias.person_id).where(PersonAlias.address == email))
        person = session.get(Person, pid) if pid else None
    return person


def person_findings(session: Session, emails: list[str]) -> list[Finding]:
    q = select(Finding).where(or_(Finding.staff.in_(emails), Finding.pupil.in_(emails)))
    return list(session.scalars(inbox.ordered(q, inbox.DEFAULT_SORT).limit(500)))


@bp.get("/people/<path:email>")
@require("findings")
def person(email: str):
    svc = services()
    email = email.strip().lower()
    with svc.store.session() as s:
        p = find_person(s, email)
        addresses = sorted({email, *([p.email.lower(), *(a.lower() for a in (p.aliases or []))] if p else [])})
        rows = person_findings(s, addresses)
        who = inbox.names(s, rows, email)
        role = RosterIndex(s, svc.settings, [p.id]).explain(p) if p else None
        ack = ack_status(s, svc.settings, p, datetime.now(UTC))
        if p or rows:
            access_log.log_person_view(s, email, current_user().email)
    return render_template("person.html", email=email, p=p, rows=rows, who=who, role=role, ack=ack,
                           addresses=addresses, roles=people.ROLE_LABELS), (200 if p or rows else 404)
