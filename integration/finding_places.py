"""Which schools a finding belongs to: placed when the audit records it, read back for listings.

A finding belongs to every school of the people it relates, as the trust-wide roster places them
when it is recorded (a teacher at school A sharing with a pupil at school B is a finding at both).
The rows are the finding's history: a person who later moves school does not take their old
findings along; new activity on a finding adds the schools its people are at by then.
Look-ups are one query per batch of findings (the audit records them in bulk at trust scale).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.orm import Session

from integration.store.models_audit import Finding, FindingSchool
from integration.store.models_roster import Person
from integration.tenancy import Tenants

_CHUNK = 400


@dataclass(frozen=True)
class Placement:
    """A finding's ``school`` (its staff member's, else its pupil's, among its schools) and ``schools``."""

    school: str | None
    schools: list[str]


def people_of(f: Finding) -> list[str]:
    """The school accounts a finding relates: its staff member, its pupil, a guardian's linked pupils."""
    linked = (f.evidence or {}).get("guardian_of") or []
    return [e.lower() for e in (f.staff, f.pupil, *linked) if e]


def schools_of_people(session: Session, emails: Iterable[str]) -> dict[str, str]:
    """email -> school id, for the placed ones among ``emails`` (one query per 400 addresses)."""
    wanted = sorted(set(emails))
    out: dict[str, str] = {}
    for i in range(0, len(wanted), _CHUNK):
        q = select(Person.email, Person.school).where(Person.email.in_(wanted[i:i + _CHUNK]),
                                                      Person.school.is_not(None))
        out.update((email.lower(), school) for email, school in session.execute(q))
    return out


def _stored(session: Session, ids: list[int]) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {i: set() for i in ids}
    for i in range(0, len(ids), _CHUNK):
        for fid, school in session.execute(select(FindingSchool.finding_id, FindingSchool.school)
                                           .where(FindingSchool.finding_id.in_(ids[i:i + _CHUNK]))):
            out[fid].add(school)
    return out


def place(session: Session, tenants: Tenants, *, fresh: Iterable[Finding] = (), moved: Iterable[Finding] = (),
          recurring: Iterable[Finding] = ()) -> None:
    """Write the schools of one batch's findings: ``fresh`` (just created) and ``moved`` (re-attributed
    to another member of staff) get exactly their people's schools now; ``recurring`` (new activity on a
    finding already placed) keeps its schools and gains its people's current ones."""
    fresh, moved, recurring = list(fresh), list(moved), list(recurring)
    if not (fresh or moved or recurring):
        return
    one = None if tenants.is_trust else tenants.ids[0]  # a single school: every finding is its own
    school_of = {} if one else schools_of_people(session, (e for f in fresh + moved + recurring for e in people_of(f)))

    def wanted(f: Finding) -> set[str]:
        return {one} if one else {school_of[e] for e in people_of(f) if e in school_of}

    old = _stored(session, sorted({f.id for f in moved + recurring}))
    add: set[tuple[int, str]] = set()
    drop: set[tuple[int, str]] = set()
    for f in fresh:
        add |= {(f.id, s) for s in wanted(f)}
    for f in moved:
        want = wanted(f)
        add |= {(f.id, s) for s in want - old[f.id]}
        drop |= {(f.id, s) for s in old[f.id] - want}
    for f in recurring:
        add |= {(f.id, s) for s in wanted(f) - old[f.id]}
    add -= drop
    if add:
        session.execute(insert(FindingSchool), [{"finding_id": i, "school": s} for i, s in sorted(add)])
    if drop:
        pairs = sorted(drop)
        for i in range(0, len(pairs), _CHUNK):
            session.execute(delete(FindingSchool).where(
                tuple_(FindingSchool.finding_id, FindingSchool.school).in_(pairs[i:i + _CHUNK])))


def placements(session: Session, findings: list[Finding]) -> dict[int, Placement]:
    """finding id -> its Placement, for a listing: two queries, however many findings."""
    stored = _stored(session, sorted({f.id for f in findings}))
    school_of = schools_of_people(session, (e for f in findings for e in people_of(f)))
    out: dict[int, Placement] = {}
    for f in findings:
        schools = sorted(stored.get(f.id, ()))
        home = next((school_of[e] for e in people_of(f) if school_of.get(e) in schools), None)
        out[f.id] = Placement(home or (schools[0] if schools else None), schools)
    return out
