"""Planted breaches and decoys for every rule in rules.md, and the truth the audit must report.

People are drawn from the generated school by ``random.Random(size:seed)``, so another
seed plants other people and other objects. Each breach is built to trip exactly one
rule; each decoy looks like a breach but is the approved channel, an excluded case
(trashed file, pending forwarding address, a third participant ...) or is suppressed by
the exceptions register that `sandbox.config_writer` writes. Attribution follows that
register: an address it lists is ``known``; one it leaves out is found only through the
display name (``suspected``).

In a trust, each plant draws its people from one school, the schools taking turns plant by plant, so
every school has breaches and decoys of its own; `_cross_school` then plants a few that relate people
of two schools (a teacher at one academy sharing with a pupil at another, a guardian with children
at two schools), which the trust-wide roster must catch.
"""

from __future__ import annotations

import csv
import random
import tempfile
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sandbox.activity import Activity
from sandbox.activity_model import (
    ORGS,
    Chat,
    DriveEvent,
    File,
    Forwarding,
    Mail,
    Perm,
    SharedDrive,
    _norm,
    file_id,
    h,
    meet_call,
    perm_id,
)
from sandbox.config_writer import exception_rows, write_personal_register
from sandbox.mail_settings import add_filter, label_id
from sandbox.reports_accounts import grant_token

LONDON = ZoneInfo("Europe/London")
SOCIAL = [("Facebook", "1234567890"), ("TikTok", "2345678901"), ("Snapchat", "3456789012"),
          ("Instagram", "4567890123"), ("Discord", "5678901234")]
NOT_SOCIAL = [("Snap Maths Tutor", "6789012345"), ("Xerte Online Toolkits", "7890123456")]
COUNT = {"tiny": 1, "demo": 2, "school": 3, "trust": 4}
DOC = "application/vnd.google-apps.document"


class NoOne(Exception):
    """The school has nobody fitting a plant (tiny schools): that plant is left out of activity and truth."""


