"""The shapes of the sandbox's activity (messages, files, grants, chat, meet legs) and small
deterministic helpers. Records are tiny frozen slots classes: a school's day of mail is derived,
served and dropped, never kept.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.model import User

DAY = timedelta(days=1)
ORGS = [("exams@aqa.org.uk", "AQA Exams"), ("office@localcouncil.gov.uk", "Council Office"),
        ("bookings@leisurecentre.co.uk", "Leisure Centre"), ("support@edtech-supplier.co.uk", "Supplier Support"),
        ("admin@trip-company.co.uk", "School Trips Ltd")]
SUBJECTS = ["Homework", "Lesson plan", "Trip letter", "Marking", "Meeting notes", "Report", "Timetable",
            "Coursework", "Revision", "Club"]
DOC_TYPES = [("application/vnd.google-apps.document", 40), ("application/vnd.google-apps.spreadsheet", 15),
             ("application/vnd.google-apps.presentation", 15), ("application/pdf", 10),
             ("application/vnd.google-apps.folder", 5), ("image/jpeg", 10), ("video/mp4", 5)]


@dataclass(frozen=True)
class Scale:
    files: tuple[int, int]  # base files per user (uniform)
    mail: tuple[int, int]  # mail events per mailbox per day (uniform)
    days: int
    chat: float  # chat events per user per day (mean)
    meet: float  # class calls per teacher per day (mean)
    daily_share: float  # probability a user shares a new file on a given day


SCALES = {
    "tiny": Scale((3, 9), (0, 3), 14, 0.5, 0.2, 0.2),
    "demo": Scale((8, 24), (0, 1), 14, 0.3, 0.2, 0.1),
    "school": Scale((60, 177), (5, 16), 29, 0.5, 0.3, 0.1),
    "trust": Scale((60, 177), (5, 16), 29, 0.5, 0.3, 0.1),
}


@dataclass(frozen=True, slots=True)
class Mail:
    """One message as one mailbox sees it."""

    id: str  # Gmail API message id (16 hex)
    time: datetime
    mailbox: str
    direction: str  # sent | received | draft (its author's mailbox only; no Reports event) | opened (Reports only)
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    message_id: str = ""
    subject: str = ""
    names: tuple[tuple[str, str], ...] = ()  # (address, display name) in headers
    in_reply_to: str = ""  # a reply's In-Reply-To: the Message-ID it answers (RFC 5322 §3.6.4)
    references: tuple[str, ...] = ()  # the thread's Message-IDs, oldest first (References)
    thread: str = ""  # the Gmail threadId in this mailbox ("" = the message starts its own thread)
    lag_s: int = 0  # how late this sighting reaches the Reports gmail log (Reports lag; mailboxes have none)


@dataclass(frozen=True, slots=True)
class Perm:
    id: str
    type: str
    role: str
    email: str = ""
    domain: str = ""
    display: str = ""
    discover: bool = False


@dataclass(frozen=True, slots=True)
class File:
    id: str
    name: str
    mime: str
    owner: str  # "" in a shared drive
    modified: datetime
    perms: tuple[Perm, ...]
    trashed: bool = False
    drive_id: str = ""  # the shared drive holding it ("" in a My Drive)
    parent: str = ""  # the folder whose grants it inherits ("" = none)


@dataclass(frozen=True, slots=True)
class DriveEvent:
    """One Reports drive acl_change event (one grant); `inherited`: the grant reached the file from its
    folder (logged as *_hierarchy_reconciled)."""

    time: datetime
    actor: str
    file: File
    perm: Perm
    inherited: bool = False


@dataclass(frozen=True, slots=True)
class Chat:
    """One message_posted: its room's members live in `Activity.rooms` (the Chat API), not on the event."""

    time: datetime
    actor: str
    conversation_type: str
    room_id: str
    message_id: str


@dataclass(frozen=True, slots=True)
class MeetLeg:
    """One participant endpoint's call_ended event."""

    time: datetime
    conference_id: str
    identifier: str  # an email, a phone number, or "" for an anonymous participant
    display_name: str
    organizer: str
    meeting_code: str
    duration: int
    external: bool = False
    identifier_type: str = "email_address"  # | phone_number
    endpoint: str = ""
    start: int = 0  # start_timestamp_seconds


@dataclass
class SharedDrive:
    id: str
    name: str
    perms: list[Perm]
    created: datetime


@dataclass
class Forwarding:
    enabled: bool = False
    address: str = ""
    addresses: list[tuple[str, str]] = field(default_factory=list)  # (address, accepted|pending)


def h(*parts: Any) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def rng_for(*parts: Any) -> random.Random:
    return random.Random(h(*parts))


def file_id(*parts: Any) -> str:
    return "1" + h("file", *parts)[:32]


def perm_id(email: str) -> str:
    return str(int(h("perm", email)[:15], 16))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def meet_call(seed: str, people: list[str], organizer: str, start: datetime, duration: int,
              users: dict[str, User], external: int = 0, rejoin: tuple[str, ...] = ()) -> list[MeetLeg]:
    """The call_ended events of one conference: one per participant endpoint (Meet audit appendix,
    Elastic's test-meet.log). Outsiders cycle through the documented kinds: an outside email
    (is_external), an anonymous guest (no identifier), a phone dial-in (identifier_type phone_number).
    Each person in `rejoin` dropped out early and rejoined from a second endpoint (two legs)."""
    conf = h("conference", seed)[:20]
    code = "".join(chr(97 + int(c, 16) % 26) for c in h("code", seed)[:10]).upper()
    end = start + timedelta(seconds=duration)
    epoch = int(start.timestamp())

    def leg(i: int, who: str, name: str, secs: int, **kw: Any) -> MeetLeg:
        return MeetLeg(end + timedelta(seconds=i) - timedelta(seconds=duration - secs), conf, who, name, organizer,
                       code, secs, endpoint=f"boq_hlane_{h('endpoint', seed, i)[:11]}", start=epoch, **kw)

    legs = [leg(i, p, users[p].full_name if p in users else p, duration) for i, p in enumerate(people)]
    legs += [leg(len(people) + i, p, users[p].full_name if p in users else p, duration // 3)
             for i, p in enumerate(rejoin)]
    n = len(legs)
    for i in range(external):
        kind = i % 3
        if kind == 0:
            legs.append(leg(n + i, f"guest.{h('guest', seed, i)[:6]}@example.net", "Visitor", duration, external=True))
        elif kind == 1:
            legs.append(leg(n + i, "", "Guest", duration, external=True))
        else:
            legs.append(leg(n + i, f"+44163296{int(h('tel', seed, i)[:4], 16) % 10000:04d}", "Phone", duration,
                            external=True, identifier_type="phone_number"))
    return legs


def _norm(name: str) -> str:
    text = unicodedata.normalize("NFKD", name.casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = "".join(ch for ch in text if ch not in "'\u2019`-\u2010\u2011\u2013.\"")
    return " ".join(text.split())
