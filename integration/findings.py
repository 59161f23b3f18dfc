"""Findings: recording candidates idempotently, the triage workflow, views, listing and retention.

A finding is keyed by a fingerprint (rule + people + object) and every distinct event
behind it is one row in ``finding_occurrences`` with a unique (finding, event key), so
overlapping Reports windows and re-runs after a crash never count an event twice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session, object_session

from integration import finding_places
from integration.errors import InputError
from integration.rules.base import KEY_FIELDS, Candidate
from integration.settings import Settings
from integration.store.models_audit import (
    FINDING_STATUSES,
    Finding,
    FindingEvent,
    FindingOccurrence,
    FindingSchool,
)
from integration.store.models_privacy import FindingTombstone
from integration.tenancy import Tenants

CLOSED = ("resolved", "false_positive")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("reviewing",),
    "reviewing": ("resolved", "false_positive"),
    "resolved": ("reviewing",),
    "false_positive": ("reviewing",),
    "suppressed": ("reviewing",),
}
SYSTEM_ACTOR = "audit"
_CHUNK = 400
_EVIDENCE_IDS = 20


@dataclass
class Prepared:
    """A candidate the engine has judged: severity, clauses, exception and fingerprint settled."""

    candidate: Candidate
    severity: str
    policy: tuple[str, ...]
    exception_id: str | None
    fingerprint: str
    counterpart_hash: str


@dataclass
class RecordOutcome:
    created: list[Finding] = field(default_factory=list)
    updated: list[Finding] = field(default_factory=list)
    alertable: list[Finding] = field(default_factory=list)  # new, or back to new: alerts are due


def fingerprint(c: Candidate, address_hash) -> str:
    """sha256 of rule + people + object; personal addresses enter only as their keyed hash."""
    return _fingerprint(c.rule, c.key_fields, c.object_key[:255], address_hash,
                        staff=c.staff, pupil=c.pupil, guardian=c.guardian, counterpart=c.counterpart)


def _fingerprint(rule: str, key_fields, object_key: str, address_hash, **people: str | None) -> str:
    parts = []
    for name in key_fields:
        value = people.get(name) or ""
        parts.append(address_hash(value) if value and name in ("guardian", "counterpart") else value)
    return hashlib.sha256(f"{rule}\x1f{'|'.join(parts)}\x1f{object_key}".encode()).hexdigest()


def refingerprint(session: Session, address_hash) -> int:
    """Recompute every fingerprint and counterpart hash after a key rotation (they are keyed hashes),
    so the next audit finds the same findings rather than opening duplicates. Returns rows changed."""
    changed = 0
    for f in session.scalars(select(Finding)):
        fields = tuple(x for x in (f.key_fields or ",".join(KEY_FIELDS)).split(",") if x)
        fp = _fingerprint(f.rule, fields, f.object_key or "", address_hash, staff=f.staff, pupil=f.pupil,
                          guardian=f.guardian, counterpart=f.counterpart)
        digest = address_hash(f.counterpart) if f.counterpart else ""
        if (fp, digest) != (f.fingerprint, f.counterpart_hash):
            f.fingerprint, f.counterpart_hash = fp, digest
            changed += 1
    session.flush()
    return changed


def _merge_evidence(old: dict, new: dict) -> dict:
    """Keep the first sighting's details; accumulate id lists (newest kept)."""
    merged = dict(old)
    for key, value in new.items():
        if isinstance(value, list) and key.endswith("ids"):
            merged[key] = list(dict.fromkeys([*merged.get(key, []), *value]))[-_EVIDENCE_IDS:]
        elif key not in merged:
            merged[key] = value
    return merged


def _log(session: Session, finding: Finding, action: str, actor: str, at: datetime, from_status: str = "",
         to_status: str = "", note: str = "") -> None:
    session.add(FindingEvent(finding_id=finding.id, action=action, actor=actor, at=at, from_status=from_status,
                             to_status=to_status, note=note))


