"""Where each person's role came from (OU, group, Classroom/Moodle class), and the conflicts an IT admin
should look at — read from the stored roster with the same rules the sync classifies by
(`integration.roster_apply.classify_user`), so the page explains the role rather than re-deciding it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.roster_apply import expand_groups, in_org_units
from integration.settings import Settings
from integration.store.models_roster import Course, Enrolment, GroupMember, Person


@dataclass
class RoleSource:
    person: Person
    sources: list[str] = field(default_factory=list)  # why the role is what it is, strongest first
    conflicts: list[str] = field(default_factory=list)
    courses: list[tuple[str, str, str]] = field(default_factory=list)  # (platform, name, teacher|student)


class RosterIndex:
    """The stored groups and class lists, loaded once for a page of people."""

    def __init__(self, session: Session, settings: Settings, person_ids: list[int] | None = None):
        self.settings = settings
        members = [(m.group_email, m.member_email, m.type) for m in session.scalars(select(GroupMember))]
        self.staff_groups = expand_groups(settings.roster.staff_groups, members)
        self.pupil_groups = expand_groups(settings.roster.pupil_groups, members)
        q = select(Enrolment.person_id, Enrolment.role, Course.platform, Course.name, Course.state) \
            .join(Course, Course.id == Enrolment.course_pk)
        if person_ids is not None:
            q = q.where(Enrolment.person_id.in_(person_ids))
        self.courses: dict[int, list[tuple[str, str, str]]] = {}
        for pid, role, platform, name, state in session.execute(q):
            if state != "DECLINED":
                self.courses.setdefault(pid, []).append((platform, name, role))

    def explain(self, p: Person) -> RoleSource:
        r = self.settings.roster
        out = RoleSource(p, courses=sorted(self.courses.get(p.id, [])))
        email = p.email.lower()
        staff_ou = in_org_units(p.org_unit or "/", r.staff_org_units)
        pupil_ou = in_org_units(p.org_unit or "/", r.pupil_org_units)
        teaches = [c for c in out.courses if c[2] == "teacher"]
        learns = [c for c in out.courses if c[2] == "student"]
        staff_signals = ([f"org unit {p.org_unit} (a staff OU)"] if staff_ou else []) \
            + (["member of a staff group"] if email in self.staff_groups else []) \
            + ([f"teacher of {len(teaches)} class{'es' if len(teaches) != 1 else ''}"] if teaches else [])
        pupil_signals = ([f"org unit {p.org_unit} (a pupil OU)"] if pupil_ou else []) \
            + (["member of a pupil group"] if email in self.pupil_groups else []) \
            + ([f"student in {len(learns)} class{'es' if len(learns) != 1 else ''}"] if learns else [])
        if p.role == "staff":
            out.sources = staff_signals
        elif p.role == "pupil":
            out.sources = pupil_signals
        elif p.role == "former_pupil":
            out.sources = [f"left the pupil org units or was suspended ({p.status})"]
        else:
            out.sources = [f"org unit {p.org_unit}: neither a staff nor a pupil OU"]
        if staff_signals and pupil_signals:
            out.conflicts.append("both staff signals (" + ", ".join(staff_signals) + ") and pupil signals ("
                                 + ", ".join(pupil_signals) + "); staff wins")
        if p.role in ("staff", "pupil") and not out.sources:
            out.conflicts.append("no current signal for this role (stored from an earlier sync while a source "
                                 "could not be read?)")
        if p.role == "staff" and learns:
            out.conflicts.append("a member of staff enrolled as a student")
        if p.role == "pupil" and p.is_admin:
            out.conflicts.append("a pupil account with admin rights")
        return out
