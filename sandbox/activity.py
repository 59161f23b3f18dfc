"""The school's activity (Drive files, mail, Chat, Meet), derived lazily and deterministically.

Nothing is stored per file or per message: a user's files and each (user, day) of mail,
chat and meet are re-derived from ``(size, seed, user, day)`` on demand, so ``school``
(≈200,000 files, ≈500,000 mail events) and ``trust`` (10×) need no such memory. The
handful of planted breaches and decoys (`sandbox.activity_plant`) are explicit lists
merged into the same views, and `audit_truth` says which findings the service must
report. Background activity is built never to breach a rule: staff–pupil mail only in
working hours, no direct file shares with pupils, no personal addresses, no public media.

Time: the activity spans ``days`` whole UTC days before today plus today up to the
*horizon* (generation time minus one hour, so a run's "now minus reporting delay" sees
it all). `advance` moves the horizon on, so later days' background appears as time passes.
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.activity_model import (
    DAY,
    DOC_TYPES,
    ORGS,
    SCALES,
    SUBJECTS,
    Chat,
    DriveEvent,
    File,
    Forwarding,
    Mail,
    MeetLeg,
    Perm,
    SharedDrive,
    _norm,
    file_id,
    h,
    meet_call,
    perm_id,
    rng_for,
    stamp,
    utc,
)
from sandbox.model import SCOPE, Domain
from sandbox.school import classify

CHAT_MEMBERS_SCOPE = SCOPE + "chat.admin.memberships.readonly"

__all__ = ["Activity", "Chat", "DriveEvent", "File", "Forwarding", "Mail", "MeetLeg", "Perm", "SharedDrive",
           "activity", "audit_decoys", "audit_truth", "call_now", "exception_rows", "h", "meet_call", "perm_id", "share_now",
           "set_reports_gmail", "stamp", "unregistered_addresses", "utc"]

class Activity:
    """Per-domain activity views. Built once per domain (`activity(domain)`); thread-safe caches."""

    def __init__(self, dom: Domain, now: datetime | None = None) -> None:
        self.dom = dom
        self.scale = SCALES.get(dom.size, SCALES["demo"])
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        self.today = now.replace(hour=0, minute=0, second=0)
        self.start = self.today - self.scale.days * DAY
        self.horizon = now - timedelta(hours=1)
        self.reports_gmail = True
        self.roles = classify(dom)
        users = {u.primary_email: u for u in dom.live_users()}
        self.users = users
        self.staff = sorted(e for e, r in self.roles.items() if r == "staff")
        self.pupils = sorted(e for e, r in self.roles.items() if r == "pupil")
        self.former = sorted(e for e, r in self.roles.items() if r == "former_pupil")
        by_id = dom.user_by_id()
        self.taught: dict[str, list[str]] = {}  # teacher -> pupils in their counted courses
        self.teachers_of: dict[str, list[str]] = {}
        self.classmates: dict[str, list[str]] = {}
        self.course_groups: dict[str, list[str]] = {}  # teacher -> course group emails
        for c in dom.courses:
            if c.course_state in ("DECLINED", "SUSPENDED"):
                continue
            kids = [by_id[s].primary_email for s in c.student_ids if s in by_id
                    and self.roles.get(by_id[s].primary_email) == "pupil"]
            for t in c.teacher_ids:
                if t in by_id:
                    temail = by_id[t].primary_email
                    self.taught.setdefault(temail, []).extend(kids)
                    self.course_groups.setdefault(temail, []).append(c.course_group_email)
                    for k in kids:
                        self.teachers_of.setdefault(k, []).append(temail)
            for k in kids:
                self.classmates.setdefault(k, []).extend(x for x in kids if x != k)
        # class mail groups (academy tutor groups): group -> (tutor, members); mailbox -> its groups
        self.mail_groups: dict[str, tuple[str, list[str]]] = {}
        self.groups_of: dict[str, list[str]] = {}
        for gemail, tutor in dom.form_groups.items():
            group = dom.find_group(gemail)
            members = [m.email for m in group.members if m.type == "USER"] if group else []
            self.mail_groups[gemail] = (tutor, members)
            for member in members:
                self.groups_of.setdefault(member, []).append(gemail)
            self.course_groups.setdefault(tutor, []).append(gemail)
        self.guardians_of: dict[str, list[tuple[str, str]]] = {}
        for g in dom.guardians:
            pupil = by_id.get(g.student_id)
            if pupil and not dom.is_internal(g.email):
                self.guardians_of.setdefault(pupil.primary_email, []).append((g.email, g.full_name))
        self.person_names = {_norm(u.full_name) for e, u in users.items()
                             if self.roles.get(e) in ("staff", "pupil", "former_pupil")}
        # planted state (filled by sandbox.activity_plant)
        self.plant_mail: dict[tuple[str, int], list[Mail]] = {}
        self._writers: dict[str, list[str]] | None = None  # mailbox -> school mailboxes that write to it
        self.plant_files: dict[str, list[File]] = {}
        self.plant_drive_events: list[DriveEvent] = []
        self.plant_chat: dict[int, list[Chat]] = {}
        self.rooms: dict[str, tuple[str, tuple[str, ...]]] = {}  # Chat space -> (spaceType, human members)
        self.plant_meet: dict[int, list[MeetLeg]] = {}
        self.shared_drives: list[SharedDrive] = []
        self.drive_files: dict[str, list[File]] = {}  # shared drive id -> its items (sandbox.shared_drives)
        self.forwarding: dict[str, Forwarding] = {}
        self.truth: list[dict] = []
        self.decoys: list[dict] = []
        self.exceptions: list[dict] = []
        self.unregistered: set[str] = set()  # personal addresses the register must not contain
        self._born = time.monotonic()
        self._origin, self._passed = self.horizon, timedelta(0)  # for the Reports lag (`logged`)
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple, Any] = OrderedDict()  # per-user views
        self._days: OrderedDict[tuple, Any] = OrderedDict()  # whole-domain day lists (large: keep few)

    # ------------------------------------------------------------------ time

    def day_of(self, when: datetime) -> int:
        return (when - self.start) // DAY

    def day_start(self, day: int) -> datetime:
        return self.start + day * DAY

    @property
    def last_day(self) -> int:
        return self.day_of(self.horizon)

    def visible(self, when: datetime) -> bool:
        return when < self.horizon

    def logged(self, m: Mail) -> bool:
        """Whether a sighting has reached the Reports gmail log. Its lag counts from the generated horizon
        as time passes: `advance` and real time (so a long-running sandbox logs it, as Google would);
        a horizon pushed on to show one new share or call (`share_now`) is not time passing."""
        waited = timedelta(seconds=time.monotonic() - self._born)
        return m.time + timedelta(seconds=m.lag_s) < self._origin + self._passed + waited

    def advance(self, hours: float) -> None:
        """Let time pass: later background (and anything planted then) becomes visible."""
        with self._lock:
            self.horizon += timedelta(hours=hours)
            self._passed += timedelta(hours=hours)
            self._cache.clear()
            self._days.clear()

    def _cached(self, key: tuple, build, *, day: bool = False) -> Any:
        cache, limit = (self._days, 3) if day else (self._cache, 4096)
        with self._lock:
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
        value = build()
        with self._lock:
            cache[key] = value
            while len(cache) > limit:
                cache.popitem(last=False)
        return value

    def display(self, address: str, name: str) -> str:
        """A display name for an outside address, dropped if it would read as a pupil's or staff name."""
        return "" if _norm(name) in self.person_names else name

    # ------------------------------------------------------------------ mail

    def mailbox_day(self, email: str, day: int) -> list[Mail]:
        """Every message `email`'s mailbox holds for one day (background + planted), newest first."""
        return self._cached(("mail", email, day), lambda: self._mailbox_day(email, day))


    def _mailbox_day(self, email: str, day: int, own: dict[str, list[Mail]] | None = None) -> list[Mail]:
        """`own`: every mailbox's own background of the day, when the caller has it (``mail_day``)."""
        out = list(own[email]) if own is not None else self._background_day(email, day)
        if self.roles.get(email) in ("staff", "pupil") and day >= 0:
            for writer in self._written_by(email):  # their half of internal mail, seen from this mailbox
                mine = own[writer] if own is not None else self._background_day(writer, day)
                out += [c for m in mine if (c := self._counterpart(m)) is not None and c.mailbox == email]
            out += [m for g in self.groups_of.get(email, []) if (m := self._group_mail(g, email, day))]
        out += self.plant_mail.get((email, day), [])
        out = [m for m in out if self.visible(m.time)]
        out.sort(key=lambda m: m.time, reverse=True)
        return out

    def _background_day(self, email: str, day: int) -> list[Mail]:
        """The background messages `email`'s own day draws (each also in the other mailbox, if a school one)."""
        role = self.roles.get(email)
        if role not in ("staff", "pupil") or day < 0:
            return []
        r = rng_for(self.dom.seed, "mail", email, day)
        base = self.day_start(day)
        out = []
        for i in range(r.randint(*self.scale.mail)):
            when = base + timedelta(seconds=r.randrange(8 * 3600, 17 * 3600), microseconds=r.randrange(10**6))
            out.append(self._background_mail(r, email, role, when, day, i))
        return out

    def _counterpart(self, m: Mail) -> Mail | None:
        """The same background message in the other school mailbox (internal mail sits in both, and
        Reports logs the sender's event and the recipient's delivery, docs/google-apis.md §2); None
        when the other side is outside the school."""
        other = m.to[0] if m.direction == "sent" else m.sender
        if self.roles.get(other) not in ("staff", "pupil") or other == m.mailbox:
            return None
        mid = m.id[:4] + "e" + h("counterpart", self.dom.seed, other, m.id)[:11]
        if m.direction == "sent":
            return Mail(mid, m.time, other, "received", m.sender, m.to, (), m.message_id, m.subject)
        return Mail(mid, m.time, other, "sent", m.sender, m.to, (), m.message_id, m.subject)

    def _written_by(self, email: str) -> list[str]:
        """The school mailboxes whose background draws `email` as a contact (contacts are one-way)."""
        if self._writers is None:  # built once: contacts do not change as time passes
            rev: dict[str, list[str]] = {}
            for p in self.staff + self.pupils:
                for c in self._contacts(p, self.roles[p])[0]:
                    rev.setdefault(c, []).append(p)
            self._writers = rev
        return self._writers.get(email, [])

    def _background_mail(self, r: random.Random, me: str, role: str, when: datetime, day: int, i: int) -> Mail:
        mid = f"{day:04x}{i:04x}" + h(self.dom.seed, me, day, i)[:8]
        contacts = self._contacts(me, role)
        roll = r.random()
        names: tuple[tuple[str, str], ...] = ()
        if roll < 0.8 or not contacts[1]:
            other = r.choice(contacts[0])
        else:
            other, name = r.choice(contacts[1])
            name = self.display(other, name)
            names = ((other, name),) if name else ()
        subject = f"{r.choice(SUBJECTS)} {day}-{i}"
        msg_id = f"<{h('msg', self.dom.seed, me, day, i)[:24]}@mail.gmail.com>"
        if r.random() < 0.4:
            return Mail(mid, when, me, "sent", me, (other,), (), msg_id, subject, names)
        return Mail(mid, when, me, "received", other, (me,), (), msg_id, subject, names)

    def _group_mail(self, group: str, box: str, day: int) -> Mail | None:
        """The tutor's notice to a whole class-mail group on about half the days, in working hours; the
        same message (one Message-ID) sits in the tutor's mailbox as sent and in every member's as received."""
        r = rng_for(self.dom.seed, "groupmail", group, day)
        if r.random() >= 0.5:
            return None
        tutor = self.mail_groups[group][0]
        when = self.day_start(day) + timedelta(seconds=r.randrange(8 * 3600, 16 * 3600))
        msg_id = f"<{h('groupmsg', self.dom.seed, group, day)[:24]}@mail.gmail.com>"
        return Mail(f"{day:04x}f000" + h(self.dom.seed, box, group, day)[:8], when, box,
                    "sent" if box == tutor else "received", tutor, (group,), (), msg_id, f"Tutor notice {day}", ())

    def _contacts(self, me: str, role: str) -> tuple[list[str], list[tuple[str, str]]]:
        """(school addresses, outside (address, name)) a mailbox writes to in the background."""
        key = ("contacts", me)

        def build() -> tuple[list[str], list[tuple[str, str]]]:
            r = rng_for(self.dom.seed, "contacts", me)
            if role == "staff":
                school = r.sample(self.staff, min(8, len(self.staff)))
                school += r.sample(self.taught.get(me, []) or [me], min(4, len(self.taught.get(me, [])) or 1))
                outside = list(ORGS[:2])
                for pupil in r.sample(self.taught.get(me, []), min(3, len(self.taught.get(me, [])))):
                    outside += self.guardians_of.get(pupil, [])
            else:
                school = (self.teachers_of.get(me, []) or self.staff[:1])[:4] + self.classmates.get(me, [])[:6]
                outside = list(self.guardians_of.get(me, []))
            school = [s for s in dict.fromkeys(school) if s != me] or [self.staff[0]]
            return school, outside

        return self._cached(key, build)

    def mailbox(self, email: str) -> list[Mail]:
        """The whole visible mailbox, newest first."""
        return [m for day in range(self.last_day, -1, -1) for m in self.mailbox_day(email, day)]

    def find_mail(self, email: str, msg_id: str) -> Mail | None:
        try:
            day = int(msg_id[:4], 16)
        except ValueError:
            return None
        return next((m for m in self.mailbox_day(email, day) if m.id == msg_id), None)

    def mail_day(self, day: int) -> list[Mail]:
        """Every mailbox's messages of one day, newest first (what Reports gmail logs): each sighting, and
        for about a third of the receipts the recipient's first open later that day (mail_event_type 7 in
        the gmail appendix; the rules read only types 1 and 2, and the audit asks the server for those)."""
        people = self.staff + self.pupils

        def build() -> list[Mail]:
            own = {p: self._background_day(p, day) for p in people}  # each drawn once, not per counterpart
            rows = [m for p in people for m in self._mailbox_day(p, day, own) if m.direction != "draft"]
            end = min(self.day_start(day + 1) - timedelta(seconds=1), self.horizon - timedelta(seconds=1))
            for m in [m for m in rows if m.direction == "received"]:
                roll = int(h("opened", m.mailbox, m.id)[:4], 16)
                when = m.time + timedelta(seconds=60 + roll % 14400)
                if roll % 3 == 0 and when < end:
                    rows.append(replace(m, time=when, direction="opened"))
            return sorted(rows, key=lambda m: m.time, reverse=True)

        return self._cached(("mailday", day), build, day=True)

    # ------------------------------------------------------------------ drive

    def files(self, owner: str) -> list[File]:
        """Every file `owner` owns (base + daily shares + planted), trashed ones included."""
        return self._cached(("files", owner), lambda: self._files(owner)) if self.roles.get(owner) in (
            "staff", "pupil") else list(self.plant_files.get(owner, []))

    def _files(self, owner: str) -> list[File]:
        r = rng_for(self.dom.seed, "files", owner)
        out = [self._base_file(r, owner, i) for i in range(r.randint(*self.scale.files))]
        out += [e.file for day in range(self.last_day + 1) for e in self.daily_drive(owner, day)]
        out += [f for f in self.plant_files.get(owner, []) if self.visible(f.modified)]
        return out

    def _owner_perm(self, owner: str) -> Perm:
        u = self.users.get(owner)
        return Perm(perm_id(owner), "user", "owner", owner, "", u.full_name if u else owner)

    def _base_file(self, r: random.Random, owner: str, i: int) -> File:
        mime = r.choices([m for m, _ in DOC_TYPES], [w for _, w in DOC_TYPES])[0]
        modified = self.start - timedelta(days=r.randrange(1, 700), seconds=r.randrange(86400))
        perms = [self._owner_perm(owner)]
        roll, media = r.random(), mime.startswith(("image/", "video/"))
        if roll < 0.55:
            pass
        elif roll < 0.8:
            perms.append(self._school_share(r, owner))
        elif roll < 0.9 and self.course_groups.get(owner):
            g = r.choice(self.course_groups[owner])
            perms.append(Perm(perm_id(g), "group", "reader", g, "", "Class group"))
        elif roll < 0.95:
            perms.append(Perm("domain-" + h(owner)[:8], "domain", "reader", "", owner.rpartition("@")[2]))
        elif not media:
            if roll < 0.975:
                perms.append(Perm("anyoneWithLink", "anyone", "reader"))
            else:
                addr, name = r.choice(ORGS)
                perms.append(Perm(perm_id(addr), "user", "reader", addr, "", name))
        return File(file_id(self.dom.seed, owner, i), f"{r.choice(SUBJECTS)} {i}", mime, owner, modified,
                    tuple(perms), trashed=r.random() < 0.03)

    def _school_share(self, r: random.Random, owner: str) -> Perm:
        pool = self.staff if self.roles.get(owner) == "staff" else (
            self.classmates.get(owner) or self.teachers_of.get(owner) or self.staff)
        other = r.choice([p for p in pool if p != owner] or self.staff)
        u = self.users.get(other)
        return Perm(perm_id(other), "user", r.choice(["reader", "writer", "commenter"]), other, "",
                    u.full_name if u else other)

    def daily_drive(self, owner: str, day: int) -> list[DriveEvent]:
        """Background shares made on `day` by `owner`: a new file and its acl_change event."""
        r = rng_for(self.dom.seed, "dshare", owner, day)
        if day < 0 or r.random() >= self.scale.daily_share:
            return []
        when = self.day_start(day) + timedelta(seconds=r.randrange(8 * 3600, 17 * 3600))
        if not self.visible(when):
            return []
        perm = self._school_share(r, owner)
        f = File(file_id(self.dom.seed, owner, "d", day), f"{r.choice(SUBJECTS)} (shared {day})",
                 "application/vnd.google-apps.document", owner, when, (self._owner_perm(owner), perm))
        return [DriveEvent(when, owner, f, perm)]

    def drive_day(self, day: int) -> list[DriveEvent]:
        def build() -> list[DriveEvent]:
            found = [e for p in self.staff + self.pupils for e in self.daily_drive(p, day)]
            found += [e for e in self.plant_drive_events if self.day_of(e.time) == day and self.visible(e.time)]
            return sorted(found, key=lambda e: e.time, reverse=True)
        return self._cached(("driveday", day), build, day=True)

    def find_file(self, fid: str) -> File | None:
        """A planted My Drive file or any shared-drive item (visible now) by id."""
        for files in self.plant_files.values():
            for f in files:
                if f.id == fid:
                    return f
        for files in self.drive_files.values():
            for f in files:
                if f.id == fid and self.visible(f.modified):
                    return f
        return None

    # ------------------------------------------------------------------ chat / meet

    def chat_day(self, day: int) -> list[Chat]:
        def build() -> list[Chat]:
            out: list[Chat] = []
            for me in self.staff + self.pupils:
                r = rng_for(self.dom.seed, "chat", me, day)
                n = int(self.scale.chat * 2 * r.random() + 0.5)
                for i in range(n):
                    when = self.day_start(day) + timedelta(seconds=r.randrange(8 * 3600, 17 * 3600))
                    pool = self.staff if self.roles[me] == "staff" else (self.classmates.get(me) or [])
                    peers = [p for p in pool if p != me]
                    if not peers:
                        continue
                    room = "spaces/" + h("room", me, day, i)[:11]
                    if r.random() < 0.5:
                        self.add_room(room, "SPACE", (me, *peers[:4]))
                        out.append(Chat(when, me, "SPACE", room, f"{room}/messages/{h(me, day, i)[:10]}"))
                    else:  # a DM room is stable per pair: replies on later days land in it
                        other = r.choice(peers)
                        room = "spaces/" + h("dm", *sorted((me, other)))[:11]
                        self.add_room(room, "DIRECT_MESSAGE", (me, other))
                        out.append(Chat(when, me, "USER_TO_USER_DIRECT_MESSAGE", room,
                                        f"{room}/messages/{h(me, day, i)[:10]}"))
            out += self.plant_chat.get(day, [])
            return sorted((c for c in out if self.visible(c.time)), key=lambda c: c.time, reverse=True)
        return self._cached(("chatday", day), build, day=True)

    def add_room(self, room: str, space_type: str, members: tuple[str, ...]) -> None:
        """Remember a Chat space's type and members (the Chat API's view; Reports events never list them)."""
        self.rooms.setdefault(room, (space_type, tuple(dict.fromkeys(members))))

    def meet_day(self, day: int) -> list[MeetLeg]:
        def build() -> list[MeetLeg]:
            out: list[MeetLeg] = []
            for me in self.staff:
                r = rng_for(self.dom.seed, "meet", me, day)
                if r.random() >= self.scale.meet or not self.taught.get(me):
                    continue
                start = self.day_start(day) + timedelta(seconds=r.randrange(8 * 3600, 16 * 3600))
                kids = r.sample(self.taught[me], min(len(set(self.taught[me])), r.randint(3, 6)))
                out += meet_call(h("conf", me, day), [me, *dict.fromkeys(kids)], me, start, r.randint(600, 3600),
                                 self.users)
            out += self.plant_meet.get(day, [])
            return sorted((m for m in out if self.visible(m.time)), key=lambda m: m.time, reverse=True)
        return self._cached(("meetday", day), build, day=True)


