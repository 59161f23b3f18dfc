"""Deterministic generated schools, and the roster truth the service must report for them.

``generate(size, seed)`` builds a `Domain` from ``random.Random(seed)`` only (no global
random, no clock), so the same size and seed always give the same school.

Sizes: ``tiny`` (5 staff / 20 pupils / 4 classes), ``demo`` (60 / 600 / 60),
``school`` (150 / 1,500 / 300) and ``trust``: twenty schools of 135 / 1,350 / 270 (≈30,500
accounts) in ONE Google customer and domain, each with its own OU tree ``/Schools/<School>``
(``Staff``, ``Pupils``, ``Visitors``, ``Other``; an academy trust ``/Academies/<Academy>``).
``Domain.staff_org_units`` / ``pupil_org_units`` list the role OUs and ``Domain.school_units``
each school (its root OU, DSL, deputy, governor), which the written ``[[schools]]`` use.
A few families cross schools: a guardian with children at two academies of the trust.

``generate("trust", seed, domains=N)`` (``python -m sandbox --size trust --domains N``) is
a trust whose N schools each keep their own domain (``kingsmead.sch.uk`` ...) as secondary
domains of ONE customer, beside the trust's primary domain that holds its central accounts
(admin, alerts sender, safeguarding lead): how Google models one organisation with several
domains, so one service account and admin subject read it all (see `sandbox.directory`'s
``domain`` parameter). Its schools are placed by domain.

Shapes (``generate(size, seed, shape=...)``), structurally different so nothing in the service
may assume one school's layout:

* ``classic`` (the default): ``/Staff/Teaching``, ``/Staff/Support``, ``/Pupils/Year N``,
  ``/Pupils/Leavers``, visiting teachers in ``/Visitors``, year groups, working hours 07:00-21:00.
* ``academy``: ``/Academy/Staff/Teachers/<Department>``, ``/Academy/Staff/Support Staff``,
  ``/Academy/Students/Year N/<form>`` (tutor groups), ``/Academy/Students/Alumni/Class of YYYY``
  for leavers, and a separate ``/Academy/Sixth Form/Year 12|13/<form>`` OU whose students are
  pupils only through the nested ``sixthform@`` group (`Domain.pupil_groups`); peripatetic
  music staff sit in ``/Peripatetic`` and are staff only through the ``peripatetic@`` group
  (`Domain.staff_groups`); supply teachers in ``/Supply`` are staff through their courses.
  Class mail goes through one Google Group per tutor group (``form-7k@``, tutor as OWNER;
  `Domain.form_groups`). Working hours 07:30-18:30. Addresses are ``given.family`` for staff
  and ``given.family<entry yy>`` for students. A trust puts each academy under
  ``/Academies/<Academy>``.

Classification rule (the roster sync implements the same; `classify` is the reference):

1. a *deleted* account is nobody;
2. a *suspended* account is a **former pupil** if it sits in a pupil OU (sub-OUs, such as
   ``/Pupils/Leavers``, included), otherwise **other** — suspended accounts are never
   staff or pupils, even if still on a class list;
3. **staff**: in a staff OU (sub-OUs included) or a staff group, or a teacher of any
   counted Classroom course (so a supply teacher in ``/Visitors`` is staff);
4. **pupil**: in a pupil OU or pupil group, or a student of any counted course;
5. everyone else (governors, contractors, the IT admin at ``/``) is **other**.

Counted courses are every course whose state is not ``DECLINED`` (ACTIVE, ARCHIVED,
PROVISIONED, SUSPENDED). Guardians = distinct guardian addresses (lower-cased) linked to
live pupils; pending invitations are not guardians.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sandbox.model import (
    Course,
    Domain,
    Group,
    Guardian,
    GuardianInvitation,
    Member,
    OAuthToken,
    OrgUnit,
    SchoolUnit,
    User,
    in_org_units,
)
from sandbox.names import (
    ACADEMY_NAMES,
    APPS,
    FAMILY,
    GIVEN,
    MORE_ACADEMY_NAMES,
    MORE_SCHOOL_NAMES,
    PERSONAL_DOMAINS,
    SCHOOL_NAMES,
    SUBJECTS,
    ascii_slug,
    school_id,
    school_slug,
)

__all__ = ["Course", "Domain", "Group", "Guardian", "GuardianInvitation", "Member", "OAuthToken", "OrgUnit",
           "User", "SHAPES", "SIZES", "generate", "truth", "classify"]


@dataclass(frozen=True)
class Size:
    staff: int
    pupils: int
    classes: int
    schools: int
    years: tuple[int, ...]


SIZES: dict[str, Size] = {
    "tiny": Size(5, 20, 4, 1, (7, 8)),
    "demo": Size(60, 600, 60, 1, (7, 8, 9, 10, 11, 12, 13)),
    "school": Size(150, 1500, 300, 1, (7, 8, 9, 10, 11, 12, 13)),
    "trust": Size(135, 1350, 270, 20, (7, 8, 9, 10, 11, 12, 13)),
}
CROSS_SCHOOL_FAMILIES = 6  # guardians linked to children at two schools of a trust
SHAPES = ("classic", "academy")
WORKING_HOURS = {"classic": "07:00-21:00", "academy": "07:30-18:30"}
SIXTH_FORM = (12, 13)
DEPARTMENTS = ("English", "Maths", "Science", "Humanities", "Languages", "Creative Arts")
FORM_LETTERS = "KLMNPRSTW"  # tutor groups are named after the year and a letter: 7K, 7L ...
ACADEMIC_YEAR = 2026  # the generated school year is 2026-27


def generate(size: str = "demo", seed: int = 1, shape: str = "classic", domains: int = 1) -> Domain:
    """A whole simulated customer; identical for identical (size, seed, shape, domains).
    `domains` > 1 (trust only): that many schools, each in its own domain of the one customer."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {', '.join(SIZES)}")
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; choose one of {', '.join(SHAPES)}")
    if domains != 1 and (size != "trust" or not 2 <= domains <= 20):
        raise ValueError(f"domains={domains}: a trust (size trust) has 2 to 20 domains; other sizes have one")
    spec = SIZES[size]
    if domains > 1:
        spec = Size(spec.staff, spec.pupils, spec.classes, domains, spec.years)
    academy = shape == "academy"
    rng = random.Random(f"{size}:{seed}" + (":academy" if academy else "") + (f":domains{domains}" if domains > 1 else ""))
    pool = ACADEMY_NAMES if academy else SCHOOL_NAMES
    if spec.schools > len(pool):
        pool = pool + (MORE_ACADEMY_NAMES if academy else MORE_SCHOOL_NAMES)
    names = rng.sample(pool, spec.schools)
    if spec.schools == 1:
        stem = ascii_slug(names[0].split()[0])
        dom_name = f"{stem}-academy.org.uk" if academy else stem + ".sch.uk"
        title = names[0]
    elif academy:
        dom_name, title = "meridianacademies.org.uk", "Meridian Academies Trust"
    else:
        dom_name, title = "harbourlearning.org.uk", "Harbour Learning Trust"
    dom = Domain(domain=dom_name, customer_id="C0" + format(rng.getrandbits(32), "08x"), name=title,
                 admin_email=f"it.admin@{dom_name}", size=size, seed=seed, schools=names,
                 staff_org_units=[], pupil_org_units=[], shape=shape, working_hours=WORKING_HOURS[shape])
    gen = _Generator(dom, rng)
    gen.person("IT", "Admin", "/", "admin", email=dom.admin_email, is_admin=True)
    service_ou = "/Academy Services" if academy else "/Other/Service"
    dom.alerts_sender = gen.person("Safeguarding", "Alerts", service_ou, "other",
                                   email=f"safeguarding-alerts@{dom_name}").primary_email
    school_domains = _school_domains(names, academy) if domains > 1 else [dom_name] * len(names)
    dom.secondary_domains = school_domains if domains > 1 else []
    for name, mail_domain in zip(names, school_domains, strict=True):
        gen.mail_domain = mail_domain
        if academy:
            gen.academy(name, _academy_spec(spec), "/Academy" if spec.schools == 1 else f"/Academies/{name}")
        else:
            gen.school(name, spec, "" if spec.schools == 1 else f"/Schools/{name}")
        if domains > 1:
            dom.school_units[-1].org_unit, dom.school_units[-1].domain = "", mail_domain
    gen.mail_domain = dom_name
    if spec.schools > 1:
        gen.trust_office()
        gen.cross_school_families()
    gen.finish()
    return dom