def _event_key(p: Prepared) -> str:
    """The occurrence key; an overlong one (a 300-character Message-ID) is hashed to fit the column."""
    key = p.candidate.event_key or p.fingerprint
    return key if len(key) <= 255 else "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def record(session: Session, prepared: list[Prepared], now: datetime, tenants: Tenants | None = None) -> RecordOutcome:
    """Upsert findings and their occurrences for one batch, in the caller's transaction; with ``tenants``
    the batch's findings are placed in their people's schools too (integration/finding_places.py)."""
    out = RecordOutcome()
    if not prepared:
        return out
    fps = list(dict.fromkeys(p.fingerprint for p in prepared))
    findings: dict[str, Finding] = {}
    for i in range(0, len(fps), _CHUNK):
        for f in session.scalars(select(Finding).where(Finding.fingerprint.in_(fps[i:i + _CHUNK]))):
            findings[f.fingerprint] = f
    prepared = _without_purged(session, prepared, [fp for fp in fps if fp not in findings])
    fresh: set[str] = set()
    for p in prepared:
        if p.fingerprint in findings:
            continue
        c = p.candidate
        when = c.time or now
        f = Finding(fingerprint=p.fingerprint, rule=c.rule, severity=p.severity,
                    status="suppressed" if p.exception_id else "new", staff=c.staff, pupil=c.pupil,
                    guardian=c.guardian, counterpart=c.counterpart, counterpart_hash=p.counterpart_hash,
                    confidence=c.confidence, source=c.source[:64], evidence=dict(c.evidence), policy=list(p.policy),
                    exception_id=p.exception_id, object_key=c.object_key[:255], key_fields=",".join(c.key_fields),
                    first_seen=when, last_seen=when, occurrences=0,
                    created_at=now, updated_at=now)
        session.add(f)
        findings[p.fingerprint] = f
        fresh.add(p.fingerprint)
    session.flush()  # ids for the occurrences
    for fp in fresh:
        f = findings[fp]
        _log(session, f, "created", SYSTEM_ACTOR, now, to_status=f.status,
             note=f"suppressed by exception {f.exception_id}" if f.exception_id else "")
        out.created.append(f)
        if f.status == "new":
            out.alertable.append(f)

    pairs: dict[tuple[int, str], Prepared] = {}
    for p in prepared:
        pairs.setdefault((findings[p.fingerprint].id, _event_key(p)), p)
    known: set[tuple[int, str]] = set()
    keys = list(pairs)
    for i in range(0, len(keys), _CHUNK):
        chunk = keys[i:i + _CHUNK]
        rows = session.execute(select(FindingOccurrence.finding_id, FindingOccurrence.event_key).where(
            tuple_(FindingOccurrence.finding_id, FindingOccurrence.event_key).in_(chunk)))
        known.update((r[0], r[1]) for r in rows)
    touched: dict[str, Finding] = {}
    moved: dict[str, Finding] = {}
    for p in prepared:
        if _reattribute(findings[p.fingerprint], p.candidate, now):
            touched.setdefault(p.fingerprint, findings[p.fingerprint])
            moved.setdefault(p.fingerprint, findings[p.fingerprint])
    for (fid, key), p in pairs.items():
        if (fid, key) in known:
            continue
        f = findings[p.fingerprint]
        session.add(FindingOccurrence(finding_id=fid, event_key=key, seen_at=now))
        _apply_occurrence(session, f, p, now, out, fresh=p.fingerprint in fresh)
        touched[p.fingerprint] = f
    out.updated.extend(f for fp, f in touched.items() if fp not in fresh)
    if tenants is not None:
        finding_places.place(session, tenants, fresh=[findings[fp] for fp in fresh],
                             moved=[f for fp, f in moved.items() if fp not in fresh],
                             recurring=[f for fp, f in touched.items() if fp not in fresh and fp not in moved])
    return out


def _reattribute(f: Finding, c: Candidate, now: datetime) -> bool:
    """A shared-drive finding first attributed to the drive's organizer (a crawl cannot say who shared)
    moves to the member of staff an audit event names as having made the share."""
    ev = f.evidence or {}
    if not (c.staff and c.evidence.get("attributed_by") == "actor" and ev.get("attributed_by") == "organizer"):
        return False
    if f.staff != c.staff:
        f.staff = c.staff
    f.evidence, f.updated_at = {**ev, "attributed_by": "actor"}, now
    return True


