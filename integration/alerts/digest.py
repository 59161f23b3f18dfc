"""The daily digest: low findings waiting for it, plus findings with new occurrences since the DSL
was last told. Queued into the outbox in one transaction with the bookkeeping, so a digest
is composed once and every finding appears in exactly one digest as "new".

Scheduled digests are keyed by the school-local date: due once ``now`` (in the school's
timezone, DST included) passes ``[alerts] digest_time``; a second worker or a re-run the same
day finds the ``digests`` row and does nothing. ``force`` (``alerts --digest``) sends now.

One digest run for the trust, one email per DSL listing only the findings of that DSL's schools
(the trust's safeguarding leads: findings in no school); a DSL with nothing to hear of gets none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integration.alerts import audience, compose
from integration.alerts.outbox import queue_email
from integration.logs import event
from integration.settings import Settings
from integration.store.models_alerts import AlertedFinding, Digest
from integration.store.models_audit import Finding

log = logging.getLogger("safechannels.alerts")

OPEN = ("new", "reviewing")


@dataclass
class DigestOutcome:
    run_key: str
    new: int = 0
    updated: int = 0
    recipients: list[str] = field(default_factory=list)


def scheduled_at(settings: Settings, now: datetime) -> datetime:
    """Today's digest time (school-local date of ``now``) as an aware datetime."""
    tz = ZoneInfo(settings.school.timezone)
    local = now.astimezone(tz)
    hh, mm = (int(x) for x in settings.alerts.digest_time.split(":"))
    return datetime(local.year, local.month, local.day, hh, mm, tzinfo=tz)


def _pending_new(session: Session) -> list[tuple[AlertedFinding, Finding]]:
    rows = session.execute(
        select(AlertedFinding, Finding).join(Finding, Finding.id == AlertedFinding.finding_id)
        .where(AlertedFinding.route == "digest", AlertedFinding.digest_id.is_(None)).order_by(Finding.id))
    return [(a, f) for a, f in rows]


def _updated(session: Session, exclude: set[int]) -> list[tuple[AlertedFinding, Finding]]:
    rows = session.execute(
        select(AlertedFinding, Finding).join(Finding, Finding.id == AlertedFinding.finding_id)
        .where(Finding.occurrences > AlertedFinding.reported_occurrences, Finding.status.in_(OPEN))
        .order_by(Finding.id))
    return [(a, f) for a, f in rows if f.id not in exclude]


def pending_count(session: Session) -> int:
    """Findings waiting for the next digest: new low findings plus open findings with new occurrences."""
    new = session.scalar(select(func.count()).select_from(AlertedFinding).where(
        AlertedFinding.route == "digest", AlertedFinding.digest_id.is_(None))) or 0
    upd = session.scalar(
        select(func.count()).select_from(AlertedFinding).join(Finding, Finding.id == AlertedFinding.finding_id)
        .where(Finding.occurrences > AlertedFinding.reported_occurrences, Finding.status.in_(OPEN),
               ~((AlertedFinding.route == "digest") & AlertedFinding.digest_id.is_(None)))) or 0
    return new + upd


def run_digest(session: Session, settings: Settings, now: datetime, *, force: bool = False) -> DigestOutcome | None:
    """Queue today's digest if it is due (or ``force``); None when not due or already done."""
    if force:
        run_key = f"manual:{now.isoformat(timespec='seconds')}"
    else:
        if now < scheduled_at(settings, now):
            return None
        run_key = now.astimezone(ZoneInfo(settings.school.timezone)).date().isoformat()
        if session.scalar(select(Digest.id).where(Digest.run_key == run_key)) is not None:
            return None
    last = session.scalar(select(Digest).order_by(Digest.window_end.desc(), Digest.id.desc()).limit(1))
    digest = Digest(run_key=run_key, window_start=last.window_end if last else None, window_end=now,
                    created_at=now)
    try:
        with session.begin_nested():  # another worker composing the same digest wins; we stop
            session.add(digest)
            session.flush()
    except IntegrityError:
        return None
    pending = _pending_new(session)
    new = [f for _a, f in pending if f.status in OPEN]
    updated = _updated(session, {f.id for _a, f in pending})
    for a, f in pending:
        a.digest_id = digest.id
        a.reported_occurrences = max(f.occurrences or 1, 1)
    told = [(f, a.reported_occurrences) for a, f in updated]
    for a, f in updated:
        a.reported_occurrences = f.occurrences
    digest.new_count, digest.updated_count = len(new), len(told)
    outcome = DigestOutcome(run_key=run_key, new=len(new), updated=len(told))
    if new or told:
        tenants = settings.tenants
        schools = audience.schools_of(session, tenants, [f.id for f in new] + [f.id for f, _n in told])
        for box in audience.mailboxes(settings, tenants):  # each DSL: their schools' findings only
            mine_new = [f for f in new if box.concerns(schools[f.id])]
            mine_told = [(f, n) for f, n in told if box.concerns(schools[f.id])]
            if not (mine_new or mine_told):
                continue
            mine_schools = sorted({s for f in mine_new + [f for f, _n in mine_told] for s in schools[f.id]})
            email = compose.digest_email(session, mine_new, mine_told, settings, now,
                                         audience.school_names(tenants, settings, mine_schools))
            email.to = [box.address]
            queue_email(session, email, f"digest:{run_key}:{box.address}", now=now, kind="digest",
                        domain=settings.school.domain, school_domains=settings.approved_domains,
                        school=audience.outbox_school(mine_schools))
            outcome.recipients.append(box.address)
    session.flush()
    event(log, "alerts.digest", run=run_key, new=outcome.new, updated=outcome.updated,
          recipients=len(outcome.recipients))
    return outcome