_BUILD_LOCK = threading.Lock()


def activity(dom: Domain, now: datetime | None = None) -> Activity:
    """The domain's activity, built (and its breaches planted) on first use; `now` pins the clock it is
    generated at (tests that need a time of day; only before anything else has built it)."""
    with _BUILD_LOCK:
        act = dom.extra.get("activity")
        if act is None:
            from sandbox.activity_plant import plant
            from sandbox.shared_drives import populate

            act = Activity(dom, now)
            populate(act)
            plant(act)
            dom.extra["activity"] = act
        elif now is not None and act.horizon != now.replace(microsecond=0) - timedelta(hours=1):
            raise ValueError("the domain's activity was already built at another time")
        return act


def share_now(dom: Domain, owner: str, address: str, *, role: str = "writer", display: str = "",
              when: datetime | None = None, mime: str = "application/vnd.google-apps.document") -> str:
    """A user shares a new file with `address` now (``"anyone"``: anyone with the link) for incremental
    tests: the file appears in the owner's crawl and as a Reports drive event. Returns the file id."""
    act = activity(dom)
    when = when or datetime.now(UTC) - timedelta(minutes=30)
    with act._lock:
        n = sum(len(v) for v in act.plant_files.values())
        owner_perm = act._owner_perm(owner)
        perm = (Perm("anyoneWithLink", "anyone", "reader") if address == "anyone"
                else Perm(perm_id(address), "user", role, address.lower(), "", display))
        f = File(file_id("live", dom.seed, owner, n), f"Shared now {n}", mime, owner, when, (owner_perm, perm))
        act.plant_files.setdefault(owner, []).append(f)
        act.plant_drive_events.append(DriveEvent(when, owner, f, perm))
        act.horizon = max(act.horizon, when + timedelta(minutes=1))
        act._cache.clear()
        act._days.clear()
    return f.id


