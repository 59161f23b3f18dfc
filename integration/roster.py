"""Roster sync: read every roster source, classify people, apply the difference in one transaction.

Classification (the sandbox's `sandbox.school.classify` is the reference; rules.md "Who is who"):

1. an account missing from a *complete* Directory users read is gone: a pupil (or former
   pupil) becomes a **former pupil** with status ``deleted``; anyone else becomes ``other``;
2. a *suspended* or *archived* account is a **former pupil** if it sits in a pupil OU
   (sub-OUs included), otherwise **other** — never staff or pupil, even if still on a class list;
3. **staff**: in a staff OU (sub-OUs included), or a member (nested groups expanded) of a
   staff group, or a teacher of any counted course (Classroom or Moodle);
4. **pupil**: in a pupil OU or pupil group, or a student of any counted course;
5. everyone else is **other** — except a stored pupil who no longer qualifies (moved out of
   the pupil OUs), who becomes a **former pupil** with status ``left``.

Former pupils keep ``left_at`` (the first sync that saw them leave) for
``[roster] former_pupil_retention_days``, then become ``other``; a pupil row is never deleted.
Counted courses are all courses but DECLINED ones. Guardians = distinct guardian addresses
linked to a current pupil (stored encrypted, found by keyed hash).

Safety: a collection missing from ``snapshot.complete`` never removes anything. When course
rosters or group members could not be read, classification uses the stored ones instead, so a
Classroom outage does not demote a supply teacher. The run is then ``partial``.

"Incremental unless --full": the Directory has no change feed for users except push, and a
course's ``updateTime`` does not move when its roster changes, so every sync reads everything
(a few hundred calls for a school) and writes only the difference. ``--full`` is accepted and
recorded; it reads the same. Counting: ``added``/``updated``/``removed`` count people,
guardians and courses (a course whose roster changed is updated; a person's alias change is
an update; a person becoming former pupil/deleted is removed).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select

from integration.errors import SourceError
from integration.logs import event
from integration.records import RosterSnapshot
from integration.roster_apply import Applier, Counts
from integration.store.models_ops import Run
from integration.store.models_roster import Course, Enrolment, Guardian, GuardianLink, Person
from integration.tenancy import Tenants

log = logging.getLogger("safechannels.roster")

JSON_KEYS = ("staff", "pupils", "former_pupils", "guardians", "courses", "added", "updated", "removed", "api_calls")


@dataclass
class SyncResult:
    staff: int = 0
    pupils: int = 0
    former_pupils: int = 0
    guardians: int = 0
    courses: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    api_calls: int = 0
    status: str = "ok"  # ok | partial
    errors: dict[str, str] = field(default_factory=dict)  # collection -> message naming the API
    fixes: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        """Exactly the operator contract's `sync --json` document."""
        return {k: getattr(self, k) for k in JSON_KEYS}


SWITCH_INTERVAL_S = 0.001


@contextlib.contextmanager
def tuned_for_sync() -> Iterator[None]:
    """The interpreter set for one sync's read and write, and restored after.

    - The cyclic garbage collector off. Both allocate hundreds of thousands of short-lived objects
      with no cycles (wire dicts, records, rows), and each burst set off collections that walk
      every live object: measured on the trust read, 2.4-3.0 s of our CPU with the collector, 1.6 s
      without (the write was paused first, for the same reason). Reference counting frees them.
    - Threads switched every 1 ms, not 5. The read is many threads waiting on HTTP with bursts of
      parsing between: a thread whose answer has arrived waited up to 5 ms for the GIL at each step
      of receiving it, and the chains of dependent pages (guardians, users) crawled. Measured on the
      trust read: 2.3 s at 5 ms, 1.75 s at 1 ms, for the same CPU."""
    gc_was_on, interval = gc.isenabled(), sys.getswitchinterval()
    gc.disable()
    sys.setswitchinterval(min(interval, SWITCH_INTERVAL_S))
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        if gc_was_on:
            gc.enable()


def run_sync(ctx, *, full: bool = False, now: datetime | None = None,
             progress: Callable[[str], None] | None = None) -> SyncResult:
    """One roster sync. A source that failed outright makes the run partial (its collections are
    simply not complete); nothing it would have vouched for is removed."""
    with tuned_for_sync():
        return _sync(ctx, full=full, now=now, progress=progress)


