"""Exceptions approved on a finding's page: stored beside the exceptions register and honoured by the
next audit exactly like a register row (`integration.registers.ExceptionIndex` reads both).

The exception covers the finding's staff member and its counterpart (the personal address, the
guardian, or the pupil, whichever the finding names first), so every later finding between the two
is recorded as ``suppressed`` with the exception's id until it expires — then the next activity
reopens it, as for the register.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from integration.crypto import Crypto
from integration.errors import InputError
from integration.registers import new_exception_id
from integration.store.models_audit import Finding, FindingEvent
from integration.store.models_webapp import FindingException

MAX_YEARS = 3  # a family connection is re-approved at least this often


def counterpart_of(f: Finding) -> str | None:
    """Who the exception is for, beside the staff member."""
    return f.counterpart or f.guardian or f.pupil


def add_from_finding(session: Session, crypto: Crypto, finding_id: int, *, approved_by: str, reason: str,
                     expires: date, actor: str, note: str, now: datetime | None = None) -> FindingException:
    """Record the exception and suppress the finding (logged with the triage note)."""
    now = now or datetime.now(UTC)
    problems = []
    if not approved_by.strip():
        problems.append("say who approved the exception (usually the Headteacher)")
    if not reason.strip():
        problems.append("give the reason (e.g. the member of staff is the pupil's parent)")
    if not note.strip():
        problems.append("add a triage note")
    today = now.date()
    if expires <= today:
        problems.append("the expiry date must be in the future")
    elif expires > today + timedelta(days=366 * MAX_YEARS):
        problems.append(f"an exception can last at most {MAX_YEARS} years")
    f = session.get(Finding, finding_id)
    if f is None:
        raise InputError(f"no finding with id {finding_id}")
    other = counterpart_of(f)
    if not f.staff or not other:
        problems.append("this finding does not name both a member of staff and a counterpart, so an exception "
                        "cannot cover it")
    if problems:
        raise InputError("; ".join(problems))
    other = other.lower()
    exc = FindingException(id=new_exception_id(), finding_id=f.id, staff=f.staff.lower(), counterpart=other,
                           counterpart_hash=crypto.address_hash(other), reason=reason.strip()[:1000],
                           approved_by=approved_by.strip()[:320], expires=expires, added_by=actor, added_at=now)
    session.add(exc)
    before = f.status
    f.status, f.exception_id, f.updated_at, f.closed_at = "suppressed", exc.id, now, None
    session.add(FindingEvent(finding_id=f.id, action="status", actor=actor, at=now, from_status=before,
                             to_status="suppressed",
                             note=f"{note.strip()} — exception {exc.id} approved by {exc.approved_by} until "
                                  f"{expires.isoformat()}: {exc.reason}"[:4000]))
    session.flush()
    return exc
