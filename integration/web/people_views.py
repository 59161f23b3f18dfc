"""A person's page (/people/<email>): who they are in the roster, why they have that role, their
classes, their acknowledgement of the current policy, and every finding that names them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, abort, render_template
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from integration.settings import Settings
from integration.store.models_audit import Finding
from integration.store.models_roster import Person, PersonAlias
from integration.web import access_log, inbox, people, school_acks, scope, services
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
    """The person's standing in their own school's round (a single school: its one round)."""
    from integration.acknowledgement.matching import not_expected_reason, standing

    tenants = settings.tenants
    tenant = tenants.get(person.school or "") if person is not None and tenants.is_trust else tenants.schools[0]
    if tenant is None:
        return AckStatus("not_expected", settings.acknowledgement.policy_version, reason="in no school")
    version = tenant.policy_version
    rnd = school_acks.tenant_round(session, tenant)
    if rnd is None:
        return AckStatus("no_round", version)
    reason = not_expected_reason(person, settings)
    if reason or person is None:
        return AckStatus("not_expected", version, reason=reason)
    member = next((m for m in standing(session, rnd, settings).members
                   if m.person_id == person.id), None)
    if member is None:
        return AckStatus("not_expected", version, reason="not in this round")
    if member.acknowledged_at:
        return AckStatus("acknowledged", version, at=member.acknowledged_at, due=member.due)
    return AckStatus("overdue" if now >= member.due else "outstanding", version, due=member.due)


def visible_person(session: Session, email: str, schools: scope.Schools) -> tuple[Person | None, list[str],
                                                                                 list[Finding]]:
    """(the roster person, their addresses, the findings naming them) as ``schools`` may see them; a 404
    for a person of another school, or an address no visible finding names (checked before any logging)."""
    p = find_person(session, email)
    if p is not None and not scope.person_in(p, schools):
        abort(404)
    addresses = sorted({email, *([p.email.lower(), *(a.lower() for a in (p.aliases or []))] if p else [])})
    rows = person_findings(session, addresses, schools)
    if p is None and not rows:
        abort(404)
    return p, addresses, rows


def find_person(session: Session, email: str) -> Person | None:
    person = session.scalar(select(Person).where(Person.email == email))
    if person is None:
        pid = session.scalar(select(PersonAlias.person_id).where(PersonAlias.address == email))
        person = session.get(Person, pid) if pid else None
    return person


def person_findings(session: Session, emails: list[str], schools: scope.Schools = None) -> list[Finding]:
    """The findings naming any of ``emails`` as staff or pupil, within ``schools``."""
    q = scope.scoped(select(Finding).where(or_(Finding.staff.in_(emails), Finding.pupil.in_(emails))), schools)
    return list(session.scalars(inbox.ordered(q, inbox.DEFAULT_SORT).limit(500)))


@bp.get("/people/<path:email>")
@require("findings")
def person(email: str):
    svc = services()
    email = email.strip().lower()
    schools = scope.chosen("findings")
    with svc.store.session() as s:
        p, addresses, rows = visible_person(s, email, schools)
        who = inbox.names(s, rows, email)
        role = RosterIndex(s, svc.settings, [p.id]).explain(p) if p else None
        ack = ack_status(s, svc.settings, p, datetime.now(UTC))
        access_log.log_person_view(s, email, current_user().email)
        school = svc.settings.tenants.get(p.school or "") if p and svc.settings.tenants.is_trust else None
    return render_template("person.html", email=email, p=p, rows=rows, who=who, role=role, ack=ack,
                           addresses=addresses, roles=people.ROLE_LABELS, person_school=school)