class Planter:
    def __init__(self, act: Activity) -> None:
        self.a, dom = act, act.dom
        self.rng = random.Random(f"plant:{dom.size}:{dom.seed}")
        self.n = COUNT.get(dom.size, 2)
        self.used: set[str] = set()
        self.k = 0
        self.gids: dict[str, dict[str, str]] = {}  # Message-ID -> {mailbox: its Gmail threadId}
        with tempfile.TemporaryDirectory() as tmp:
            path = write_personal_register(dom, Path(tmp) / "r.csv")
            with path.open(encoding="utf-8") as fh:
                self.registered = {row["address"].lower(): row["owner"].lower() for row in csv.DictReader(fh)}
        names: dict[str, list[str]] = {}
        for e in act.staff + act.pupils + act.former:
            names.setdefault(_norm(act.users[e].full_name), []).append(e)
        self.unique_name = {es[0] for n, es in names.items() if len(es) == 1 and " " in n}
        self.exc = exception_rows(dom)
        for row in self.exc:
            self.used.update(x.lower() for x in row[:2])
        self.school_of = {e: u.school for e, u in act.users.items()}  # trust: each person's school (by name)
        self.schools = list(dom.schools) if len(dom.schools) > 1 else []
        self.turn = 0  # whose turn it is: the school the next plant draws from
        self.by_school: dict[int, dict[str, list[str]]] = {}  # see `of_school`

    @property
    def here(self) -> str:
        """The school the current plant's people come from ("" outside a trust)."""
        return self.schools[self.turn % len(self.schools)] if self.schools else ""

    # ------------------------------------------------------------------ people

    def pick(self, pool: list[str], *, registered: bool | None = None, named: bool = False, school: str = "") -> str:
        """A person not used by another plant (reused only in small schools), with a registered personal
        address when asked, or a unique full name; `NoOne` when nobody in the pool qualifies. In a trust,
        from `school` (default: the current plant's, `here`) while anyone there qualifies."""
        def qualify(people: list[str]) -> list[str]:
            return [p for p in people if (not named or p in self.unique_name)
                    and (registered is None or self.personal(p, registered))]

        school = school or self.here
        fits = qualify(self.of_school(pool, school)) if school else []
        fits = fits or qualify(pool)
        cands = [p for p in fits if p not in self.used] or fits
        if not cands:
            raise NoOne
        who = self.rng.choice(cands)
        self.used.add(who)
        return who

    def of_school(self, pool: list[str], school: str) -> list[str]:
        """The people of `pool` at `school`, in pool order (the whole staff and pupil lists indexed once:
        a trust's 27,000 pupils are filtered for every plant otherwise)."""
        if not any(pool is whole for whole in (self.a.staff, self.a.pupils, self.a.former)):
            return [p for p in pool if self.school_of.get(p) == school]
        index = self.by_school.get(id(pool))
        if index is None:
            index = self.by_school[id(pool)] = {}
            for person in pool:
                index.setdefault(self.school_of.get(person, ""), []).append(person)
        return index.get(school, [])

    def personal(self, person: str, registered: bool) -> str:
        for addr in self.a.dom.personal_addresses.get(person, []):
            if (addr.lower() in self.registered) == registered:
                return addr.lower()
        return ""

    def invented(self, person: str) -> str:
        """An address nobody registered, attributable only by its display name."""
        u = self.a.users[person]
        addr = f"{h('inv', person)[:6]}.{u.given_name[:1].lower() or 'x'}@gmail.com"
        self.a.unregistered.add(addr)
        return addr

    def suspected(self, person: str) -> str:
        return self.personal(person, False) or self.invented(person)

    def name(self, person: str) -> str:
        return self.a.users[person].full_name

    def untaught(self, staff: str) -> str:
        taught = set(self.a.taught.get(staff, []))
        return self.pick([p for p in self.a.pupils if p not in taught])

    # ------------------------------------------------------------------ times

    def chat_day_when(self, days_left: int) -> datetime:
        """A working-hours time at least `days_left` days before the end of the generated window."""
        day = self.rng.randrange(1, max(2, self.a.scale.days - days_left))
        return self.a.day_start(day) + timedelta(hours=10, seconds=self.rng.randrange(0, 3600))

    def local(self, day, hour: int, minute: int = 0) -> datetime:
        """`hour:minute` school time (Europe/London) on a date, in UTC."""
        return datetime.combine(day, time(hour, minute), LONDON).astimezone(UTC)

    def status(self, staff: str, pupil: str) -> str:
        """A staff–pupil breach's status under the register's current exception (its first row)."""
        current = bool(self.exc) and (self.exc[0][0].lower(), self.exc[0][1].lower()) == (staff, pupil)
        return "suppressed" if current else "new"

    def when(self, hour: int = 11, minute: int = 0) -> datetime:
        day = self.rng.randrange(1, self.a.scale.days - 1)
        local = (self.a.day_start(day).astimezone(LONDON)).date()
        t = datetime.combine(local, time(hour, minute), LONDON).astimezone(UTC)
        return t + timedelta(seconds=self.rng.randrange(0, 50 * 60) if minute == 0 else 0)

    # ------------------------------------------------------------------ builders

    def truth(self, rule: str, *, staff=None, pupil=None, guardian=None, counterpart=None, obj="",
              status="new", confidence="known", needs: str = "", lags: bool = False) -> None:
        """`needs`: an optional grant without which the breach cannot be seen; `lags`: seen in Reports only
        once its message's late sighting is logged (see `audit_truth`)."""
        self.a.truth.append({"rule": rule, "staff": staff, "pupil": pupil, "guardian": guardian,
                             "counterpart": counterpart, "object": obj, "status": status, "confidence": confidence,
                             **({"needs": needs} if needs else {}), **({"lags": True} if lags else {})})
        self.turn += 1

    def decoy(self, rule: str, why: str, **people) -> None:
        self.a.decoys.append({"rule": rule, "why": why, **people})
        self.turn += 1

    def mail(self, when: datetime, sender: str, to: list[str], cc: list[str] = (), names=(), *,
             reply_to: str = "", references: tuple[str, ...] = (), sent_lag_s: int = 0) -> str:
        """One message, logged in every school mailbox it touches (sent and received). `reply_to`: the
        Message-ID it answers (a reply has its own Message-ID and the parent's in In-Reply-To/References,
        in the parent's Gmail thread); `sent_lag_s`: the sender's Reports event is logged that late."""
        self.k += 1
        msg_id = f"<plant-{h(self.a.dom.seed, self.k)[:16]}@mail.gmail.com>"
        refs = (*references, reply_to) if reply_to else ()
        day = self.a.day_of(when)
        mailboxes = [(sender, "sent")] + [(r, "received") for r in [*to, *cc] if r != sender]
        for group in [*to, *cc]:  # a Google Group delivers to each member's mailbox
            mailboxes += [(m, "received") for m in self.a.mail_groups.get(group, ("", []))[1] if m != sender]
        for box, direction in mailboxes:
            if self.a.roles.get(box) in ("staff", "pupil"):
                gid = f"{day:04x}{0x8000 + self.k:04x}" + h(box, self.k)[:8]
                thread = self.gids.get(refs[0], {}).get(box, "") if refs else ""  # the thread's first message
                self.gids.setdefault(msg_id, {})[box] = thread or gid
                m = Mail(gid, when, box, direction, sender, tuple(to), tuple(cc), msg_id, f"Planted {self.k}",
                         tuple(names), reply_to, refs, thread, sent_lag_s if direction == "sent" else 0)
                self.a.plant_mail.setdefault((box, day), []).append(m)
        return msg_id

    def draft(self, when: datetime, author: str, to: list[str]) -> str:
        """An unsent draft: in its author's mailbox (label DRAFT) and nowhere else."""
        self.k += 1
        msg_id = f"<draft-{h(self.a.dom.seed, self.k)[:16]}@mail.gmail.com>"
        day = self.a.day_of(when)
        gid = f"{day:04x}{0x8000 + self.k:04x}" + h(author, self.k)[:8]
        self.a.plant_mail.setdefault((author, day), []).append(
            Mail(gid, when, author, "draft", author, tuple(to), (), msg_id, f"Draft {self.k}"))
        return msg_id

    def file(self, owner: str, perms: list[Perm], *, mime: str = DOC, when: datetime | None = None,
             trashed: bool = False, events: bool = True) -> str:
        self.k += 1
        when = when or self.when()
        owner_perm = Perm(perm_id(owner), "user", "owner", owner, "", self.name(owner))
        f = File(file_id("plant", self.a.dom.seed, self.k), f"Shared item {self.k}", mime, owner, when,
                 (owner_perm, *perms), trashed)
        self.a.plant_files.setdefault(owner, []).append(f)
        if events and not trashed:
            self.a.plant_drive_events += [DriveEvent(when, owner, f, p) for p in perms]
        return f.id

    def user_perm(self, email: str, display: str = "", role: str = "writer") -> Perm:
        u = self.a.users.get(email)
        return Perm(perm_id(email), "user", role, email, "", display or (u.full_name if u else ""))

    def shared_drive(self, members: list[Perm]) -> str:
        self.k += 1
        sid = "0A" + h("drive", self.a.dom.seed, self.k)[:17].upper()
        self.a.shared_drives.append(SharedDrive(sid, f"Project drive {self.k}", members, self.when()))
        return sid

    def chat(self, when: datetime, actor: str, members: list[str], kind: str = "USER_TO_USER_DIRECT_MESSAGE") -> str:
        """One message by `actor` in the room of `members` (the same room for the same people and kind,
        so a reply days later lands in it); the event, as in Reports, names only the poster."""
        self.k += 1
        people = tuple(sorted({actor, *members}))
        room = "spaces/" + h("plantroom", self.a.dom.seed, kind, *people)[:11]
        self.a.add_room(room, {"USER_TO_USER_DIRECT_MESSAGE": "DIRECT_MESSAGE", "SPACE": "SPACE"}.get(kind, "GROUP_CHAT"),
                        people)
        msg = f"{room}/messages/{h('m', self.a.dom.seed, self.k)[:10]}"
        self.a.plant_chat.setdefault(self.a.day_of(when), []).append(Chat(when, actor, kind, room, msg))
        return room

    def meet(self, people: list[str], external: int = 0, rejoin: tuple[str, ...] = ()) -> str:
        self.k += 1
        legs = meet_call(f"plant{self.a.dom.seed}:{self.k}", people, people[0], self.when(), 1500, self.a.users,
                         external, rejoin)
        self.a.plant_meet.setdefault(self.a.day_of(legs[0].time), []).extend(legs)
        return legs[0].conference_id


