"""Who is behind an address: school accounts, aliases, guardians, attributed personal addresses.

Built once per audit run from the store into plain dicts, so that resolving an address
during rule evaluation is a couple of dictionary look-ups (the audit must sustain
~100,000 events/s). Personal addresses are matched by keyed hash, never kept in clear.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.crypto import Crypto
from integration.settings import Settings
from integration.store.models_audit import PersonalAddress
from integration.store.models_roster import (
    Course,
    Enrolment,
    Group,
    Guardian,
    GuardianLink,
    Person,
    PersonAlias,
)

PUPILS = frozenset({"pupil", "former_pupil"})
ATTRIBUTED = frozenset({"personal_registered", "personal_suspected"})
SCHOOL_KINDS = frozenset({"school", "alias"})
_CLOSED_COURSE_STATES = frozenset({"DECLINED", "SUSPENDED"})
_CACHE_LIMIT = 200_000
_NAME_DROP = re.compile(r"['\u2019`\-\u2010\u2011\u2013.\"]")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Resolution:
    """What an address is. ``person_email`` is the school account it belongs or is attributed to."""

    person_email: str | None
    role: str  # staff | pupil | former_pupil | guardian | other
    confidence: str | None  # known | suspected | None
    kind: str  # school | alias | guardian | personal_registered | personal_suspected | external_unknown
    guardian_of: tuple[str, ...] = ()  # pupils linked to this address when it is a guardian address

    @property
    def is_school(self) -> bool:
        return self.kind in SCHOOL_KINDS

    @property
    def is_attributed(self) -> bool:
        return self.kind in ATTRIBUTED

    @property
    def is_guardian(self) -> bool:
        return bool(self.guardian_of) or self.kind == "guardian"


@dataclass(frozen=True)
class _Person:
    email: str
    role: str
    name: str
    active: bool = True


def normalise_name(name: str) -> str:
    """Casefold, strip accents, drop apostrophes/hyphens/dots/quotes, collapse spaces."""
    text = unicodedata.normalize("NFKD", name.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _NAME_DROP.sub("", text)
    return _SPACES.sub(" ", text).strip()


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


class Identity:
    """In-memory view of the roster and registers for one audit run."""

    def __init__(self, approved_domains: list[str] | set[str], crypto: Crypto):
        self.approved_domains = frozenset(d.lower() for d in approved_domains)
        self._crypto = crypto
        self._people: dict[str, _Person] = {}  # primary email -> person
        self._addresses: dict[str, str] = {}  # any school address (primary or alias) -> primary
        self._guardians: dict[str, tuple[str, ...]] = {}  # address hash -> linked pupils
        self._personal: dict[str, str] = {}  # address hash -> owner primary email
        self._names: dict[str, str | None] = {}  # normalised full name -> email (None = ambiguous)
        self._courses_as: dict[tuple[str, str], set[int]] = {}  # (email, teacher|student) -> course pks
        self.course_group_emails: dict[str, int] = {}  # Classroom teacher/course group -> course pk
        self.groups: set[str] = set()  # Google Groups of the roster: mailing lists, not people
        self._cache: dict[tuple[str, str], Resolution] = {}
        self._school_cache: dict[str, Resolution] = {}
        self._hashes: dict[str, str] = {}

    # ------------------------------------------------------------------ building

    @classmethod
    def load(cls, session: Session, settings: Settings, crypto: Crypto, now: datetime) -> Identity:
        """Read people, aliases, guardians, courses and the personal-address register."""
        ident = cls(settings.approved_domains, crypto)
        cutoff = now - timedelta(days=settings.roster.former_pupil_retention_days)
        by_id: dict[int, str] = {}
        for p in session.scalars(select(Person)):
            email = p.email.lower()
            by_id[p.id] = email
            ident.add_person(email, _effective_role(p, cutoff), p.name, active=p.status == "active")
        for alias in session.scalars(select(PersonAlias)):
            primary = by_id.get(alias.person_id)
            if primary:
                ident._addresses.setdefault(alias.address.lower(), primary)
        links: dict[int, list[str]] = {}
        for link in session.scalars(select(GuardianLink)):
            if link.pupil_id in by_id:
                links.setdefault(link.guardian_id, []).append(by_id[link.pupil_id])
        for g in session.scalars(select(Guardian)):
            ident._guardians[g.email_hash] = tuple(sorted(set(links.get(g.id, []))))
        ident.groups.update(g.lower() for g in session.scalars(select(Group.email)))
        platforms = {p.lower() for p in settings.channels.learning_platforms}
        courses = {c.id: c for c in session.scalars(select(Course))
                   if c.platform.lower() in platforms and c.state.upper() not in _CLOSED_COURSE_STATES}
        for c in courses.values():
            for group in (c.teacher_group_email, c.course_group_email):
                if group:
                    ident.course_group_emails[group.lower()] = c.id
        for e in session.scalars(select(Enrolment)):
            if e.course_pk in courses and e.person_id in by_id:
                ident._courses_as.setdefault((by_id[e.person_id], e.role), set()).add(e.course_pk)
        for pa in session.scalars(select(PersonalAddress)):
            owner = ident._addresses.get(pa.owner_email.lower())
            if owner:
                ident._personal[pa.address_hash] = owner
        return ident

    def add_person(self, email: str, role: str, name: str = "", *, active: bool = True) -> None:
        email = email.lower()
        self._people[email] = _Person(email, role, name, active)
        self._addresses[email] = email
        if role in ("staff", "pupil", "former_pupil"):
            key = normalise_name(name)
            if " " in key:  # a single word ("Sam") attributes nobody
                self._names[key] = None if key in self._names and self._names[key] != email else email

    def add_guardian(self, address: str, pupils: tuple[str, ...]) -> None:
        self._guardians[self.address_hash(address)] = pupils

    def add_personal(self, address: str, owner: str) -> None:
        self._personal[self.address_hash(address)] = owner.lower()

    def add_enrolment(self, email: str, role: str, course_pk: int) -> None:
        self._courses_as.setdefault((email.lower(), role), set()).add(course_pk)

    # ------------------------------------------------------------------ look-ups

    def address_hash(self, address: str) -> str:
        h = self._hashes.get(address)
        if h is None:
            if len(self._hashes) > _CACHE_LIMIT:
                self._hashes.clear()
            h = self._hashes[address] = self._crypto.address_hash(address)
        return h

    def is_approved(self, address: str) -> bool:
        return domain_of(address) in self.approved_domains

    def person(self, address: str) -> str | None:
        """The primary school address behind a school address or alias."""
        return self._addresses.get(address.strip().lower())

    def role_of(self, email: str) -> str:
        p = self._people.get(email)
        return p.role if p else "other"

    def resolve(self, address: str, display_name: str = "") -> Resolution:
        school = self._school_cache.get(address)  # most traffic: school accounts, whatever the display name
        if school is not None:
            return school
        key = (address, display_name)
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) > _CACHE_LIMIT:
                self._cache.clear()
            hit = self._cache[key] = self._resolve(address.strip().lower(), display_name)
            if hit.is_school and hit.person_email is not None:
                self._school_cache[address] = hit
        return hit

    def _resolve(self, address: str, display_name: str) -> Resolution:
        primary = self._addresses.get(address)
        if primary is not None:
            kind = "school" if primary == address else "alias"
            return Resolution(primary, self._people[primary].role, "known", kind)
        if not address or "@" not in address:
            return Resolution(None, "other", None, "external_unknown")
        if self.is_approved(address):
            return Resolution(None, "other", None, "school")  # a group or unknown school address
        digest = self.address_hash(address)
        pupils = self._guardians.get(digest, ())
        is_guardian = digest in self._guardians
        owner = self._personal.get(digest)
        if owner is not None:
            return Resolution(owner, self.role_of(owner), "known", "personal_registered", pupils)
        if is_guardian:  # a known guardian address is the guardian's, whatever name it displays
            return Resolution(None, "guardian", "known", "guardian", pupils)
        if display_name:
            named = self._names.get(normalise_name(display_name))
            if named is not None:
                return Resolution(named, self.role_of(named), "suspected", "personal_suspected")
        return Resolution(None, "other", None, "external_unknown")

    def is_group(self, address: str) -> bool:
        """A Google Group address (roster group, or a class's teacher/course group): a list, not a person."""
        address = address.strip().lower()
        return address in self.groups or address in self.course_group_emails

    def shared_course(self, staff_email: str, pupil_email: str) -> bool:
        """True when the staff member teaches a course the pupil is enrolled in."""
        taught = self._courses_as.get((staff_email, "teacher"))
        if not taught:
            return False
        return not taught.isdisjoint(self._courses_as.get((pupil_email, "student"), ()))

    def people(self) -> list[tuple[str, str]]:
        """(email, role) of every active staff member, pupil and former pupil, for per-user crawls."""
        return sorted((p.email, p.role) for p in self._people.values()
                      if p.role == "former_pupil" or (p.active and p.role in ("staff", "pupil")))


def _effective_role(p: Person, cutoff: datetime) -> str:
    """Former pupils are protected only within the retention window; beyond it they are 'other'.

    A pupil account that is no longer active and carries ``left_at`` is a former pupil too.
    """
    role = p.role
    if role == "pupil" and p.left_at is not None and p.status != "active":
        role = "former_pupil"
    if role == "former_pupil" and p.left_at is not None and p.left_at < cutoff:
        return "other"
    if role == "staff" and p.status in ("deleted",):
        return "other"
    return role