def _sync(ctx, *, full: bool, now: datetime | None, progress: Callable[[str], None] | None) -> SyncResult:
    now = now or datetime.now(UTC)
    say = progress or (lambda _msg: None)
    sources = ctx.roster_sources()
    before = [_calls(s) for s in sources]
    snaps: list[tuple[str, RosterSnapshot]] = []
    errors: dict[str, str] = {}
    fixes: list[str] = []
    for src in sources:
        say(f"reading {src.name} ...")
        try:
            snap = src.fetch_roster()
        except SourceError as exc:
            snap = RosterSnapshot(errors={c: str(exc) for c in getattr(src, "collections", ("users",))})
            if exc.fix:
                fixes.append(exc.fix)
        platform = getattr(src, "platform", src.name)
        snaps.append((platform, snap))
        for coll, msg in snap.errors.items():
            errors[f"{src.name}.{coll}"] = msg
    calls = sum(_calls(s) - b for s, b in zip(sources, before, strict=True))
    say("applying changes ...")
    store = ctx.store
    settings = ctx.settings
    try:
        with store.session() as s:
            applier = Applier(s, store.crypto, settings.roster, now,
                              platforms={p.lower() for p in settings.channels.learning_platforms},
                              tenants=settings.tenants)
            counts: Counts = applier.apply(snaps)
            result = SyncResult(**summarise(s), added=counts.added, updated=counts.updated, removed=counts.removed,
                                api_calls=calls, status="partial" if errors else "ok", errors=errors, fixes=fixes)
            s.add(Run(job="sync", started_at=now, finished_at=datetime.now(UTC), status=result.status,
                      summary={**result.as_json(), "full": full, "errors": errors},
                      error="\n".join(f"{k}: {v}" for k, v in errors.items())))
    except Exception as exc:
        _record_failure(store, now, full, exc)
        raise
    event(log, "sync.done", status=result.status, **result.as_json())
    for coll, msg in errors.items():
        event(log, "sync.collection_failed", logging.WARNING, collection=coll, error=msg)
    return result


def _record_failure(store, started: datetime, full: bool, exc: Exception) -> None:
    """The diff rolled back: still leave a `failed` run for status pages and doctor."""
    try:
        with store.session() as s:
            s.add(Run(job="sync", started_at=started, finished_at=datetime.now(UTC), status="failed",
                      summary={"full": full}, error=f"{type(exc).__name__}: {exc}"[:2000]))
    except Exception:  # noqa: BLE001 - the database itself may be what failed; the original error matters
        event(log, "sync.run_not_recorded", logging.ERROR)


def _calls(src) -> int:
    return int(getattr(src, "api_calls", 0) or 0)


def summarise(s) -> dict[str, int]:
    """The counts of `sync --json` from what is stored now."""
    roles: dict[str, int] = {}
    for role, status in s.execute(select(Person.role, Person.status)):
        if status == "deleted" and role != "former_pupil":
            continue
        roles[role] = roles.get(role, 0) + 1
    pupil_ids = select(Person.id).where(Person.role == "pupil")
    guardians = s.execute(select(GuardianLink.guardian_id).where(GuardianLink.pupil_id.in_(pupil_ids))
                          .distinct()).all()
    courses = s.execute(select(Course.id)).all()
    return {"staff": roles.get("staff", 0), "pupils": roles.get("pupil", 0),
            "former_pupils": roles.get("former_pupil", 0), "guardians": len(guardians), "courses": len(courses)}


def list_roster(store, role: str | None = None, school: str | None = None,
                tenants: Tenants | None = None) -> list[dict]:
    """`roster --json`: everyone stored (staff, pupils, former pupils, other, then guardians).

    ``courses`` holds course *names* (what an admin recognises; ids are in the store) sorted.
    Guardians are included with role ``guardian``: the roster is an admin tool and the admin
    already sees these addresses in Classroom; their email is decrypted only for this listing.
    Deleted accounts that are not former pupils are left out.

    ``school`` is a person's school id (null: in no school, e.g. a trust's central staff). A guardian
    has no school of their own: theirs is their linked pupils' (the first in config order when the
    pupils are at two schools), and ``school=ID`` keeps only people at ID and guardians of its pupils.
    """
    out: list[dict] = []
    order = {sid: n for n, sid in enumerate(tenants.ids)} if tenants is not None else {}
    with store.session() as s:
        names = dict(s.execute(select(Course.id, Course.name)).all())
        by_person: dict[int, list[str]] = {}
        for course_pk, person_id in s.execute(select(Enrolment.course_pk, Enrolment.person_id)):
            by_person.setdefault(person_id, []).append(names.get(course_pk, ""))
        if role != "guardian":
            q = select(Person).order_by(Person.role, Person.email)
            if role:
                q = q.where(Person.role == role)
            if school:
                q = q.where(Person.school == school)
            for p in s.scalars(q):
                if p.status == "deleted" and p.role != "former_pupil":
                    continue
                out.append({"email": p.email, "name": p.name, "role": p.role, "org_unit": p.org_unit,
                            "school": p.school, "courses": sorted(set(by_person.get(p.id, [])))})
        if role in (None, "guardian"):
            pupils_at: dict[int, set[str]] = {}
            for gid, pupil_school in s.execute(select(GuardianLink.guardian_id, Person.school)
                                               .join(Person, Person.id == GuardianLink.pupil_id)):
                pupils_at.setdefault(gid, set()).update([pupil_school] if pupil_school else [])
            rows = [g for g in s.scalars(select(Guardian)) if g.id in pupils_at]
            for g in sorted(rows, key=lambda g: g.email):
                schools = sorted(pupils_at[g.id], key=lambda sid: (order.get(sid, len(order)), sid))
                if school and school not in schools:
                    continue
                out.append({"email": g.email, "name": g.name, "role": "guardian", "org_unit": "",
                            "school": school or (schools[0] if schools else None), "courses": []})
    return out