def plant(act: Activity) -> None:
    """Plant every rule's breaches and decoys into `act` and record the truth."""
    p = Planter(act)
    if not act.staff or not act.pupils:
        return
    for fn in (_mail_personal, _mail_guardian, _forwarding, _out_of_hours, _drive_personal, _drive_shared,
               _drive_media, _drive_direct, _chat_meet, _oauth, _after_the_schools_day, _whole_messages,
               _group_mail, _shared_drive_files, _replies_days_later, _cross_school):
        try:
            fn(p)
        except NoOne:
            continue


def _shared_drive_files(p: Planter) -> None:
    from sandbox.shared_drives import plant as plant_shared_drive_files

    plant_shared_drive_files(p)


def _mail_personal(p: Planter) -> None:
    a, rule, rule2 = p.a, "mail.staff_to_pupil_personal", "mail.staff_personal_to_pupil"
    for _ in range(p.n):
        s, pu = p.pick(a.staff), p.pick(a.pupils, registered=True)
        addr = p.personal(pu, True)
        p.truth(rule, staff=s, pupil=pu, counterpart=addr, obj=p.mail(p.when(), s, [addr]))
        s, pu = p.pick(a.staff), p.pick(a.pupils, named=True)
        addr = p.suspected(pu)
        p.truth(rule, staff=s, pupil=pu, counterpart=addr, confidence="suspected",
                obj=p.mail(p.when(), addr, [s], names=[(addr, p.name(pu))]))
        s, pu = p.pick(a.staff, registered=True), p.pick(a.pupils)
        addr = p.personal(s, True)
        p.truth(rule2, staff=s, pupil=pu, counterpart=addr, obj=p.mail(p.when(), addr, [pu]))
        s, pu = p.pick(a.staff, registered=True), p.pick(a.pupils)
        addr = p.personal(s, True)
        p.truth(rule2, staff=s, pupil=pu, counterpart=addr, obj=p.mail(p.when(), pu, [addr]))
    if a.former:
        s, fp = p.pick(a.staff), p.pick(a.former, named=True)
        addr = p.invented(fp)
        p.truth(rule, staff=s, pupil=fp, counterpart=addr, confidence="suspected",
                obj=p.mail(p.when(), addr, [s], names=[(addr, p.name(fp))]))
    s, pu = p.pick(a.staff, named=True), p.pick(a.pupils)
    addr = p.suspected(s)
    p.truth(rule2, staff=s, pupil=pu, counterpart=addr, confidence="suspected",
            obj=p.mail(p.when(), addr, [pu], names=[(addr, p.name(s))]))
    # decoys: a member of staff mailing themselves from home; a pupil writing to their own school address
    s = p.pick(a.staff, registered=True)
    p.mail(p.when(), p.personal(s, True), [s])
    p.decoy(rule2, "staff personal address to the same person's school mailbox", staff=s)
    pu = p.pick(a.pupils, registered=True)
    p.mail(p.when(), p.personal(pu, True), [pu])
    p.decoy(rule, "pupil personal address to their own school mailbox", pupil=pu)
    s = p.pick(a.staff)
    p.mail(p.when(), s, ["sam@gmail.com"], names=[("sam@gmail.com", "Sam")])
    p.decoy(rule, "a one-word display name attributes nobody", staff=s)
    # the current exception covers the pupil's attributed personal addresses too
    if p.exc:
        staff, pupil = p.exc[0][0].lower(), p.exc[0][1].lower()
        addr = p.personal(pupil, True)
        if addr and a.roles.get(staff) == "staff" and a.roles.get(pupil) == "pupil":
            p.truth(rule, staff=staff, pupil=pupil, counterpart=addr, status="suppressed",
                    obj=p.mail(p.when(), staff, [addr]))
    s, pu = p.pick(a.staff), p.pick(a.pupils, registered=True)
    p.draft(p.when(), s, [p.personal(pu, True)])
    p.decoy(rule, "a draft to a pupil's personal address was never sent", staff=s, pupil=pu)


