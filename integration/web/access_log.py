"""The access log (UK GDPR accountability): every view, download and triage of a finding, and every
view of a person's page, newest first. One reader for the admin page and the API.

Why person views are here too: /people/<email> gathers every finding about one staff member or
pupil, so opening it is as much an access to safeguarding records as opening a finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from integration.store.models_audit import Finding, FindingEvent
from integration.store.models_webapp import PersonView


@dataclass(frozen=True)
class Entry:
    at: datetime
    actor: str
    action: str  # status | viewed | exported | … for a finding; viewed_person for a person's page
    finding_id: int | None = None
    rule: str = ""
    person: str = ""
    from_status: str = ""
    to_status: str = ""
    note: str = ""


def log_person_view(session: Session, person: str, actor: str, now: datetime | None = None) -> None:
    session.add(PersonView(person=person.strip().lower()[:320], actor=actor, at=now or datetime.now(UTC)))


def _finding_events(actor: str, finding: int | None):
    q = select(FindingEvent, Finding.rule).join(Finding, Finding.id == FindingEvent.finding_id) \
        .where(or_(FindingEvent.action != "created", FindingEvent.actor != "audit"))
    if actor:
        q = q.where(func.lower(FindingEvent.actor).like(f"%{actor}%"))
    if finding:
        q = q.where(FindingEvent.finding_id == finding)
    return q


def _person_views(actor: str):
    q = select(PersonView)
    return q.where(func.lower(PersonView.actor).like(f"%{actor}%")) if actor else q


def read(session: Session, *, actor: str = "", finding: int | None = None, offset: int = 0,
         limit: int = 100) -> tuple[list[Entry], int]:
    """(entries newest first from ``offset``, total). ``finding`` narrows to one finding (no person views)."""
    actor = actor.strip().lower()
    events, views = _finding_events(actor, finding), None if finding else _person_views(actor)
    total = session.scalar(select(func.count()).select_from(events.subquery())) or 0
    if views is not None:
        total += session.scalar(select(func.count()).select_from(views.subquery())) or 0
    want = offset + limit  # the newest `want` of each table cover the merged page
    out = [Entry(e.at, e.actor, e.action, e.finding_id, rule, "", e.from_status, e.to_status, e.note)
           for e, rule in session.execute(events.order_by(FindingEvent.at.desc(), FindingEvent.id.desc()).limit(want))]
    if views is not None:
        out += [Entry(v.at, v.actor, "viewed_person", person=v.person)
                for v in session.scalars(views.order_by(PersonView.at.desc(), PersonView.id.desc()).limit(want))]
    out.sort(key=lambda e: e.at, reverse=True)
    return out[offset:want], total
