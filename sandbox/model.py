"""The simulated domain's data: plain dataclasses plus the few mutations tests need.

Everything an API module serves is derived from a `Domain`, so paging, cursors and
faults emerge from data rather than canned replies. API modules owned by other
engineers keep their own state in `Domain.extra` (``domain.state("drive", dict)``)
so this module need not know their shapes. Mutations take `Domain.lock` because the
server answers requests on several threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
Listener = Callable[[str, dict[str, Any]], None]
log = logging.getLogger("sandbox")

SCOPE = "https://www.googleapis.com/auth/"
# Every scope the service needs (google-apis.md §8). `classroom.push-notifications` cannot really be
# delegated (Google wants a user grant); the sandbox allows it so the push path can be exercised.
SERVICE_SCOPES: tuple[str, ...] = tuple(
    SCOPE + s
    for s in (
        "admin.directory.user.readonly",
        "admin.directory.group.readonly",
        "admin.directory.group.member.readonly",
        "admin.directory.orgunit.readonly",
        "admin.directory.rolemanagement.readonly",
        "admin.directory.user.security",
        "admin.reports.audit.readonly",
        "classroom.courses.readonly",
        "classroom.rosters.readonly",
        "classroom.profile.emails",
        "classroom.guardianlinks.students.readonly",
        "classroom.push-notifications",
        "drive.metadata.readonly",
        "drive.readonly",
        "gmail.settings.basic",
        "gmail.readonly",
        "gmail.metadata",
        "gmail.send",
        "forms.body",
        "forms.body.readonly",
        "forms.responses.readonly",
        "chat.admin.spaces.readonly",
        "chat.admin.memberships.readonly",
        "meetings.space.readonly",
    )
)

ROLES = ("staff", "pupil", "former_pupil", "other", "admin")
MAX_VIEWS = 64  # cached derived lists per domain (one per distinct listing query)


@dataclass
class User:
    id: str
    primary_email: str
    given_name: str
    family_name: str
    org_unit_path: str = "/"
    role_truth: str = "other"
    suspended: bool = False
    suspension_reason: str = ""
    archived: bool = False
    aliases: list[str] = field(default_factory=list)
    is_admin: bool = False
    creation_time: str = "2020-09-01T08:00:00.000Z"
    last_login_time: str = "1970-01-01T00:00:00.000Z"
    deleted: bool = False
    deletion_time: str = ""
    school: str = ""  # trust only: which school the person belongs to
    year: int = 0  # pupils: national curriculum year (0 = not a pupil)

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.given_name, self.family_name) if p)

    @property
    def email(self) -> str:
        return self.primary_email


@dataclass
class OrgUnit:
    org_unit_id: str
    path: str
    name: str
    parent_path: str
    parent_id: str
    description: str = ""


@dataclass
class Member:
    email: str
    id: str
    type: str = "USER"  # USER | GROUP | CUSTOMER | EXTERNAL
    role: str = "MEMBER"  # OWNER | MANAGER | MEMBER
    status: str = "ACTIVE"


@dataclass
class Group:
    id: str
    email: str
    name: str
    description: str = ""
    members: list[Member] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)


@dataclass
class Course:
    id: str
    name: str
    section: str
    owner_id: str
    course_state: str = "ACTIVE"  # ACTIVE | ARCHIVED | PROVISIONED | DECLINED | SUSPENDED
    creation_time: str = "2026-09-01T08:00:00.000Z"
    update_time: str = "2026-09-01T08:00:00.000Z"
    enrollment_code: str = ""
    teacher_ids: list[str] = field(default_factory=list)
    student_ids: list[str] = field(default_factory=list)
    school: str = ""

    @property
    def teacher_group_email(self) -> str:
        return f"{self.name_slug}_teachers_{self.id[-6:]}@{self._domain}"

    @property
    def course_group_email(self) -> str:
        return f"{self.name_slug}_{self.id[-6:]}@{self._domain}"

    @property
    def alternate_link(self) -> str:
        return f"https://classroom.google.com/c/{self.id}"

    # set by Domain.add_course so group emails carry the right domain
    _domain: str = field(default="", repr=False)

    @property
    def name_slug(self) -> str:
        return "".join(ch for ch in self.name.lower().replace(" ", "_") if ch.isalnum() or ch == "_")[:20]


@dataclass
class Guardian:
    guardian_id: str
    student_id: str
    email: str
    given_name: str
    family_name: str

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.given_name, self.family_name) if p)


@dataclass
class GuardianInvitation:
    invitation_id: str
    student_id: str
    invited_email: str
    state: str = "PENDING"  # PENDING | COMPLETE
    creation_time: str = "2026-09-10T08:00:00.000Z"


@dataclass
class OAuthToken:
    """A third-party OAuth grant as Directory tokens.list reports it."""

    user_email: str
    client_id: str
    display_text: str
    scopes: list[str]
    anonymous: bool = False
    native_app: bool = False


@dataclass
class SchoolUnit:
    """One school of a trust as the sandbox built it: what its written ``[[schools]]`` entry says.

    A school is either an OU tree in the trust's domain (`org_unit`) or a whole domain of the
    customer (`domain`, a two-domain trust); its own DSL, deputy and governor are real accounts."""

    id: str
    name: str
    org_unit: str = ""  # the school's root OU ("/Schools/Kingsmead Academy"); "" for a domain-based school
    domain: str = ""  # its own domain in the customer ("" = the trust's primary domain)
    dsl_email: str = ""
    deputy_email: str = ""
    governor_email: str = ""
    working_hours: str = ""


@dataclass
class Domain:
    """One simulated Google Workspace customer (a school or a whole trust).

    `domain` is the customer's primary domain; `secondary_domains` are its other domains (a trust
    whose schools each keep their own domain), all listed by Directory with ``customer=my_customer``."""

    domain: str
    customer_id: str
    name: str
    admin_email: str
    size: str = "tiny"
    seed: int = 1
    users: list[User] = field(default_factory=list)
    org_units: list[OrgUnit] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    courses: list[Course] = field(default_factory=list)
    guardians: list[Guardian] = field(default_factory=list)
    guardian_invitations: list[GuardianInvitation] = field(default_factory=list)
    tokens: list[OAuthToken] = field(default_factory=list)
    personal_addresses: dict[str, list[str]] = field(default_factory=dict)
    staff_org_units: list[str] = field(default_factory=lambda: ["/Staff"])
    pupil_org_units: list[str] = field(default_factory=lambda: ["/Pupils"])
    staff_groups: list[str] = field(default_factory=list)
    pupil_groups: list[str] = field(default_factory=list)
    schools: list[str] = field(default_factory=list)
    school_units: list[SchoolUnit] = field(default_factory=list)  # trust only: one per school, in order
    secondary_domains: list[str] = field(default_factory=list)
    shape: str = "classic"  # sandbox.school.SHAPES
    working_hours: str = "07:00-21:00"  # the school's day, written into [channels] working_hours
    form_groups: dict[str, str] = field(default_factory=dict)  # class-mail group email -> tutor (academy shape)
    dsl_email: str = ""
    alerts_sender: str = ""
    trust_lead_email: str = ""  # trust only: the central safeguarding lead (in no school)
    trust_viewer_email: str = ""  # trust only: the chair of trustees (every school's reports)
    delegated_scopes: set[str] = field(default_factory=lambda: set(SERVICE_SCOPES))
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    registrations: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # change hooks (sandbox.push delivers notifications from them); see `notify`
    listeners: list[Listener] = field(default_factory=list, repr=False, compare=False)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    _next_id: int = field(default=0, repr=False)
    _version: int = field(default=0, repr=False)  # bumped by `touch`: emails/aliases edited in place
    _generation: int = field(default=0, repr=False)  # bumped by every mutation below and by `touch`
    _index_cache: tuple[Any, dict[str, User], dict[str, User]] | None = field(default=None, repr=False, compare=False)
    _course_cache: tuple[Any, dict[str, Course]] | None = field(default=None, repr=False, compare=False)
    _views: dict[Hashable, Any] = field(default_factory=dict, repr=False, compare=False)
    _views_stamp: Any = field(default=None, repr=False, compare=False)

    # ------------------------------------------------------------------ look-ups

    @property
    def domains(self) -> list[str]:
        """Every domain of the customer, primary first."""
        return [self.domain, *self.secondary_domains]

    def is_internal(self, address: str) -> bool:
        """True for an address in one of the customer's domains (what Google counts as inside the organisation)."""
        return address.rpartition("@")[2].lower() in self.domains

    def state(self, key: str, factory: Callable[[], T]) -> T:
        """Per-API state for modules this file does not know (drive, gmail ...), created on first use."""
        with self.lock:
            if key not in self.extra:
                self.extra[key] = factory()
            return self.extra[key]

    def _index(self) -> tuple[dict[str, User], dict[str, User]]:
        """(by email/alias, by id), rebuilt only when the user list changes (trust-sized domains are big)."""
        key = (id(self.users), len(self.users), self._version)
        cache = self._index_cache  # read once, no lock: a current index is only ever replaced whole
        if cache is not None and cache[0] == key:
            return cache[1], cache[2]
        with self.lock:
            if self._index_cache is None or self._index_cache[0] != key:
                by_email: dict[str, User] = {}
                by_id: dict[str, User] = {}
                for u in sorted(self.users, key=lambda u: u.deleted):  # live accounts win over deleted ones
                    by_id.setdefault(u.id, u)
                    by_email.setdefault(u.primary_email.lower(), u)
                for u in self.users:
                    for a in u.aliases:
                        by_email.setdefault(a.lower(), u)
                self._index_cache = (key, by_email, by_id)
            return self._index_cache[1], self._index_cache[2]

    def find_user(self, key: str, *, include_deleted: bool = False) -> User | None:
        """By primary email, alias or numeric id (Directory's userKey)."""
        by_email, by_id = self._index()
        user = by_id.get(key) or by_email.get(key.lower())
        if user is None or (user.deleted and not include_deleted):
            return None
        return user

    def touch(self) -> None:
        """Call after editing model objects in place (emails, aliases, flags, org units ...), so
        look-ups and cached views (`view`) see the change; the mutation methods below need not."""
        with self.lock:
            self._version += 1
            self._generation += 1

    def _changed(self) -> None:
        """Record a mutation (caller holds the lock): cached views are stale, user look-ups are not."""
        self._generation += 1

    def _stamp(self) -> tuple[Any, ...]:
        """Changes whenever anything a view may depend on does (lists replaced or resized too)."""
        lists = (self.users, self.courses, self.guardians, self.groups, self.org_units, self.guardian_invitations)
        return (self._generation, *(id(x) for x in lists), *(len(x) for x in lists))

    def view(self, key: Hashable, build: Callable[[], T]) -> T:
        """`build()`'s result, kept until the domain changes: for derived lists (filtered, sorted)
        that every page of a listing would otherwise rebuild. Callers must not mutate it."""
        with self.lock:
            stamp = self._stamp()
            if self._views_stamp != stamp:
                self._views.clear()
                self._views_stamp = stamp
            if key not in self._views:
                if len(self._views) >= MAX_VIEWS:
                    self._views.clear()
                self._views[key] = build()
            return self._views[key]

    def user_by_id(self) -> dict[str, User]:
        return self._index()[1]

    def user_by_email(self) -> dict[str, User]:
        return self._index()[0]

    def live_users(self) -> Iterator[User]:
        return (u for u in self.users if not u.deleted)

    def find_group(self, key: str) -> Group | None:
        key = key.lower()
        for g in self.groups:
            if g.id == key or g.email.lower() == key or key in (a.lower() for a in g.aliases):
                return g
        return None

    def find_course(self, key: str) -> Course | None:
        """By id, through an index rebuilt when the course list is replaced or resized (or `touch`)."""
        stamp = (id(self.courses), len(self.courses), self._version)
        cache = self._course_cache
        if cache is None or cache[0] != stamp:
            with self.lock:
                by_id: dict[str, Course] = {}
                for c in self.courses:
                    by_id.setdefault(c.id, c)
                cache = self._course_cache = (stamp, by_id)
        course = cache[1].get(key)
        if course is None:  # an index made stale by an in-place swap must not hide a course
            course = next((c for c in self.courses if c.id == key), None)
        return course

    def org_unit(self, path: str) -> OrgUnit | None:
        for ou in self.org_units:
            if ou.path == path:
                return ou
        return None

    def new_id(self, digits: int = 21) -> str:
        """A fresh numeric id, deterministic given the generation history."""
        with self.lock:
            self._next_id += 1
            return str(10 ** (digits - 1) + self.seed * 10**9 + 500_000_000 + self._next_id)

    def notify(self, topic: str, **data: Any) -> None:
        """Tell listeners something changed (topics: see `sandbox.push`); a failing listener never
        breaks the mutation that called it."""
        for listener in list(self.listeners):
            try:
                listener(topic, data)
            except Exception:  # a push bug must not turn a test's mutation into a crash
                log.exception("sandbox listener failed on %s", topic)

    # ------------------------------------------------------------------ mutations (for sync tests)

    def add_user(
        self, email: str, given_name: str, family_name: str, org_unit_path: str = "/", *,
        role_truth: str = "other", is_admin: bool = False, creation_time: str = "2026-11-01T09:00:00.000Z",
    ) -> User:
        with self.lock:
            user = User(
                id=self.new_id(), primary_email=email.lower(), given_name=given_name, family_name=family_name,
                org_unit_path=org_unit_path, role_truth=role_truth, is_admin=is_admin, creation_time=creation_time,
            )
            self.ensure_org_unit(org_unit_path)
            self.users.append(user)
            self._changed()
        self.notify("directory.users", event="add", user=user)
        return user

    def remove_user(self, key: str) -> User:
        """Delete the account (Directory keeps it ~20 days, visible with showDeleted=true)."""
        with self.lock:
            user = self._require(key)
            user.deleted = True
            user.deletion_time = "2026-11-02T09:00:00.000Z"
            dropped: list[tuple[str, str]] = []
            for c in self.courses:
                for role, ids in (("teacher", c.teacher_ids), ("student", c.student_ids)):
                    if user.id in ids:
                        ids.remove(user.id)
                        dropped.append((c.id, role))
            for g in self.groups:
                g.members = [m for m in g.members if m.id != user.id]
            self._changed()
        self.notify("directory.users", event="delete", user=user)
        for course_id, role in dropped:
            self.notify("classroom.roster", event="DELETED", course_id=course_id, user_id=user.id, role=role)
        return user

    def suspend_user(self, key: str, reason: str = "ADMIN") -> User:
        with self.lock:
            user = self._require(key)
            user.suspended, user.suspension_reason = True, reason
            self._changed()
        self.notify("directory.users", event="update", user=user)
        return user

    def unsuspend_user(self, key: str) -> User:
        with self.lock:
            user = self._require(key)
            user.suspended, user.suspension_reason = False, ""
            self._changed()
        self.notify("directory.users", event="update", user=user)
        return user

    def move_user(self, key: str, org_unit_path: str) -> User:
        with self.lock:
            user = self._require(key)
            self.ensure_org_unit(org_unit_path)
            user.org_unit_path = org_unit_path
            self._changed()
        self.notify("directory.users", event="update", user=user)
        return user

    def rename_user(self, key: str, given_name: str, family_name: str) -> User:
        with self.lock:
            user = self._require(key)
            user.given_name, user.family_name = given_name, family_name
            self._changed()
        self.notify("directory.users", event="update", user=user)
        return user

    def add_guardian(self, student_key: str, email: str, given_name: str = "", family_name: str = "") -> Guardian:
        with self.lock:
            student = self._require(student_key)
            existing = next((g for g in self.guardians if g.email.lower() == email.lower()), None)
            gid = existing.guardian_id if existing else self.new_id()
            guardian = Guardian(gid, student.id, email.lower(), given_name, family_name)
            self.guardians.append(guardian)
            self._changed()
            return guardian

    def remove_guardian(self, student_key: str, email: str) -> None:
        with self.lock:
            student = self._require(student_key)
            self.guardians = [
                g for g in self.guardians if not (g.student_id == student.id and g.email.lower() == email.lower())
            ]
            self._changed()

    def enrol(self, course_id: str, user_key: str, role: str = "student") -> None:
        with self.lock:
            course, user = self.find_course(course_id), self._require(user_key)
            if course is None:
                raise KeyError(course_id)
            ids = course.teacher_ids if role == "teacher" else course.student_ids
            if user.id in ids:
                return
            ids.append(user.id)
            self._changed()
        self.notify("classroom.roster", event="CREATED", course_id=course.id, user_id=user.id, role=role)

    def unenrol(self, course_id: str, user_key: str) -> None:
        with self.lock:
            course, user = self.find_course(course_id), self._require(user_key)
            if course is None:
                raise KeyError(course_id)
            removed = [role for role, ids in (("teacher", course.teacher_ids), ("student", course.student_ids))
                       if user.id in ids]
            for ids in (course.teacher_ids, course.student_ids):
                if user.id in ids:
                    ids.remove(user.id)
            self._changed()
        for role in removed:
            self.notify("classroom.roster", event="DELETED", course_id=course.id, user_id=user.id, role=role)

    def add_token(self, user_email: str, client_id: str, display_text: str, scopes: list[str], **kw: Any) -> OAuthToken:
        with self.lock:
            token = OAuthToken(user_email.lower(), client_id, display_text, list(scopes), **kw)
            self.tokens.append(token)
            self._changed()
            return token

    def revoke_scope(self, scope: str) -> None:
        """Remove a scope from domain-wide delegation (as an admin would in the Admin console)."""
        with self.lock:
            self.delegated_scopes.discard(scope if scope.startswith("https://") else SCOPE + scope)

    def grant_scope(self, scope: str) -> None:
        with self.lock:
            self.delegated_scopes.add(scope if scope.startswith("https://") else SCOPE + scope)

    def ensure_org_unit(self, path: str) -> OrgUnit | None:
        """Create `path` and any missing parents (root '/' is implicit and never listed)."""
        if path in ("", "/"):
            return None
        with self.lock:
            existing = self.org_unit(path)
            if existing:
                return existing
            parent_path = path.rsplit("/", 1)[0] or "/"
            parent = self.ensure_org_unit(parent_path)
            ou = OrgUnit(
                org_unit_id="id:03ph8a2z" + format(len(self.org_units) + 1, "06x"),
                path=path, name=path.rsplit("/", 1)[1], parent_path=parent_path,
                parent_id=parent.org_unit_id if parent else ROOT_OU_ID,
            )
            self.org_units.append(ou)
            self._changed()
            return ou

    def _require(self, key: str) -> User:
        user = self.find_user(key)
        if user is None:
            raise KeyError(key)
        return user


ROOT_OU_ID = "id:03ph8a2z000000"


def in_org_units(path: str, roots: list[str]) -> bool:
    """True if `path` is one of `roots` or below one of them (sub-OUs included)."""
    for root in roots:
        root = root.rstrip("/") or "/"
        if root == "/" or path == root or path.startswith(root + "/"):
            return True
    return False