def _mail_guardian(p: Planter) -> None:
    a, rule = p.a, "mail.staff_personal_to_guardian"
    kids = [k for k in a.pupils if a.guardians_of.get(k)]
    for i in range(p.n):
        s, kid = p.pick(a.staff, registered=True), p.pick(kids or a.pupils)
        if not a.guardians_of.get(kid):
            return
        g = a.guardians_of[kid][0][0]
        addr = p.personal(s, True)
        # from home copying the school mailbox, or the guardian writing to it copying the pupil
        obj = p.mail(p.when(), addr, [g], [s]) if i % 2 == 0 else p.mail(p.when(), g, [addr], [kid])
        # Reports logs only the school mailbox's receipt (naming that mailbox alone): the outside
        # co-recipient shows in the mailbox's headers only
        p.truth(rule, staff=s, guardian=g, counterpart=addr, obj=obj, needs="mail_headers")
        if i % 2:  # the staff personal address and the pupil are co-recipients: that pair is a breach too
            p.truth("mail.staff_personal_to_pupil", staff=s, pupil=kid, counterpart=addr, obj=obj,
                    needs="mail_headers")
    s, kid = p.pick(a.staff), p.pick(kids or a.pupils)
    if a.guardians_of.get(kid):
        p.mail(p.when(), s, [a.guardians_of[kid][0][0]])
        p.decoy(rule, "school mailbox to a guardian is the approved channel", staff=s)


def _forwarding(p: Planter) -> None:
    a, rule = p.a, "mail.auto_forward_external"
    for _ in range(p.n):
        s = p.pick([x for x in a.staff if x not in a.forwarding] or a.staff, registered=True)
        addr = p.personal(s, True)
        a.forwarding[s] = Forwarding(True, addr, [(addr, "accepted")])
        p.truth(rule, staff=s, counterpart=addr, obj=s)
    s = p.pick([x for x in a.staff if x not in a.forwarding] or a.staff)
    a.forwarding.setdefault(s, Forwarding()).addresses.append((ORGS[0][0], "accepted"))
    p.truth(rule, staff=s, counterpart=ORGS[0][0], obj=s, confidence="suspected")
    free = [x for x in a.staff if x not in a.forwarding]  # decoys never overwrite a planted breach
    if len(free) >= 2:
        s, colleague = p.pick(free), p.pick(free)
        a.forwarding[s] = Forwarding(True, colleague, [(colleague, "accepted")])
        p.decoy(rule, "forwarding to a colleague's school address", staff=s)
    free = [x for x in a.staff if x not in a.forwarding]
    if free:
        s = p.pick(free)
        a.forwarding[s] = Forwarding(False, "", [("pending.forward@outlook.com", "pending")])
        p.decoy(rule, "an unverified (pending) forwarding address cannot be used", staff=s)
    pu = p.pick(a.pupils, registered=True)
    a.forwarding[pu] = Forwarding(True, p.personal(pu, True), [(p.personal(pu, True), "accepted")])
    p.decoy(rule, "a pupil mailbox is not a staff mailbox", pupil=pu)
    _forwarding_filters(p)


def _forwarding_filters(p: Planter) -> None:
    """Gmail filters: one forwarding a pupil's mail to the teacher's personal address (known, not
    suspected: the filter is read), and decoys that forward inside the school or only label."""
    a, rule, dom = p.a, "mail.auto_forward_external", p.a.dom
    s = p.pick([x for x in a.staff if x not in a.forwarding], registered=True)
    addr, pu = p.personal(s, True), p.pick(a.pupils)
    a.forwarding[s] = Forwarding(False, "", [(addr, "accepted")])  # Gmail forwards only to verified addresses
    add_filter(dom, s, {"from": pu, "hasAttachment": True}, forward=addr, remove=("INBOX",))
    p.truth(rule, staff=s, counterpart=addr, obj=s)
    free = [x for x in a.staff if x not in a.forwarding]
    if len(free) >= 2:
        s, colleague = p.pick(free), p.pick(free)
        a.forwarding[s] = Forwarding(False, "", [(colleague, "accepted")])
        add_filter(dom, s, {"query": "subject:(cover)"}, forward=colleague)
        p.decoy(rule, "a filter forwarding cover requests to a colleague's school address", staff=s)
    free = [x for x in a.staff if x not in a.forwarding]
    if free:
        s = p.pick(free)
        add_filter(dom, s, {"from": ORGS[0][0]}, add=(label_id("Exams"),), remove=("INBOX",))
        p.decoy(rule, "a filter that labels and archives outside mail forwards nothing", staff=s)


