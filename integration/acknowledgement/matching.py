"""Who must acknowledge, and which stored responses count for whom.

Why computed on demand rather than stored: the roster changes under a round (new starters,
leavers, an alias learned later), and matching a response to a person must follow the roster
of today. Both sides are small (hundreds of staff, at most a few thousand responses), so
every report re-derives the truth from the raw responses and the roster.

Expected ("the population"): active people with role ``staff``, plus people with role
``other`` (governors, volunteers, contractors) under ``[acknowledgement] include_org_units``.
Leavers (status not active, or role no longer staff) drop out of it and are no longer chased;
their responses stay in the history. In a trust a round expects its own school's people only
(``people.school``, set by the roster sync); responses are matched against the whole trust's
roster, so a colleague of another school answering this school's form is "not_expected", not "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.roster_apply import in_org_units
from integration.settings import Settings
from integration.store.models_acks import AckResponse, AckRound
from integration.store.models_roster import Person, PersonAlias

# Response statuses: only "counted" acknowledges; every other one is kept and reported.
COUNTED = "counted"
RESPONSE_STATUSES = (COUNTED, "duplicate", "pupil", "not_expected", "unknown", "external", "not_confirmed",
                     "no_email", "before_round")


@dataclass
class Member:
    """One person expected to acknowledge this round."""

    person_id: int
    email: str
    name: str
    role: str
    org_unit: str
    anchor: datetime  # when they were first asked: the round's opening, or when they joined
    new_starter: bool
    due: datetime
    acknowledged_at: datetime | None = None
    response_id: str = ""


@dataclass
class ResponseView:
    response_id: str
    email: str
    submitted: datetime
    created: datetime
    status: str
    resubmissions: int = 0
    person_email: str = ""


@dataclass
class Standing:
    """The truth of one round at one moment."""

    round: AckRound
    members: list[Member] = field(default_factory=list)
    responses: list[ResponseView] = field(default_factory=list)

    @property
    def acknowledged(self) -> list[Member]:
        return [m for m in self.members if m.acknowledged_at is not None]

    @property
    def outstanding(self) -> list[Member]:
        return [m for m in self.members if m.acknowledged_at is None]

    def overdue(self, now: datetime) -> list[Member]:
        return [m for m in self.outstanding if now >= m.due]

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in RESPONSE_STATUSES}
        for r in self.responses:
            out[r.status] += 1
        out["resubmitted"] = sum(1 for r in self.responses if r.resubmissions)
        return out


def not_expected_reason(person: Person | None, settings: Settings) -> str:
    """Why ``person`` is not asked to acknowledge ('' = they are): the one rule, so queued emails
    can be re-checked against it at delivery (no address in the reason: it is logged)."""
    if person is None:
        return "not in the roster"
    if person.status != "active":
        return f"status {person.status}"
    if person.role == "staff":
        return ""
    if person.role != "other":
        return f"role {person.role}"
    if in_org_units(person.org_unit or "/", settings.acknowledgement.include_org_units):
        return ""
    return "org unit not in [acknowledgement] include_org_units"


def is_expected(person: Person, settings: Settings) -> bool:
    return not not_expected_reason(person, settings)


def population(session: Session, rnd: AckRound, settings: Settings) -> list[Member]:
    deadline = timedelta(days=settings.acknowledgement.deadline_days)
    members = []
    people = select(Person).order_by(Person.email)
    if settings.tenants.is_trust:  # a single school expects everyone, placed or not
        people = people.where(Person.school == rnd.school)
    for p in session.scalars(people):
        if not is_expected(p, settings):
            continue
        new_starter = p.first_seen is not None and p.first_seen > rnd.opened_at
        anchor = p.first_seen if new_starter else rnd.opened_at
        members.append(Member(p.id, p.email.lower(), p.name or p.email, p.role, p.org_unit or "/", anchor,
                              new_starter, anchor + deadline))
    return members


def address_book(session: Session) -> dict[str, Person]:
    """Every address (primary and alias) that reaches a school account."""
    people = {p.id: p for p in session.scalars(select(Person))}
    book = {p.email.lower(): p for p in people.values()}
    for alias in session.scalars(select(PersonAlias)):
        person = people.get(alias.person_id)
        if person is not None:
            book.setdefault(alias.address.lower(), person)
    return book


def standing(session: Session, rnd: AckRound, settings: Settings) -> Standing:
    """Match every stored response of the round to the roster; first confirmed response wins."""
    result = Standing(rnd, population(session, rnd, settings))
    by_id = {m.person_id: m for m in result.members}
    book = address_book(session)
    school = set(settings.approved_domains)
    rows = session.scalars(select(AckResponse).where(AckResponse.round_id == rnd.id)
                           .order_by(AckResponse.created_at, AckResponse.submitted_at, AckResponse.response_id))
    for row in rows:
        email = (row.respondent_email or "").lower()
        view = ResponseView(row.response_id, email, row.submitted_at, row.created_at, "", row.resubmissions)
        person = book.get(email) if email else None
        view.person_email = person.email if person is not None else ""
        if not email:
            view.status = "no_email"
        elif not row.confirmed:
            view.status = "not_confirmed"
        elif rnd.counts_from is not None and row.created_at < rnd.counts_from:
            view.status = "before_round"
        elif person is None:
            view.status = "unknown" if email.rpartition("@")[2] in school else "external"
        elif person.role in ("pupil", "former_pupil"):
            view.status = "pupil"
        elif person.id not in by_id:
            view.status = "not_expected"
        elif by_id[person.id].acknowledged_at is not None:
            view.status = "duplicate"
        else:
            member = by_id[person.id]
            member.acknowledged_at, member.response_id = row.created_at, row.response_id
            view.status = COUNTED
        result.responses.append(view)
    return result