def _without_purged(session: Session, prepared: list[Prepared], unknown: list[str]) -> list[Prepared]:
    """Drop activity of purged findings from before their closure: the DSL dealt with it, and Reports
    (or a state read) returning it again must not re-create the finding or e-mail anyone. Activity
    after the closure is a recurrence, recorded as one would be for a finding still kept."""
    if not unknown or session.scalar(select(FindingTombstone.id).limit(1)) is None:
        return prepared
    aliases = _retired_fingerprints(session, [p for p in prepared if p.fingerprint in set(unknown)])
    wanted = list(dict.fromkeys([*unknown, *aliases]))
    closed: dict[str, datetime] = {}
    for i in range(0, len(wanted), _CHUNK):
        for fp, closed_at, purged_at in session.execute(
                select(FindingTombstone.fingerprint, FindingTombstone.closed_at, FindingTombstone.purged_at)
                .where(FindingTombstone.fingerprint.in_(wanted[i:i + _CHUNK]))):
            closed[aliases.get(fp, fp)] = closed_at or purged_at
    if not closed:
        return prepared
    return [p for p in prepared if p.fingerprint not in closed
            or (p.candidate.time is not None and p.candidate.time > closed[p.fingerprint])]


def _retired_fingerprints(session: Session, prepared: list[Prepared]) -> dict[str, str]:
    """fingerprint under a retired HMAC key -> the current one, for candidates whose fingerprint embeds
    a keyed hash (a tombstone made before `rotate-key` holds the old one; see integration/rekey.py)."""
    from integration.rekey import retired_hashes

    keyed = [p for p in prepared if any(getattr(p.candidate, name, None) and name in ("guardian", "counterpart")
                                        for name in p.candidate.key_fields)]
    if not keyed:
        return {}
    out: dict[str, str] = {}
    for address_hash in retired_hashes(session):
        for p in keyed:
            out.setdefault(fingerprint(p.candidate, address_hash), p.fingerprint)
    return out


def _apply_occurrence(session: Session, f: Finding, p: Prepared, now: datetime, out: RecordOutcome,
                      fresh: bool) -> None:
    c = p.candidate
    when = c.time or now
    f.occurrences = (f.occurrences or 0) + 1
    f.first_seen = min(f.first_seen, when)
    f.last_seen = max(f.last_seen, when)
    f.updated_at = now
    if not fresh:
        f.evidence = _merge_evidence(f.evidence or {}, c.evidence)
        if c.confidence == "known" and f.confidence != "known":
            f.confidence = "known"
    if fresh:
        return
    # New activity no exception covers: a suppressed finding (exception expired) or a resolved one
    # that recurs is due for the DSL again. A false positive stays one; it only counts.
    if p.exception_id is None and f.status in ("suppressed", "resolved"):
        before = f.status
        f.status, f.exception_id, f.closed_at = "new", None, None
        note = "exception no longer covers new activity" if before == "suppressed" else "recurred after resolution"
        _log(session, f, "status", SYSTEM_ACTOR, now, before, "new", note)
        if f not in out.alertable:
            out.alertable.append(f)


# ---------------------------------------------------------------------------- triage


def _get(session: Session, finding_id: int) -> Finding:
    f = session.get(Finding, finding_id)
    if f is None:
        raise InputError(f"no finding with id {finding_id}")
    return f


def transition(session: Session, finding_id: int, to_status: str, actor: str, note: str = "",
               now: datetime | None = None) -> Finding:
    """Move a finding along new → reviewing → resolved / false_positive (reopen → reviewing), logged
    with who and why: the note is required on every path (pages, API, CLI) because the log is the
    school's record of its safeguarding decisions."""
    if not actor:
        raise InputError("a triage change needs the actor (who made it)")
    if not note.strip():
        raise InputError("a triage change needs a note saying why (it is kept in the finding's log)")
    if to_status not in FINDING_STATUSES:
        raise InputError(f"unknown status {to_status!r} (one of: {', '.join(FINDING_STATUSES)})")
    f = _get(session, finding_id)
    allowed = TRANSITIONS.get(f.status, ())
    if to_status not in allowed:
        raise InputError(f"finding {finding_id} is {f.status}: it can move to "
                         f"{' or '.join(allowed) or 'nothing'}, not {to_status}")
    now = now or datetime.now(UTC)
    before = f.status
    f.status, f.updated_at = to_status, now
    f.closed_at = now if to_status in CLOSED else None
    _log(session, f, "status", actor, now, before, to_status, note)
    session.flush()
    return f