def _out_of_hours(p: Planter) -> None:
    a, rule = p.a, "mail.out_of_hours"
    for i in range(p.n):
        s, pu = p.pick(a.staff), p.pick(a.pupils)
        obj = p.mail(p.when(22, 30), s, [pu]) if i % 2 == 0 else p.mail(p.when(6, 15), pu, [s])
        p.truth(rule, staff=s, pupil=pu, obj=obj)
    s, pu, pu2 = p.pick(a.staff), p.pick(a.pupils), p.pick(a.pupils)
    p.mail(p.when(22, 40), s, [pu, pu2])
    p.decoy(rule, "late mail to two pupils is not one-to-one", staff=s, pupil=pu)
    p.mail(p.when(10), s, [pu])
    p.decoy(rule, "one-to-one mail in working hours", staff=s, pupil=pu)
    s2 = p.pick(a.staff)
    p.mail(p.when(23, 5), s, [s2])
    p.decoy(rule, "late mail between colleagues", staff=s)
    for row, status in zip(p.exc, ("suppressed", "new"), strict=False):
        staff, pupil = row[0].lower(), row[1].lower()
        if a.roles.get(staff) == "staff" and a.roles.get(pupil) == "pupil":
            p.truth(rule, staff=staff, pupil=pupil, status=status, obj=p.mail(p.when(21, 45), staff, [pupil]))


def _after_the_schools_day(p: Planter) -> None:
    """20 minutes after this school's own working day ends (academy 18:30, classic 21:00): out of hours
    only if the configured working hours are used. Planted last, so earlier plants keep their people."""
    a, end = p.a, p.a.dom.working_hours.split("-")[1]
    s, pu = p.pick(a.staff), p.pick(a.pupils)
    p.truth("mail.out_of_hours", staff=s, pupil=pu, obj=p.mail(p.when(int(end[:2]), int(end[3:])) + timedelta(minutes=20), s, [pu]))


def _drive_personal(p: Planter) -> None:
    a, rule, rule2 = p.a, "drive.shared_with_pupil_personal", "drive.pupil_shared_with_staff_personal"
    for i in range(p.n):
        s, pu = p.pick(a.staff), p.pick(a.pupils, registered=True)
        addr = p.personal(pu, True)
        fid = p.file(s, [p.user_perm(addr, role="writer")], events=i % 2 == 0,
                     when=None if i % 2 == 0 else a.start - timedelta(days=40))
        p.truth(rule, staff=s, pupil=pu, counterpart=addr, obj=fid)
        pu, s = p.pick(a.pupils), p.pick(a.staff, registered=True)
        addr = p.personal(s, True)
        p.truth(rule2, staff=s, pupil=pu, counterpart=addr, obj=p.file(pu, [p.user_perm(addr)]))
    s, pu = p.pick(a.staff), p.pick(a.pupils, named=True)
    addr = p.suspected(pu)
    fid = p.file(s, [p.user_perm(addr, p.name(pu), "reader")], mime="application/vnd.google-apps.folder")
    p.truth(rule, staff=s, pupil=pu, counterpart=addr, obj=fid, confidence="suspected")
    pu, s = p.pick(a.pupils), p.pick(a.staff, named=True)
    addr = p.suspected(s)
    p.truth(rule2, staff=s, pupil=pu, counterpart=addr, obj=p.file(pu, [p.user_perm(addr, p.name(s))]),
            confidence="suspected")
    s, pu = p.pick(a.staff), p.pick(a.pupils, registered=True)
    sid = p.shared_drive([Perm(perm_id(s), "user", "organizer", s, "", p.name(s)),
                          p.user_perm(p.personal(pu, True), role="writer")])
    p.truth(rule, staff=s, pupil=pu, counterpart=p.personal(pu, True), obj=sid)
    # decoys
    s, pu = p.pick(a.staff), p.pick(a.pupils, registered=True)
    p.file(s, [p.user_perm(p.personal(pu, True))], trashed=True, when=a.start - timedelta(days=5))
    p.decoy(rule, "the shared file is in the bin", staff=s, pupil=pu)
    pu, s = p.pick(a.pupils), p.pick(a.staff)
    p.file(pu, [p.user_perm(s)])
    p.decoy(rule2, "pupil file shared with a teacher's school account", staff=s, pupil=pu)


def _drive_shared(p: Planter) -> None:
    a, rule = p.a, "drive.shared_drive_external_with_pupils"
    for i in range(p.n):
        s, k1, k2 = p.pick(a.staff), p.pick(a.pupils), p.pick(a.pupils)
        ext = ORGS[2 + i % 3][0]
        sid = p.shared_drive([Perm(perm_id(s), "user", "organizer", s, "", p.name(s)), p.user_perm(k1),
                              p.user_perm(k2, role="reader"), p.user_perm(ext, ORGS[2 + i % 3][1], "reader")])
        p.truth(rule, staff=s, pupil=min(k1, k2), counterpart=ext, obj=sid)
    s, k = p.pick(a.staff), p.pick(a.pupils)
    p.shared_drive([Perm(perm_id(s), "user", "organizer", s, "", p.name(s)), p.user_perm(k)])
    p.decoy(rule, "shared drive with pupils and staff only", staff=s, pupil=k)
    s = p.pick(a.staff)
    p.shared_drive([Perm(perm_id(s), "user", "organizer", s, "", p.name(s)), p.user_perm(ORGS[1][0], ORGS[1][1])])
    p.decoy(rule, "shared drive with an outside member but no pupils", staff=s)


