"""Applies roster snapshots to the store as a difference (the rules are in integration/roster.py).

Kept apart from the engine so the classification and the diff can be read (and tested) on
their own. Runs inside the caller's session: everything it writes commits or rolls back together.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from integration.crypto import Crypto
from integration.logs import event
from integration.records import DirectoryUser, EnrolmentRecord, RosterSnapshot
from integration.store.models_roster import (
    Course,
    Enrolment,
    Group,
    GroupMember,
    Guardian,
    GuardianLink,
    OrgUnit,
    Person,
    PersonAlias,
)
from integration.tenancy import Tenants

log = logging.getLogger("safechannels.roster")


@dataclass(frozen=True)
class PersonIds:
    """The columns identity look-ups need, read without building ORM objects."""

    id: int
    email: str
    google_id: str
    aliases: list
    status: str
    school: str | None


@dataclass
class Counts:
    added: int = 0
    updated: int = 0
    removed: int = 0


def in_org_units(path: str, roots: list[str]) -> bool:
    """`path` is one of `roots` or below one of them."""
    for root in roots:
        root = root.rstrip("/") or "/"
        if root == "/" or path == root or path.startswith(root + "/"):
            return True
    return False


def expand_groups(roots: list[str], members: list[tuple[str, str, str]]) -> set[str]:
    """User addresses in `roots`, nested groups expanded; members are (group, member, type)."""
    by_group: dict[str, list[tuple[str, str]]] = {}
    for group, member, kind in members:
        by_group.setdefault(group.lower(), []).append((member.lower(), kind))
    found: set[str] = set()
    todo, seen = [g.lower() for g in roots], set()
    while todo:
        g = todo.pop()
        if g in seen:
            continue
        seen.add(g)
        for member, kind in by_group.get(g, []):
            (todo.append(member) if kind == "GROUP" else found.add(member))
    return found


def classify_user(u: DirectoryUser, cfg, staff_members: set[str], pupil_members: set[str],
                  teachers: set[str], students: set[str]) -> str:
    """Role by rules 2–4 of integration/roster.py (history and retention are applied after)."""
    if u.suspended or u.archived:
        return "former_pupil" if in_org_units(u.org_unit, cfg.pupil_org_units) else "other"
    if in_org_units(u.org_unit, cfg.staff_org_units) or u.email in staff_members or u.email in teachers:
        return "staff"
    if in_org_units(u.org_unit, cfg.pupil_org_units) or u.email in pupil_members or u.email in students:
        return "pupil"
    return "other"


def lifecycle(role: str, status: str, prev: Person | None, now: datetime,
              retention: timedelta) -> tuple[str, str, datetime | None]:
    """(role, status, left_at) once history is applied: leavers become former pupils, kept for the retention."""
    prev_role, prev_left = (prev.role, prev.left_at) if prev else (None, None)
    if role in ("staff", "pupil"):
        return role, status, None
    if role == "other" and prev_role in ("pupil", "former_pupil"):
        role, status = "former_pupil", ("left" if status == "active" else status)
    if role == "former_pupil":
        if prev_role == "other" and prev_left:  # retention already ran out: stays other
            return "other", status, prev_left
        left = prev_left if prev_role == "former_pupil" and prev_left else now
        return ("other" if now - left > retention else "former_pupil"), status, left
    return "other", status, (prev_left if prev_role == "other" else None)


def _complete(parts: list[tuple[str, RosterSnapshot]], coll: str) -> bool:
    return any(coll in sn.complete for _, sn in parts) and not any(coll in sn.errors for _, sn in parts)


class Applier:
    def __init__(self, s: Session, crypto: Crypto | None, cfg, now: datetime, platforms: set[str] | None = None,
                 tenants: Tenants | None = None):
        """`platforms`: the configured learning platforms; courses and guardian links of any other
        platform (one taken out of `[channels] learning_platforms`) are retired. None keeps all.
        `tenants`: the schools people and courses are placed in (None leaves placement as stored)."""
        self.s, self.crypto, self.cfg, self.now = s, crypto, cfg, now
        self.platforms = platforms
        self.tenants = tenants
        self.retention = timedelta(days=cfg.former_pupil_retention_days)
        self.counts = Counts()

    def apply(self, parts: list[tuple[str, RosterSnapshot]]) -> Counts:
        s = self.s
        if _complete(parts, "org_units"):
            self._org_units([o for _, sn in parts for o in sn.org_units])
        if _complete(parts, "groups"):
            self._groups([g for _, sn in parts for g in sn.groups])
        if _complete(parts, "members"):
            self._members([(m.group_email, m.member_email, m.role, m.type) for _, sn in parts for m in sn.members])
        member_rows = [(g, m, t) for g, m, t in s.execute(select(GroupMember.group_email, GroupMember.member_email,
                                                                   GroupMember.type))]
        staff_members = expand_groups(self.cfg.staff_groups, member_rows)
        pupil_members = expand_groups(self.cfg.pupil_groups, member_rows)

        users = [u for _, sn in parts for u in sn.users]
        people = list(s.scalars(select(Person)))
        by_gid = {p.google_id: p for p in people if p.google_id}
        by_email = {p.email: p for p in people}
        addr = _address_index(users)
        courses = {(c.platform, c.course_id): c for c in s.scalars(select(Course))}
        teachers, students = self._course_roles(parts, addr, courses)
        seen = self._people(users, by_gid, by_email, staff_members, pupil_members, teachers, students)
        if _complete(parts, "users"):
            self._gone([p for p in people if p.id not in seen])
        s.flush()
        ids = [PersonIds(*row) for row in s.execute(select(Person.id, Person.email, Person.google_id, Person.aliases,
                                                              Person.status, Person.school))]
        self._aliases(ids)
        person_of = _person_index(ids)
        for platform, sn in parts:
            self._courses(platform, sn, courses, person_of)
            if "guardians" in sn.complete and "guardians" not in sn.errors:
                self._guardians(platform, sn, person_of)
        if self.platforms is not None:
            self._retire_platforms(courses)
        if self.tenants is not None:
            self._place_courses(courses, {p.id: p.school for p in ids}, person_of)
        self._orphan_guardians()
        return self.counts

    # ---------------------------------------------------------------- directory structure

    def _org_units(self, units) -> None:
        stored = {o.path: o for o in self.s.scalars(select(OrgUnit))}
        for u in units:
            row = stored.pop(u.path, None)
            if row is None:
                self.s.add(OrgUnit(path=u.path, name=u.name, parent_path=u.parent_path, org_unit_id=u.org_unit_id))
            elif (row.name, row.parent_path, row.org_unit_id) != (u.name, u.parent_path, u.org_unit_id):
                row.name, row.parent_path, row.org_unit_id = u.name, u.parent_path, u.org_unit_id
        for row in stored.values():
            self.s.delete(row)

    def _groups(self, groups) -> None:
        stored = {g.email: g for g in self.s.scalars(select(Group))}
        for g in groups:
            row = stored.pop(g.email, None)
            if row is None:
                self.s.add(Group(email=g.email, name=g.name, google_id=g.google_id))
            elif (row.name, row.google_id) != (g.name, g.google_id):
                row.name, row.google_id = g.name, g.google_id
        if stored:
            self.s.execute(delete(GroupMember).where(GroupMember.group_email.in_(list(stored))))
            for row in stored.values():
                self.s.delete(row)
        self.s.flush()

    def _members(self, members: list[tuple[str, str, str, str]]) -> None:
        known = set(self.s.scalars(select(Group.email)))
        want = {(g, m): (r, t) for g, m, r, t in members if g in known}
        stored = {(r.group_email, r.member_email): r for r in self.s.scalars(select(GroupMember))}
        for key, row in stored.items():
            if key not in want:
                self.s.delete(row)
            elif (row.role, row.type) != want[key]:
                row.role, row.type = want[key]
        new = [{"group_email": g, "member_email": m, "role": r, "type": t}
               for (g, m), (r, t) in want.items() if (g, m) not in stored]
        if new:
            self.s.execute(insert(GroupMember), new)
        self.s.flush()

    # ---------------------------------------------------------------- people

    def _course_roles(self, parts, addr: dict[str, str], courses: dict) -> tuple[set[str], set[str]]:
        """Addresses of teachers and students of counted courses: read now where the rosters were
        read to the end, else as stored (so an outage demotes nobody)."""
        teachers: set[str] = set()
        students: set[str] = set()
        for platform, sn in parts:
            if "enrolments" in sn.complete and "enrolments" not in sn.errors:
                for e in sn.enrolments:
                    who = addr.get(e.user_id) or addr.get(e.email) or e.email
                    if who:
                        (teachers if e.role == "teacher" else students).add(who)
                continue
            if self.platforms is not None and platform not in self.platforms:
                continue  # no longer configured: its stored courses are retired in this run
            pks = [c.id for (p, _), c in courses.items() if p == platform and c.state != "DECLINED"]
            if pks:
                q = (select(Person.email, Enrolment.role).join(Enrolment, Enrolment.person_id == Person.id)
                     .where(Enrolment.course_pk.in_(pks)))
                for email, role in self.s.execute(q):
                    (teachers if role == "teacher" else students).add(email)
        return teachers, students

    def _people(self, users, by_gid, by_email, staff_members, pupil_members, teachers, students) -> set[int]:
        seen: set[int] = set()
        done: set[str] = set()
        new_rows: list[dict] = []  # inserted in one executemany: the ORM unit of work is ~10x slower here
        for u in users:
            if u.email in done:
                continue
            done.add(u.email)
            prev = by_gid.get(u.google_id) or by_email.get(u.email)
            role = classify_user(u, self.cfg, staff_members, pupil_members, teachers, students)
            status = "suspended" if (u.suspended or u.archived) else "active"
            role, status, left_at = lifecycle(role, status, prev, self.now, self.retention)
            values = {"email": u.email, "google_id": u.google_id, "name": u.name or u.email.split("@")[0],
                      "role": role, "org_unit": u.org_unit, "status": status, "aliases": list(u.aliases),
                      "is_admin": u.is_admin, "left_at": left_at}
            if self.tenants is not None:  # every sync: a move to another school's OU re-places them
                values["school"] = self.tenants.school_for(u.email, u.org_unit)
            if prev is None:
                new_rows.append({**values, "first_seen": self.now, "updated_at": self.now})
                continue
            seen.add(prev.id)
            if all(getattr(prev, k) == v for k, v in values.items()):
                continue
            if prev.school is None and all(getattr(prev, k) == v for k, v in values.items() if k != "school"):
                prev.school = values["school"]  # first placement of a row from before tenancy: not a roster change
                continue
            leaving = prev.role in ("staff", "pupil") and role in ("former_pupil", "other")
            for k, v in values.items():
                setattr(prev, k, v)
            prev.updated_at = self.now
            if leaving:
                self.counts.removed += 1
            else:
                self.counts.updated += 1
        if new_rows:
            self.s.execute(insert(Person), new_rows)
            self.counts.added += len(new_rows)
        return seen

    def _gone(self, missing: list[Person]) -> None:
        """Accounts no longer in a complete users read: status change, never a hard delete."""
        for p in missing:
            if p.status == "deleted" and (p.role != "former_pupil" or not p.left_at
                                          or self.now - p.left_at <= self.retention):
                continue
            was_active = p.status != "deleted"
            if p.role in ("pupil", "former_pupil"):
                left = p.left_at if p.role == "former_pupil" and p.left_at else self.now
                p.role = "other" if self.now - left > self.retention else "former_pupil"
                p.left_at = left
            else:
                p.role = "other"
            p.status, p.updated_at = "deleted", self.now
            if was_active:
                self.counts.removed += 1
            event(log, "roster.person_gone", email=p.email, role=p.role)

    def _aliases(self, people: list[PersonIds]) -> None:
        """person_aliases = every address (primary and alias) of every account; live accounts win."""
        want: dict[str, int] = {}
        for p in sorted(people, key=lambda p: p.status == "deleted", reverse=True):  # live last: they win
            for a in [p.email, *(p.aliases or [])]:
                want[a.lower()] = p.id
        stored = dict(self.s.execute(select(PersonAlias.address, PersonAlias.person_id)).all())
        gone = [a for a in stored if a not in want]
        if gone:
            self.s.execute(delete(PersonAlias).where(PersonAlias.address.in_(gone)))
        for address, pid in stored.items():
            if address in want and pid != want[address]:
                self.s.execute(update(PersonAlias).where(PersonAlias.address == address).values(person_id=want[address]))
        new = [{"address": a, "person_id": pid} for a, pid in want.items() if a not in stored]
        if new:
            self.s.execute(insert(PersonAlias), new)

    # ---------------------------------------------------------------- courses and enrolments

    def _courses(self, platform: str, sn: RosterSnapshot, courses: dict, person_of: dict[str, int]) -> None:
        fresh: set[tuple[str, str]] = set()
        changed: set[int] = set()
        created: set[int] = set()
        for c in sn.courses:
            key = (c.platform, c.course_id)
            fresh.add(key)
            values = {"name": c.name, "section": c.section, "state": c.state, "owner_id": c.owner_id,
                      "teacher_group_email": c.teacher_group_email, "course_group_email": c.course_group_email,
                      "link": c.link}
            row = courses.get(key)
            if row is None:
                row = courses[key] = Course(platform=c.platform, course_id=c.course_id, **values)
                self.s.add(row)
                created.add(id(row))
                self.counts.added += 1
            elif any(getattr(row, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(row, k, v)
                changed.add(id(row))
        self.s.flush()
        if "courses" in sn.complete and "courses" not in sn.errors:
            for key in [k for k in courses if k[0] == platform and k not in fresh]:
                self._remove_course(courses, key)
        if "enrolments" in sn.complete and "enrolments" not in sn.errors:
            changed |= self._enrolments(platform, sn.enrolments, courses, person_of)
        self.counts.updated += len(changed - created)

    def _remove_course(self, courses: dict, key: tuple[str, str]) -> None:
        row = courses.pop(key)
        self.s.execute(delete(Enrolment).where(Enrolment.course_pk == row.id))
        self.s.delete(row)
        self.counts.removed += 1

    def _place_courses(self, courses: dict, school_of: dict[int, str | None], person_of: dict[str, int]) -> None:
        """A course is its owner's school's; with no placed owner (a Moodle course, an owner who left),
        the school most of its teachers are at, else most of its students. Derived on every sync from
        what is stored now, so it follows its people; not counted as a change (people and rosters are)."""
        by_course: dict[int, dict[str, Counter]] = {}
        for pk, pid, role in self.s.execute(select(Enrolment.course_pk, Enrolment.person_id, Enrolment.role)):
            school = school_of.get(pid)
            if school:
                by_course.setdefault(pk, {}).setdefault(role, Counter())[school] += 1
        for row in courses.values():
            owner = person_of.get(row.owner_id) if row.owner_id else None
            school = school_of.get(owner) if owner is not None else None
            roles = by_course.get(row.id, {})
            for role in ("teacher", "student"):
                if school is None and roles.get(role):
                    school = min(roles[role].items(), key=lambda kv: (-kv[1], kv[0]))[0]  # ties: by id
            if row.school != school:
                row.school = school
        self.s.flush()

    def _retire_platforms(self, courses: dict) -> None:
        """A platform no longer configured vouches for nothing: its courses, their enrolments and its
        guardian links go (people stay; the next sync classifies them without that platform)."""
        assert self.platforms is not None
        for key in [k for k in courses if k[0] not in self.platforms]:
            self._remove_course(courses, key)
        links = self.s.execute(delete(GuardianLink).where(GuardianLink.platform.not_in(self.platforms)))
        if links.rowcount:
            event(log, "roster.platform_links_retired", links=links.rowcount)
        self.s.flush()

    def _enrolments(self, platform: str, records: list[EnrolmentRecord], courses: dict,
                    person_of: dict[str, int]) -> set[int]:
        pk_of = {key[1]: row for key, row in courses.items() if key[0] == platform}
        want: set[tuple[int, int, str]] = set()
        for e in records:
            course = pk_of.get(e.course_id)
            pid = person_of.get(e.user_id) or person_of.get(e.email)
            if course is None or pid is None:
                event(log, "roster.enrolment_skipped", logging.DEBUG, course=e.course_id, user=e.email or e.user_id)
                continue
            want.add((course.id, pid, e.role))
        by_pk = {row.id: row for row in pk_of.values()}
        stored = {(pk, pid, r) for pk, pid, r in self.s.execute(
            select(Enrolment.course_pk, Enrolment.person_id, Enrolment.role)
            .where(Enrolment.course_pk.in_(list(by_pk))))} if by_pk else set()
        gone, new = stored - want, want - stored
        for pk, pid, role in gone:
            self.s.execute(delete(Enrolment).where(Enrolment.course_pk == pk, Enrolment.person_id == pid,
                                                   Enrolment.role == role))
        if new:
            self.s.execute(insert(Enrolment), [{"course_pk": pk, "person_id": pid, "role": r} for pk, pid, r in new])
        return {id(by_pk[pk]) for pk, _, _ in gone | new if pk in by_pk}

    # ---------------------------------------------------------------- guardians

    def _guardians(self, platform: str, sn: RosterSnapshot, person_of: dict[str, int]) -> None:
        if self.crypto is None:
            raise RuntimeError("guardian addresses need the encryption key")
        rows = {r.email_hash: r for r in self.s.execute(select(Guardian.id, Guardian.email_hash, Guardian.name,
                                                                Guardian.google_id))}
        touched: set[int] = set()
        fresh: dict[str, dict] = {}  # new guardians by hash, inserted in one executemany
        resolved: list[tuple[str, int, str]] = []
        for rec in sn.guardians:
            pid = person_of.get(rec.student_id) or person_of.get(rec.student_email)
            if pid is None:
                event(log, "roster.guardian_skipped", logging.DEBUG, reason="pupil not in the Directory")
                continue
            h = self.crypto.address_hash(rec.guardian_email)
            row = rows.get(h)
            if row is None and h not in fresh:
                fresh[h] = {"email_hash": h, "email": rec.guardian_email, "name": rec.guardian_name,
                            "google_id": rec.guardian_id, "first_seen": self.now}
            if row is None:
                resolved.append((h, pid, rec.state))
                continue
            if rec.guardian_name and (row.name, row.google_id) != (rec.guardian_name, rec.guardian_id):
                self.s.execute(update(Guardian).where(Guardian.id == row.id)
                               .values(name=rec.guardian_name, google_id=rec.guardian_id))
                touched.add(row.id)
            resolved.append((h, pid, rec.state))
        if fresh:
            self.s.execute(insert(Guardian), list(fresh.values()))
            self.counts.added += len(fresh)
        ids = dict(self.s.execute(select(Guardian.email_hash, Guardian.id)).all())
        new_ids = {ids[h] for h in fresh}
        want: dict[tuple[int, int], str] = {(ids[h], pid): state for h, pid, state in resolved}
        stored = {(g, p): (link_id, state) for link_id, g, p, state in self.s.execute(
            select(GuardianLink.id, GuardianLink.guardian_id, GuardianLink.pupil_id, GuardianLink.state)
            .where(GuardianLink.platform == platform))}
        for key, (link_id, state) in stored.items():
            if key not in want:
                self.s.execute(delete(GuardianLink).where(GuardianLink.id == link_id))
                touched.add(key[0])
            elif state != want[key]:
                self.s.execute(update(GuardianLink).where(GuardianLink.id == link_id).values(state=want[key]))
                touched.add(key[0])
        new = [{"guardian_id": g, "pupil_id": p, "state": st, "platform": platform}
               for (g, p), st in want.items() if (g, p) not in stored]
        if new:
            self.s.execute(insert(GuardianLink), new)
        touched |= {key[0] for key in want if key not in stored}
        self.counts.updated += len(touched - new_ids)
        self.s.flush()

    def _orphan_guardians(self) -> None:
        """A guardian address with no pupil left is personal data with no purpose: delete it."""
        linked = select(GuardianLink.guardian_id)
        orphans = list(self.s.scalars(select(Guardian.id).where(Guardian.id.not_in(linked))))
        if orphans:
            self.s.execute(delete(Guardian).where(Guardian.id.in_(orphans)))
            self.counts.removed += len(orphans)


def _address_index(users: list[DirectoryUser]) -> dict[str, str]:
    """google id, primary address and aliases -> primary address."""
    out: dict[str, str] = {}
    for u in users:
        for a in u.aliases:
            out.setdefault(a, u.email)
    for u in users:
        out[u.email] = u.email
        out[u.google_id] = u.email
    return out


def _person_index(people: list[PersonIds]) -> dict[str, int]:
    """google id / any address -> person id (live accounts win over deleted ones)."""
    out: dict[str, int] = {}
    for p in sorted(people, key=lambda p: p.status == "deleted", reverse=True):
        for key in (p.google_id, p.email, *(p.aliases or [])):
            if key:
                out[key] = p.id
    return out