def log_view(session: Session, finding_id: int, actor: str, now: datetime | None = None) -> None:
    """Record that someone viewed a finding (its counterpart is personal data)."""
    f = _get(session, finding_id)
    _log(session, f, "viewed", actor, now or datetime.now(UTC))


def history(session: Session, finding_id: int) -> list[FindingEvent]:
    return list(session.scalars(select(FindingEvent).where(FindingEvent.finding_id == finding_id)
                                .order_by(FindingEvent.id)))


# ---------------------------------------------------------------------------- listing and retention


def list_findings(session: Session, status: str | None = None, rule: str | None = None,
                  school: str | None = None) -> list[Finding]:
    """Findings by id; ``school``: only those belonging to that school (one of their schools)."""
    if status is not None and status not in FINDING_STATUSES:
        raise InputError(f"unknown status {status!r} (one of: {', '.join(FINDING_STATUSES)})")
    query = select(Finding).order_by(Finding.id)
    if status:
        query = query.where(Finding.status == status)
    if rule:
        query = query.where(Finding.rule == rule)
    if school:
        query = query.where(select(FindingSchool.finding_id).where(FindingSchool.finding_id == Finding.id,
                                                                  FindingSchool.school == school).exists())
    return list(session.scalars(query))


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def as_json(f: Finding, placement: finding_places.Placement | None = None) -> dict:
    """The operator contract's finding document (counterpart shown: the caller is authorised).

    ``placement``: its schools, as ``finding_places.placements`` reads them for a whole listing; when
    not given they are read for this one finding."""
    if placement is None:
        session = object_session(f)
        placement = (finding_places.placements(session, [f])[f.id] if session is not None and f.id is not None
                     else finding_places.Placement(None, []))
    return {"id": f.id, "rule": f.rule, "severity": f.severity, "status": f.status, "staff": f.staff,
            "pupil": f.pupil, "guardian": f.guardian, "counterpart": f.counterpart, "confidence": f.confidence,
            "source": f.source, "evidence": f.evidence or {}, "first_seen": _iso(f.first_seen),
            "last_seen": _iso(f.last_seen), "occurrences": f.occurrences, "school": placement.school,
            "schools": list(placement.schools)}


def listing(session: Session, rows: list[Finding]) -> list[dict]:
    """The documents of a listing, their schools read in one go (not two queries per finding)."""
    places = finding_places.placements(session, rows)
    return [as_json(f, places[f.id]) for f in rows]


def _bury(session: Session, rows, now: datetime) -> None:
    """A tombstone per purged finding (its fingerprint, rule and closure; no personal data)."""
    known = {t.fingerprint: t for t in session.scalars(
        select(FindingTombstone).where(FindingTombstone.fingerprint.in_([r.fingerprint for r in rows])))}
    for r in rows:
        stone = known.get(r.fingerprint)
        if stone is None:
            session.add(FindingTombstone(fingerprint=r.fingerprint, rule=r.rule, closed_at=r.closed_at,
                                         purged_at=now))
        else:  # purged before, recurred, closed and purged again
            stone.closed_at, stone.purged_at = r.closed_at, now


def purge(session: Session, settings: Settings, now: datetime) -> dict[str, int]:
    """Delete closed findings past closed_findings_retention_days, leaving a tombstone so they are never
    re-created from old activity, and occurrences past activity_retention_days (the findings are kept)."""
    closed_before = now - timedelta(days=settings.privacy.closed_findings_retention_days)
    seen_before = now - timedelta(days=settings.privacy.activity_retention_days)
    old = list(session.execute(select(Finding.id, Finding.fingerprint, Finding.rule, Finding.closed_at)
                               .where(Finding.status.in_(CLOSED), Finding.closed_at < closed_before)))
    for i in range(0, len(old), _CHUNK):
        chunk = old[i:i + _CHUNK]
        _bury(session, chunk, now)
        ids = [row.id for row in chunk]
        session.execute(delete(FindingOccurrence).where(FindingOccurrence.finding_id.in_(ids)))
        session.execute(delete(FindingEvent).where(FindingEvent.finding_id.in_(ids)))
        session.execute(delete(Finding).where(Finding.id.in_(ids)))
    gone = session.execute(delete(FindingOccurrence).where(FindingOccurrence.seen_at < seen_before))
    return {"findings": len(old), "occurrences": gone.rowcount or 0}