def _drive_media(p: Planter) -> None:
    a, rule = p.a, "drive.public_media"
    for _ in range(p.n):
        s = p.pick(a.staff)
        fid = p.file(s, [Perm("anyoneWithLink", "anyone", "reader")], mime="image/jpeg")
        p.truth(rule, staff=s, counterpart="anyone_with_link", obj=fid)
        pu = p.pick(a.pupils)
        ext, name = ORGS[4]
        p.truth(rule, pupil=pu, counterpart=ext, obj=p.file(pu, [p.user_perm(ext, name, "reader")], mime="video/mp4"))
    s = p.pick(a.staff)
    fid = p.file(s, [Perm("anyone", "anyone", "reader", discover=True)], mime="image/png")
    p.truth(rule, staff=s, counterpart="anyone", obj=fid)
    s = p.pick(a.staff)
    p.file(s, [Perm("domain-" + h(s)[:8], "domain", "reader", "", s.rpartition("@")[2])], mime="image/jpeg")
    p.decoy(rule, "image shared inside the school domain", staff=s)
    s = p.pick(a.staff)
    p.file(s, [Perm("anyoneWithLink", "anyone", "reader")], mime="application/pdf")
    p.decoy(rule, "a public PDF is not media", staff=s)
    s = p.pick(a.staff)
    p.file(s, [Perm("anyoneWithLink", "anyone", "reader")], mime="image/jpeg", trashed=True,
           when=a.start - timedelta(days=3))
    p.decoy(rule, "a public image in the bin", staff=s)


def _drive_direct(p: Planter) -> None:
    a, rule = p.a, "drive.direct_share_outside_course"
    teachers = [t for t in a.staff if a.taught.get(t)]
    for _ in range(p.n):
        s = p.pick([t for t in a.staff if len(set(a.taught.get(t, []))) < len(a.pupils)])
        pu = p.untaught(s)
        p.truth(rule, staff=s, pupil=pu, obj=p.file(s, [p.user_perm(pu, role="reader")]))
    if teachers:
        s = p.pick(teachers)
        pu = p.rng.choice(a.taught[s])
        p.file(s, [p.user_perm(pu, role="reader")])
        p.decoy(rule, "direct share with a pupil in the teacher's own class", staff=s, pupil=pu)
        g = a.course_groups[s][0]
        p.file(s, [Perm(perm_id(g), "group", "reader", g, "", "Class group")])
        p.decoy(rule, "share with a Classroom course group", staff=s)


def _chat_meet(p: Planter) -> None:
    a, rule, rule2 = p.a, "chat.staff_pupil_direct", "meet.staff_pupil_one_to_one"
    for i in range(p.n):
        s, pu = p.pick(a.staff), p.pick(a.pupils)
        first, second = (s, pu) if i % 2 == 0 else (pu, s)  # either side may write first
        when = p.chat_day_when(days_left=4)
        p.chat(when, first, [second])
        p.chat(when + timedelta(days=3, hours=2), second, [first])  # the reply days later, in a later window
        p.truth(rule, staff=s, pupil=pu)
        s, pu = p.pick(a.staff), p.pick(a.pupils)
        p.truth(rule2, staff=s, pupil=pu, obj=p.meet([s, pu], rejoin=(pu,) if i == 0 else ()))
    s, pu = p.pick(a.staff), p.pick(a.pupils)
    when = p.when(16)
    p.chat(when, s, [pu])
    p.chat(when + timedelta(minutes=20), s, [pu])  # the pupil never writes: only the Chat API shows them
    p.truth(rule, staff=s, pupil=pu, needs="chat_api")
    s, pu = p.pick(a.staff), p.pick(a.pupils)
    s2, k2 = p.pick([x for x in a.staff if x != s]), p.pick([x for x in a.pupils if x != pu])  # reuse: not the same
    for who in (s, pu):
        p.chat(p.when(14), who, [pu, k2, s2], "SPACE")
    p.decoy(rule, "a staff member and a pupil writing in a space", staff=s, pupil=pu)
    for who in (s, pu):
        p.chat(p.when(13), who, [pu, k2], "GROUP_DIRECT_MESSAGE")
    p.decoy(rule, "a group chat of a staff member and two pupils", staff=s, pupil=pu)
    when = p.when(14)
    p.chat(when, s, [s2])
    p.chat(when + timedelta(days=1), s2, [s])
    p.decoy(rule, "a direct message between colleagues, both writing", staff=s)
    s3 = p.pick([x for x in a.staff if x not in (s, s2)] or [s2])
    if s3 != s2:
        p.chat(p.when(12), s2, [s3])
        p.decoy(rule, "a direct message to a colleague who never replies", staff=s2)
    p.chat(p.when(17), pu, [k2])
    p.chat(p.when(18), k2, [pu])
    p.decoy(rule, "two pupils messaging each other", pupil=pu)
    p.meet([s, pu, k2])
    p.decoy(rule2, "a call with a third participant", staff=s, pupil=pu)
    p.meet([s2, k2], external=3)  # an outside email, an anonymous guest, a phone dial-in
    p.decoy(rule2, "a call with an outside participant", staff=s2, pupil=k2)
    p.meet([s, s2])
    p.decoy(rule2, "a one-to-one call between colleagues", staff=s)


