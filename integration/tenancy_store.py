"""Stored rows and their schools: placing what an upgrade left unplaced, and a finding's schools.

Kept apart from tenancy.py (pure config logic) because it needs the store's models.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from integration.store.models_acks import AckRound
from integration.store.models_alerts import OutboxEmail
from integration.store.models_audit import Finding, FindingSchool
from integration.store.models_roster import Course, Person
from integration.tenancy import Tenants


def adopt(session: Session, tenants: Tenants) -> int:
    """A single-school deployment owns every row that has no school yet (rows from before migration
    0014, or written by code that had none to give): place them in its one school. A trust's rows are
    placed by the roster sync and the audit instead, which know each person's org unit. Returns the
    number of rows placed; idempotent and cheap (indexed ``school IS NULL``)."""
    if tenants.is_trust:
        return 0
    sid = tenants.schools[0].id
    n = 0
    for model in (Person, Course, OutboxEmail):
        n += session.execute(update(model).where(model.school.is_(None)).values(school=sid)).rowcount or 0
    n += session.execute(update(AckRound).where(AckRound.school == "").values(school=sid)).rowcount or 0
    unplaced = select(Finding.id).where(~select(FindingSchool.finding_id)
                                        .where(FindingSchool.finding_id == Finding.id).exists())
    ids = list(session.scalars(unplaced))
    if ids:
        session.execute(insert(FindingSchool), [{"finding_id": i, "school": sid} for i in ids])
        n += len(ids)
    return n


def set_finding_schools(session: Session, finding_id: int, schools: Iterable[str]) -> None:
    """Make a finding's schools exactly ``schools`` (a finding moves when its people move school)."""
    want = {s for s in schools if s}
    have = set(session.scalars(select(FindingSchool.school).where(FindingSchool.finding_id == finding_id)))
    if want - have:
        session.execute(insert(FindingSchool), [{"finding_id": finding_id, "school": s} for s in sorted(want - have)])
    if have - want:
        session.execute(delete(FindingSchool).where(FindingSchool.finding_id == finding_id,
                                                    FindingSchool.school.in_(have - want)))


def finding_schools(session: Session, finding_id: int) -> list[str]:
    return sorted(session.scalars(select(FindingSchool.school).where(FindingSchool.finding_id == finding_id)))