def call_now(dom: Domain, seed: str, people: list[str], *, ended: datetime | None = None,
             duration: int = 1200) -> str:
    """`people` leave Meet conference `seed` at `ended` (default 40 minutes ago), so their call_ended
    events appear in Reports (for incremental tests: calling again with the same seed adds a late leg
    to the same conference). Returns the conference id."""
    act = activity(dom)
    ended = ended or datetime.now(UTC) - timedelta(minutes=40)
    legs = meet_call(seed, people, people[0], ended - timedelta(seconds=duration), duration, act.users)
    with act._lock:
        act.plant_meet.setdefault(act.day_of(ended), []).extend(legs)
        act.horizon = max(act.horizon, max(leg.time for leg in legs) + timedelta(minutes=1))
        act._cache.clear()
        act._days.clear()
    return legs[0].conference_id


def set_reports_gmail(dom: Domain, available: bool) -> None:
    """Whether the edition provides Reports gmail events (without: an empty answer, as Google gives)."""
    activity(dom).reports_gmail = available


def audit_truth(dom: Domain) -> list[dict]:
    """The findings the service must report: dicts of rule, staff, pupil, guardian, counterpart, object,
    status (new | suppressed) and confidence (known | suspected). A breach only the Chat API's member
    list can show (a DM where only the staff member wrote) is expected only while its scope is delegated;
    one only a mailbox's own headers show (co-recipients outside the school of a message received from
    outside: Reports logs each receipt with that mailbox alone) only when the audit reads mailboxes. One whose
    telling sighting reaches Reports late (``lags``: a reply whose receipt is logged before the sender's event)
    is expected from Reports once that sighting is logged; until then its receipt is held, not judged."""
    act = activity(dom)
    hidden = set() if CHAT_MEMBERS_SCOPE in dom.delegated_scopes else {"chat_api"}
    reports = getattr(dom, "reports_gmail", act.reports_gmail)
    if reports:
        hidden.add("mail_headers")
    lagging = {m.message_id for ms in act.plant_mail.values() for m in ms if m.lag_s and not act.logged(m)}
    return [{k: v for k, v in t.items() if k != "lags"} for t in act.truth if t.get("needs", "") not in hidden
            and not (reports and t.get("lags") and t["object"] in lagging)]


def audit_decoys(dom: Domain) -> list[dict]:
    """Planted look-alikes that must not be flagged: dicts of rule (the rule they resemble), people, why."""
    return [dict(d) for d in activity(dom).decoys]


def exception_rows(dom: Domain) -> list[dict]:
    """Rows for the exceptions register (staff, counterpart, reason, approved_by, expires)."""
    return [dict(e) for e in activity(dom).exceptions]


def unregistered_addresses(dom: Domain) -> set[str]:
    """Personal addresses planted for display-name attribution: the register must not list them."""
    return set(activity(dom).unregistered)