def _oauth(p: Planter) -> None:
    a, rule = p.a, "oauth.social_app_grant"
    for i in range(p.n + 1):
        who = p.pick(a.staff if i == 0 else a.pupils)
        text, num = SOCIAL[(p.rng.randrange(len(SOCIAL)) + i) % len(SOCIAL)]
        client = f"{num}-{h(who, text)[:12]}.apps.googleusercontent.com"
        grant_token(a.dom, who, client, text, ["openid", "email", "profile"], when=p.when(18))
        p.truth(rule, **({"staff": who} if i == 0 else {"pupil": who}), counterpart=None, obj=client)
    for text, num in NOT_SOCIAL:
        who = p.pick(a.staff + a.pupils)
        grant_token(a.dom, who, f"{num}-x.apps.googleusercontent.com", text, ["openid", "email"], when=p.when())
        p.decoy(rule, f"{text} is not a social network", staff=who)


def _whole_messages(p: Planter) -> None:
    """Breaches and decoys that exist only when a message is judged whole (issue 10): co-recipients,
    and late class mail through a Google Group seen as one receipt per member. Planted last, so earlier
    plants keep their people."""
    a = p.a
    kids = [k for k in a.pupils if a.guardians_of.get(k)]
    if kids:
        s, kid = p.pick(a.staff, registered=True), p.pick(kids)
        g, addr = a.guardians_of[kid][0][0], p.personal(s, True)
        p.truth("mail.staff_personal_to_guardian", staff=s, guardian=g, counterpart=addr,
                obj=p.mail(p.when(), s, [g], [addr]))  # the school mailbox copying the staff member's own address
        s, s2, kid = p.pick(a.staff), p.pick(a.staff), p.pick(kids)
        p.mail(p.when(), s, [a.guardians_of[kid][0][0]], [s2])
        p.decoy("mail.staff_personal_to_guardian", "school mailbox to a guardian copying a colleague", staff=s)
    groups = [(g, t, ms) for g, (t, ms) in sorted(a.mail_groups.items()) if a.roles.get(t) == "staff" and len(ms) > 1]
    if groups:
        group, tutor, members = groups[p.rng.randrange(len(groups))]
        p.mail(p.when(22, 15), tutor, [group])
        p.decoy("mail.out_of_hours", "late mail to a class group is not one-to-one (one receipt per member)",
                staff=tutor, pupil=members[0])



def _group_mail(p: Planter) -> None:
    """Class mail through a Google Group whose members are pupils (the academy's tutor groups; the classic
    school mails classes directly and has none). The group is a list, so the message is not one-to-one; a
    personal address beside it is still a participant of the whole message: a pupil's personal address
    copied in is one breach, the tutor's own personal address copied in reaches every pupil of the group
    (one breach per pupil: each now has a message with that address on it). In Reports only the tutor's
    sent event names the group and the copied address; each member's receipt names that member alone."""
    a = p.a
    groups = [(g, t, [m for m in ms if a.roles.get(m) == "pupil"]) for g, (t, ms) in sorted(a.mail_groups.items())
              if a.roles.get(t) == "staff"]
    groups = [(g, t, kids) for g, t, kids in groups if len(kids) > 1]
    if not groups:
        return
    group, tutor, kids = groups[p.rng.randrange(len(groups))]
    current = {(p.exc[0][0].lower(), p.exc[0][1].lower())} if p.exc else set()  # the register's current exception
    pu = p.pick([k for k in kids if (tutor, k) not in current], registered=True)
    addr = p.personal(pu, True)
    p.truth("mail.staff_to_pupil_personal", staff=tutor, pupil=pu, counterpart=addr,
            obj=p.mail(p.when(), tutor, [group], [addr]))
    if p.personal(tutor, True):
        own = p.personal(tutor, True)
        obj = p.mail(p.when(), tutor, [group, own])
        for kid in kids:
            p.truth("mail.staff_personal_to_pupil", staff=tutor, pupil=kid, counterpart=own, obj=obj,
                    status="suppressed" if (tutor, kid) in current else "new")
    colleague = p.pick([x for x in a.staff if x != tutor])
    mid = p.mail(p.when(22, 5), tutor, [group], [colleague])
    p.decoy("mail.out_of_hours", "late class mail through a group copying a colleague is not one-to-one",
            staff=tutor, pupil=kids[0], obj=mid)
    p.decoy("mail.staff_to_pupil_personal", "class mail through a group copying a colleague's school address",
            staff=tutor, obj=mid)


# The planted sender events reach Reports this late, 20 minutes before the horizon: after their receipts (so the
# receipts are held), and, as the lag also passes in real time, before the 2-hour hold could release them alone.
REPORTS_LAG_S = 45 * 60