def _school_domains(names: list[str], academy: bool) -> list[str]:
    """One domain per school of a multi-domain trust ("kingsmead.sch.uk", "oakwell-academy.org.uk")."""
    out: list[str] = []
    for name in names:
        words = [w for w in (ascii_slug(x) for x in name.replace("-", " ").split()) if w]
        stem = words[0] if len(words[0]) > 3 or len(words) == 1 else words[0] + words[1]
        candidate, n = (f"{stem}-academy.org.uk" if academy else f"{stem}.sch.uk"), 1
        while candidate in out:
            n += 1
            candidate = f"{stem}{n}-academy.org.uk" if academy else f"{stem}{n}.sch.uk"
        out.append(candidate)
    return out


def _academy_spec(spec: Size) -> Size:
    """A tiny academy still has a sixth form (years 7 and 12), so its separate OU is always exercised."""
    return spec if SIXTH_FORM[0] in spec.years else Size(spec.staff, spec.pupils, spec.classes, spec.schools,
                                                         (spec.years[0], SIXTH_FORM[0]))


class _Generator:
    """Holds the rng and uniqueness sets while one domain is built."""

    def __init__(self, dom: Domain, rng: random.Random) -> None:
        self.dom, self.rng = dom, rng
        self.emails: set[str] = set()
        self.ids: set[str] = set()
        self.personal: set[str] = set()
        self.guardian_ids: dict[str, str] = {}
        self.mail_domain = dom.domain  # the domain the school being built gives its accounts and groups

    def numeric_id(self, digits: int = 21) -> str:
        while True:
            value = str(self.rng.randrange(10 ** (digits - 1), 10**digits))
            if value not in self.ids:
                self.ids.add(value)
                return value

    def unique_email(self, local: str) -> str:
        local = local or "user"
        candidate, n = f"{local}@{self.mail_domain}", 1
        while candidate in self.emails:
            n += 1
            candidate = f"{local}{n}@{self.mail_domain}"
        self.emails.add(candidate)
        return candidate

    def stamp(self, year: int, month: int = 9, day: int = 1) -> str:
        return f"{year:04d}-{month:02d}-{day:02d}T{self.rng.randrange(7, 17):02d}:{self.rng.randrange(60):02d}:00.000Z"

    def person(self, given: str, family: str, ou: str, role: str, *, email: str = "", local: str = "",
               is_admin: bool = False, school: str = "", year: int = 0, created: str = "") -> User:
        if email:
            self.emails.add(email)
        else:
            email = self.unique_email(local or f"{ascii_slug(given)[:1]}{ascii_slug(family) or ascii_slug(given)}")
        user = User(id=self.numeric_id(), primary_email=email, given_name=given, family_name=family,
                    org_unit_path=ou, role_truth=role, is_admin=is_admin, school=school, year=year,
                    creation_time=created or self.stamp(self.rng.randrange(2014, ACADEMIC_YEAR + 1)))
        self.dom.ensure_org_unit(ou)
        self.dom.users.append(user)
        return user

    def name(self) -> tuple[str, str]:
        given, family = self.rng.choice(GIVEN), self.rng.choice(FAMILY)
        roll = self.rng.random()
        if roll < 0.02:
            family = ""  # a few accounts with no family name
        elif roll < 0.03:
            given = ""
        return given, family

    def school(self, name: str, spec: Size, prefix: str) -> None:
        rng, dom = self.rng, self.dom
        staff_ou, pupil_ou = f"{prefix}/Staff", f"{prefix}/Pupils"
        dom.staff_org_units.append(staff_ou)
        dom.pupil_org_units.append(pupil_ou)
        tag = school_slug(name) if prefix else ""
        teaching: list[User] = []
        support: list[User] = []
        for i in range(spec.staff):
            given, family = self.name()
            sub = "Teaching" if i < max(1, round(spec.staff * 0.7)) else "Support"
            user = self.person(given or "Staff", family, f"{staff_ou}/{sub}", "staff", school=name)
            if rng.random() < 0.2:
                user.aliases.append(self.unique_email(f"{ascii_slug(user.given_name)}.{ascii_slug(family) or 'staff'}"))
            (teaching if sub == "Teaching" else support).append(user)
        if not dom.dsl_email:
            dom.dsl_email = (support or teaching)[0].primary_email
        visitors = [self.person(*self.name(), f"{prefix}/Visitors" if prefix else "/Visitors", "staff", school=name)
                    for _ in range(1 if spec.staff < 10 else 2)]
        others = []
        for title in ("Governor", "Contractor"):
            given, family = self.name()
            others.append(self.person(given or title, family, f"{prefix}/Other" if prefix else "/Other", "other",
                                      school=name))
        self.unit(name, prefix or "/", support or teaching, others[0])
        pupils_by_year: dict[int, list[User]] = {}
        per_year = spec.pupils // len(spec.years)
        for idx, year in enumerate(spec.years):
            count = per_year + (1 if idx < spec.pupils % len(spec.years) else 0)
            entry = ACADEMIC_YEAR - (year - 7)
            for _ in range(count):
                given, family = self.name()
                local = f"{entry % 100:02d}{ascii_slug(family) or ascii_slug(given)}{ascii_slug(given)[:1]}"
                pupils_by_year.setdefault(year, []).append(
                    self.person(given, family, f"{pupil_ou}/Year {year}", "pupil", local=local, school=name,
                                year=year, created=self.stamp(entry)))
        leavers = []
        for _ in range(max(1, spec.pupils // 30)):
            given, family = self.name()
            local = f"{(ACADEMIC_YEAR - 7) % 100:02d}{ascii_slug(family) or ascii_slug(given)}{ascii_slug(given)[:1]}"
            user = self.person(given, family, f"{pupil_ou}/Leavers", "former_pupil", local=local, school=name,
                               created=self.stamp(ACADEMIC_YEAR - 7))
            user.suspended, user.suspension_reason = True, "ADMIN"
            leavers.append(user)
        self.groups(tag, teaching + support, pupils_by_year)
        self.courses(name, spec, teaching, visitors, pupils_by_year, leavers)
        self.guardians(pupils_by_year, teaching + support)

    def groups(self, tag: str, staff: list[User], pupils_by_year: dict[int, list[User]]) -> None:
        pre = f"{tag}-" if tag else ""
        dom = self.dom
        staff_group = Group(self.numeric_id(20), f"{pre}staff@{self.mail_domain}", f"{pre}All staff".strip("-"),
                            members=[Member(u.primary_email, u.id) for u in staff])
        pupils_group = Group(self.numeric_id(20), f"{pre}pupils@{self.mail_domain}", f"{pre}All pupils".strip("-"))
        dom.groups += [staff_group, pupils_group]
        for year, pupils in pupils_by_year.items():
            year_group = Group(self.numeric_id(20), f"{pre}year{year}@{self.mail_domain}", f"{pre}Year {year}".strip("-"),
                               members=[Member(u.primary_email, u.id) for u in pupils])
            dom.groups.append(year_group)
            pupils_group.members.append(Member(year_group.email, year_group.id, type="GROUP"))
        staff_group.members[0].role = "OWNER"

    def courses(self, school: str, spec: Size, teaching: list[User], visitors: list[User],
                pupils_by_year: dict[int, list[User]], leavers: list[User]) -> None:
        rng, years = self.rng, list(spec.years)
        for i in range(spec.classes):
            year = years[i % len(years)]
            subject = SUBJECTS[(i // len(years)) % len(SUBJECTS)]
            teacher = teaching[i % len(teaching)]
            roll = rng.random()
            state = "ACTIVE" if roll < 0.85 else "ARCHIVED" if roll < 0.95 else "PROVISIONED"
            if i == spec.classes - 1 and spec.classes >= 10:
                state = "DECLINED"
            created_year = ACADEMIC_YEAR - (1 if state == "ARCHIVED" else 0)
            course = Course(id=self.numeric_id(12), name=f"{year}{'ABCDEFGH'[i % 8]} {subject}",
                            section=f"{created_year}-{(created_year + 1) % 100:02d}", owner_id=teacher.id,
                            course_state=state, creation_time=self.stamp(created_year, 9, 1 + i % 28),
                            enrollment_code=format(rng.getrandbits(28), "07x"), school=school,
                            teacher_ids=[teacher.id], _domain=self.mail_domain)
            course.update_time = course.creation_time
            if rng.random() < 0.2 and len(teaching) > 1:
                co = rng.choice(teaching)
                if co.id not in course.teacher_ids:
                    course.teacher_ids.append(co.id)
            if i < len(visitors):
                course.teacher_ids.append(visitors[i].id)
                course.course_state = "ACTIVE"
            if state != "PROVISIONED":
                pool = pupils_by_year.get(year, [])
                course.student_ids = [u.id for u in rng.sample(pool, min(len(pool), rng.randrange(15, 31)))]
                if state == "ARCHIVED" and leavers:
                    course.student_ids.append(rng.choice(leavers).id)
            self.dom.courses.append(course)

    def guardians(self, pupils_by_year: dict[int, list[User]], staff: list[User]) -> None:
        rng, dom = self.rng, self.dom
        recent: list[Guardian] = []
        for pupils in pupils_by_year.values():
            for pupil in pupils:
                roll = rng.random()
                count = 0 if roll < 0.15 else 1 if roll < 0.75 else 2
                for n in range(count):
                    if recent and rng.random() < 0.08:  # a sibling: same guardian, second child
                        g = rng.choice(recent)
                        dom.guardians.append(Guardian(g.guardian_id, pupil.id, g.email, g.given_name, g.family_name))
                        continue
                    given = rng.choice(GIVEN)
                    family = pupil.family_name if (n == 0 and pupil.family_name) else rng.choice(FAMILY)
                    if rng.random() < 0.05 and staff:
                        parent = rng.choice(staff)  # a member of staff who is also a parent here
                        email, given, family = parent.primary_email, parent.given_name, parent.family_name
                    else:
                        email = self.personal_address(given, family)
                    gid = self.guardian_ids.setdefault(email, self.numeric_id())
                    g = Guardian(gid, pupil.id, email, given, family)
                    dom.guardians.append(g)
                    recent = (recent + [g])[-20:]
                if rng.random() < 0.03:
                    dom.guardian_invitations.append(GuardianInvitation(
                        self.numeric_id(), pupil.id, self.personal_address(rng.choice(GIVEN), pupil.family_name)))
        staff_emails = {u.primary_email for u in staff}
        first = next((p for ps in pupils_by_year.values() for p in ps), None)
        if staff and first and not any(g.email in staff_emails for g in dom.guardians):
            parent = staff[0]  # every school has at least one member of staff who is a parent here
            gid = self.guardian_ids.setdefault(parent.primary_email, self.numeric_id())
            dom.guardians.append(Guardian(gid, first.id, parent.primary_email, parent.given_name, parent.family_name))

    # ------------------------------------------------------------------ academy shape

    def academy(self, name: str, spec: Size, prefix: str) -> None:
        """One academy (module docstring): departments, tutor groups, a sixth form and roles by group."""
        rng, dom = self.rng, self.dom
        staff_ou, pupil_ou, sixth_ou = f"{prefix}/Staff", f"{prefix}/Students", f"{prefix}/Sixth Form"
        dom.staff_org_units.append(staff_ou)
        dom.pupil_org_units.append(pupil_ou)
        pre = f"{ascii_slug(name.split()[0])}-" if prefix != "/Academy" else ""  # unique per academy
        teaching: list[User] = []
        support: list[User] = []
        for i in range(spec.staff):
            given, family = self.name()
            is_teacher = i < max(1, round(spec.staff * 0.7))
            ou = f"{staff_ou}/Teachers/{DEPARTMENTS[i % len(DEPARTMENTS)]}" if is_teacher else f"{staff_ou}/Support Staff"
            user = self.person(given or "Staff", family, ou, "staff", school=name,
                               local=f"{ascii_slug(given) or 'staff'}.{ascii_slug(family) or 'staff'}")
            if rng.random() < 0.15:
                user.aliases.append(self.unique_email(f"{(ascii_slug(given) or 's')[:1]}{ascii_slug(family) or 'staff'}"))
            (teaching if is_teacher else support).append(user)
        if not dom.dsl_email:
            dom.dsl_email = (support or teaching)[-1].primary_email
        own = "" if prefix == "/Academy" else prefix  # a trust's academy keeps even these OUs in its own tree
        peripatetic = [self.person(*self.name(), f"{own}/Peripatetic", "staff", school=name)
                       for _ in range(1 if spec.staff < 10 else 3)]
        supply = [self.person(*self.name(), f"{own}/Supply", "staff", school=name)
                  for _ in range(1 if spec.staff < 10 else 2)]
        others = []
        for title in ("Trustee", "Catering"):
            given, family = self.name()
            others.append(self.person(given or title, family, f"{own}/External/{title}", "other", school=name))
        self.unit(name, prefix, list(reversed(support or teaching)), others[0])
        pupils_by_year: dict[int, list[User]] = {}
        forms: dict[str, list[User]] = {}
        per_year = spec.pupils // len(spec.years)
        for idx, year in enumerate(spec.years):
            count = per_year + (1 if idx < spec.pupils % len(spec.years) else 0)
            entry = ACADEMIC_YEAR - (year - 7)
            letters = FORM_LETTERS[:max(1, -(-count // 28))]
            base = f"{sixth_ou}/Year {year}" if year in SIXTH_FORM else f"{pupil_ou}/Year {year}"
            for n in range(count):
                given, family = self.name()
                form = f"{year}{letters[n % len(letters)]}"
                local = f"{ascii_slug(given) or 'student'}.{ascii_slug(family) or 'student'}{entry % 100:02d}"
                pupil = self.person(given, family, f"{base}/{form}", "pupil", local=local, school=name,
                                    year=year, created=self.stamp(entry))
                pupils_by_year.setdefault(year, []).append(pupil)
                forms.setdefault(form, []).append(pupil)
        for _ in range(max(1, spec.pupils // 30)):
            given, family = self.name()
            local = f"{ascii_slug(given) or 'student'}.{ascii_slug(family) or 'student'}{(ACADEMIC_YEAR - 7) % 100:02d}"
            user = self.person(given, family, f"{pupil_ou}/Alumni/Class of {ACADEMIC_YEAR}", "former_pupil",
                               local=local, school=name, created=self.stamp(ACADEMIC_YEAR - 7))
            user.suspended, user.suspension_reason = True, "ADMIN"
        self.academy_groups(pre, teaching, support, peripatetic, forms)
        leavers = [u for u in dom.users if u.school == name and u.role_truth == "former_pupil"]
        self.courses(name, spec, teaching, supply, pupils_by_year, leavers)
        self.guardians(pupils_by_year, teaching + support)

    def academy_groups(self, pre: str, teaching: list[User], support: list[User], peripatetic: list[User],
                       forms: dict[str, list[User]]) -> None:
        """All-staff and peripatetic groups (roles by membership), one group per tutor group, and a
        nested sixth-form group that is the only thing making sixth formers pupils."""
        dom = self.dom

        def group(local: str, title: str, members: list[Member]) -> Group:
            g = Group(self.numeric_id(20), f"{pre}{local}@{self.mail_domain}", f"{pre}{title}".strip("-"), members=members)
            dom.groups.append(g)
            return g

        def members(users: list[User]) -> list[Member]:
            return [Member(u.primary_email, u.id) for u in users]

        staff = group("allstaff", "All staff", members(teaching + support))
        staff.members[0].role = "OWNER"
        peri = group("peripatetic", "Peripatetic music staff", members(peripatetic))
        dom.staff_groups.append(peri.email)
        students = group("students", "All students", [])
        sixth = group("sixthform", "Sixth Form", [])
        dom.pupil_groups.append(sixth.email)
        for n, (form, pupils) in enumerate(sorted(forms.items(), key=lambda kv: (int(kv[0][:-1]), kv[0]))):
            tutor = teaching[n % len(teaching)]
            g = group(f"form-{form.lower()}", f"Tutor group {form}", [Member(tutor.primary_email, tutor.id, role="OWNER")]
                      + members(pupils))
            dom.form_groups[g.email] = tutor.primary_email
            parent = sixth if int(form[:-1]) in SIXTH_FORM else students
            parent.members.append(Member(g.email, g.id, type="GROUP"))

    def unit(self, name: str, root: str, safeguarding: list[User], governor: User) -> None:
        """Record the school (`SchoolUnit`): its DSL is the first of `safeguarding`, its deputy the second."""
        deputy = safeguarding[1] if len(safeguarding) > 1 else safeguarding[0]
        self.dom.school_units.append(SchoolUnit(
            school_id(name), name, org_unit=root, dsl_email=safeguarding[0].primary_email,
            deputy_email=deputy.primary_email, governor_email=governor.primary_email,
            working_hours=self.dom.working_hours))

    def trust_office(self) -> None:
        """The trust's central team (in no school): the trust-wide safeguarding lead and the chair of trustees."""
        dom, ou = self.dom, "/Trust Office"
        dom.trust_lead_email = self.person("Morgan", "Ellery", ou, "other", local="safeguarding.lead").primary_email
        dom.trust_viewer_email = self.person("Alex", "Fairburn", ou, "other", local="chair.trustees").primary_email

    def cross_school_families(self) -> None:
        """A few guardians of a pupil at one school who also have a child at the next school of the trust."""
        dom, rng = self.dom, self.rng
        pupils: dict[str, list[User]] = {}
        for u in dom.users:
            if u.role_truth == "pupil":
                pupils.setdefault(u.school, []).append(u)
        by_pupil: dict[str, list[Guardian]] = {}
        staff_emails = {u.primary_email for u in dom.users if u.role_truth == "staff"}
        for g in dom.guardians:
            if g.email not in staff_emails:
                by_pupil.setdefault(g.student_id, []).append(g)
        names = dom.schools
        for i in range(min(CROSS_SCHOOL_FAMILIES, len(names))):
            here, there = names[i % len(names)], names[(i + 1) % len(names)]
            with_guardians = [p for p in pupils.get(here, []) if p.id in by_pupil]
            if not with_guardians or not pupils.get(there):
                continue
            g = by_pupil[rng.choice(with_guardians).id][0]
            child = rng.choice(pupils[there])
            dom.guardians.append(Guardian(g.guardian_id, child.id, g.email, g.given_name, g.family_name))

    def personal_address(self, given: str, family: str) -> str:
        rng = self.rng
        while True:
            stem = ascii_slug(given) or "home"
            fam = ascii_slug(family)
            local = rng.choice([f"{stem}.{fam}", f"{stem}{fam}", f"{stem[:1]}{fam}", f"{stem}_{fam}"]).strip("._")
            address = f"{local}{rng.randrange(1, 100)}@{rng.choice(PERSONAL_DOMAINS)}"
            if address not in self.personal:
                self.personal.add(address)
                return address

    def finish(self) -> None:
        """Personal addresses and OAuth grants for everyone (pupils AND staff)."""
        rng, dom = self.rng, self.dom
        for user in dom.users:
            if user.role_truth not in ("staff", "pupil"):
                continue
            if rng.random() < 0.85:
                addresses = [self.personal_address(user.given_name, user.family_name)]
                if rng.random() < 0.1:
                    addresses.append(self.personal_address(user.given_name, user.family_name))
                dom.personal_addresses[user.primary_email] = addresses
            odds = (0.7, 0.2, 0.15, 0.05, 0.05, 0.05) if user.role_truth == "staff" else (0.5, 0.1, 0.1, 0.1, 0.0, 0.0)
            for (text, stem, scopes, native), p in zip(APPS, odds, strict=True):
                if rng.random() < p:
                    dom.tokens.append(OAuthToken(user.primary_email, f"{stem}-{ascii_slug(text)[:8]}.apps."
                                                 "googleusercontent.com", text, list(scopes), native_app=native))
        teaching = "Teachers/English" if dom.shape == "academy" else "Teaching"
        gone = self.person("Former", "Teacher", f"{dom.staff_org_units[0]}/{teaching}", "other")
        gone.deleted, gone.deletion_time = True, "2026-10-20T10:00:00.000Z"


# --------------------------------------------------------------------------- truth


def classify(dom: Domain) -> dict[str, str]:
    """Expected role of every live account, by the rule in the module docstring."""
    with dom.lock:
        counted = [c for c in dom.courses if c.course_state != "DECLINED"]
        teachers = {t for c in counted for t in c.teacher_ids}
        students = {s for c in counted for s in c.student_ids}
        staff_members = _group_users(dom, dom.staff_groups)
        pupil_members = _group_users(dom, dom.pupil_groups)
        roles: dict[str, str] = {}
        for u in dom.live_users():
            email = u.primary_email
            if u.suspended:
                roles[email] = "former_pupil" if in_org_units(u.org_unit_path, dom.pupil_org_units) else "other"
            elif in_org_units(u.org_unit_path, dom.staff_org_units) or email in staff_members or u.id in teachers:
                roles[email] = "staff"
            elif in_org_units(u.org_unit_path, dom.pupil_org_units) or email in pupil_members or u.id in students:
                roles[email] = "pupil"
            else:
                roles[email] = "other"
        return roles


def _group_users(dom: Domain, group_emails: list[str]) -> set[str]:
    """User emails in the given groups, nested groups expanded."""
    found: set[str] = set()
    todo, seen = [g.lower() for g in group_emails], set()
    while todo:
        group = dom.find_group(todo.pop())
        if group is None or group.id in seen:
            continue
        seen.add(group.id)
        for m in group.members:
            (todo.append(m.email) if m.type == "GROUP" else found.add(m.email.lower()))
    return found


def truth(dom: Domain) -> dict:
    """The roster counts `sync --json` must report for this domain, plus each person's role."""
    roles = classify(dom)
    with dom.lock:
        live_pupils = {u.id for u in dom.live_users() if roles.get(u.primary_email) == "pupil"}
        guardians = {g.email.lower() for g in dom.guardians if g.student_id in live_pupils}
        courses = [c for c in dom.courses if c.course_state != "DECLINED"]
    counts = {role: sum(1 for r in roles.values() if r == role) for role in ("staff", "pupil", "former_pupil", "other")}
    return {
        "staff": counts["staff"],
        "pupils": counts["pupil"],
        "former_pupils": counts["former_pupil"],
        "other": counts["other"],
        "guardians": len(guardians),
        "courses": len(courses),
        "roles": roles,
    }