def _replies_days_later(p: Planter) -> None:
    """Replies days later: a reply is its own message (its own Message-ID, the parent's in In-Reply-To and
    References, in the parent's Gmail thread), judged whole and on its own, never folded into its thread.

    - A pupil's late reply to the teacher alone, three days after the teacher's note to two pupils, is
      one-to-one (breach); the other pupil's late reply-all to the teacher and a classmate is not (decoy).
    - Near the end of the window, the reply's receipt in the teacher's mailbox (naming that mailbox alone)
      reaches Reports before the pupil's sent event (Reports lag, `REPORTS_LAG_S`): the receipt is held, and
      the message judged when the sent event comes. The pupil copied the teacher's personal address
      (breach, seen only on the sent event); another pupil copied their parent (decoy: not one-to-one,
      though the receipt alone looks one-to-one, and late if the window ends late).
    Planted last, so earlier plants keep their people."""
    a, ooh = p.a, "mail.out_of_hours"
    s = p.pick(a.staff)
    pu = p.pick(a.pupils)
    pu2 = p.pick([x for x in a.pupils if x != pu])
    day = (a.day_start(p.rng.randrange(1, max(2, a.scale.days - 4))).astimezone(LONDON)).date()
    parent = p.mail(p.local(day, 15), s, [pu, pu2])
    later = day + timedelta(days=3)
    p.truth(ooh, staff=s, pupil=pu, status=p.status(s, pu),
            obj=p.mail(p.local(later, 22, 50), pu, [s], reply_to=parent))
    p.mail(p.local(later, 22, 55), pu2, [s, pu], reply_to=parent)
    p.decoy(ooh, "a late reply-all to the teacher and a classmate three days later is not one-to-one",
            staff=s, pupil=pu2)

    reply_at = a.horizon - timedelta(minutes=20)
    before = (reply_at.astimezone(LONDON)).date() - timedelta(days=3)
    s, pu = p.pick(a.staff, registered=True), p.pick(a.pupils)
    own = p.personal(s, True)
    parent = p.mail(p.local(before, 11), s, [pu])
    obj = p.mail(reply_at, pu, [s], [own], reply_to=parent, sent_lag_s=REPORTS_LAG_S)
    p.truth("mail.staff_personal_to_pupil", staff=s, pupil=pu, counterpart=own, status=p.status(s, pu), lags=True,
            obj=obj)
    start, end = a.dom.working_hours.split("-")
    if not start <= reply_at.astimezone(LONDON).strftime("%H:%M") < end:  # the window ends out of hours
        p.truth(ooh, staff=s, pupil=pu, status=p.status(s, pu), lags=True, obj=obj)  # two addresses, one person
    kids = [k for k in a.pupils if a.guardians_of.get(k) and k != pu]
    if kids:
        s2, kid = p.pick([x for x in a.staff if x != s]), p.pick(kids)
        parent = p.mail(p.local(before, 11, 30), s2, [kid])
        mid = p.mail(reply_at + timedelta(minutes=2), kid, [s2], [a.guardians_of[kid][0][0]], reply_to=parent,
                     sent_lag_s=REPORTS_LAG_S)
        p.decoy(ooh, "a reply copying the pupil's parent is not one-to-one, though its receipt (read before the "
                     "sender's event) names the teacher alone", staff=s2, pupil=kid, obj=mid)


def _cross_school(p: Planter) -> None:
    """Breaches relating people of two schools of a trust (issue 13: "a teacher at school A sharing with a
    pupil at school B is a finding at both"): direct shares with a pupil of another school, mail to such
    a pupil's personal address, a direct message, and a teacher's personal address copied on mail to a
    guardian with children at two schools. Nothing outside a trust."""
    a, n = p.a, len(p.schools)
    if n < 2:
        return
    pairs = [(p.schools[i % n], p.schools[(i + 1) % n]) for i in range(0, 8, 2)]
    for here, there in pairs[:2]:
        s = p.pick(a.staff, school=here)
        taught = set(a.taught.get(s, []))
        pu = p.pick([x for x in a.pupils if x not in taught], school=there)
        p.truth("drive.direct_share_outside_course", staff=s, pupil=pu, obj=p.file(s, [p.user_perm(pu, role="reader")]))
    here, there = pairs[2]
    s, pu = p.pick(a.staff, school=here), p.pick(a.pupils, registered=True, school=there)
    addr = p.personal(pu, True)
    p.truth("mail.staff_to_pupil_personal", staff=s, pupil=pu, counterpart=addr, obj=p.mail(p.when(), s, [addr]))
    here, there = pairs[3]
    s, pu = p.pick(a.staff, school=here), p.pick(a.pupils, school=there)
    when = p.chat_day_when(days_left=4)
    p.chat(when, s, [pu])
    p.chat(when + timedelta(hours=1), pu, [s])
    p.truth("chat.staff_pupil_direct", staff=s, pupil=pu)
    schools_of: dict[str, set[str]] = {}
    for kid, guardians in a.guardians_of.items():
        for g, _name in guardians:
            schools_of.setdefault(g, set()).add(p.school_of.get(kid, ""))
    families = sorted(g for g, schools in schools_of.items() if len(schools - {""}) > 1)
    if families:
        g = families[p.rng.randrange(len(families))]
        s = p.pick(a.staff, registered=True, school=sorted(schools_of[g])[-1])
        own = p.personal(s, True)
        p.truth("mail.staff_personal_to_guardian", staff=s, guardian=g, counterpart=own,
                obj=p.mail(p.when(), s, [g], [own]))  # the school mailbox copying the staff member's own address
