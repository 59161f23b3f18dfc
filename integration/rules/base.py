"""What a rule is: data (id, severity, policy clauses, inputs) plus a pure evaluate function.

Rules never touch the store or a source: they read one normalised record and the run's
context (identity, channel policy) and return candidate findings. The engine turns
candidates into findings, applies exceptions and keeps occurrences.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from integration.errors import SkippableRecord
from integration.identity import Identity
from integration.records import (
    ActivityRecord,
    ChatEvent,
    DriveItem,
    ForwardingSetting,
    MailEvent,
    MeetCall,
    OAuthGrant,
)
from integration.settings import Settings, hours_window

SEVERITIES = ("high", "medium", "low")
KEY_FIELDS = ("staff", "pupil", "guardian", "counterpart")


@dataclass
class Candidate:
    """A breach a rule saw in one record; the engine keys it by fingerprint into a finding."""

    rule: str
    staff: str | None = None
    pupil: str | None = None
    guardian: str | None = None
    counterpart: str | None = None
    confidence: str = "known"
    source: str = ""
    evidence: dict = field(default_factory=dict)
    object_key: str = ""  # what the breach is about beyond the people (a file id, a mailbox setting)
    event_key: str = ""  # one distinct occurrence (message id, file+permission, conference id)
    time: datetime | None = None
    severity: str | None = None  # a rule-specific default (oauth: pupils medium)
    key_fields: tuple[str, ...] = KEY_FIELDS  # the people that identify the finding (fewer when they vary)


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    severity: str
    policy: tuple[str, ...]
    record_type: type
    evaluate: Callable[[ActivityRecord, RuleContext], list[Candidate]]


@dataclass(frozen=True)
class ChannelPolicy:
    """The approved channels and hours, as the rules need them."""

    approved_domains: frozenset[str]
    learning_platforms: tuple[str, ...] = ("classroom",)
    chat_approved: bool = False
    meet_approved: bool = False
    work_start: int = 7 * 60  # minutes since local midnight
    work_end: int = 21 * 60
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/London"))

    @classmethod
    def from_settings(cls, settings: Settings) -> ChannelPolicy:
        start, end = hours_window(settings.channels.working_hours)
        return cls(frozenset(settings.approved_domains), tuple(settings.channels.learning_platforms),
                   settings.channels.chat_approved, settings.channels.meet_approved, start, end,
                   ZoneInfo(settings.school.timezone))

    def in_working_hours(self, when: datetime) -> bool:
        """Local wall-clock time in the school's zone (zoneinfo handles BST/GMT changes)."""
        local = when.astimezone(self.timezone)
        minute = local.hour * 60 + local.minute
        if self.work_start <= self.work_end:
            return self.work_start <= minute < self.work_end
        return minute >= self.work_start or minute < self.work_end  # a window across midnight


@dataclass
class RuleContext:
    identity: Identity
    policy: ChannelPolicy
    social_apps: object = None  # integration.rules.oauth.SocialApps
    exceptions: object = None  # integration.registers.ExceptionIndex (applied by the engine)
    scratch: dict = field(default_factory=dict)  # per-event work shared between rules of one family


# ---------------------------------------------------------------------------- record checks

_REQUIRED: dict[type, tuple[str, ...]] = {
    MailEvent: ("event_id", "time", "mailbox", "direction"),
    DriveItem: ("item_id",),
    ForwardingSetting: ("mailbox",),
    ChatEvent: ("event_id", "time", "actor"),
    MeetCall: ("conference_id", "time"),
    OAuthGrant: ("user_email", "client_id"),
}


def check_record(record: ActivityRecord) -> None:
    """Raise SkippableRecord naming the missing field, so the engine logs it and goes on."""
    required = _REQUIRED.get(type(record))
    if required is None:
        raise SkippableRecord(f"unknown record type {type(record).__name__}")
    for name in required:
        value = getattr(record, name, None)
        if not value:
            ident = getattr(record, "event_id", "") or getattr(record, "item_id", "") or \
                getattr(record, "conference_id", "") or ""
            raise SkippableRecord(f"{type(record).__name__} {ident or '(no id)'} has no {name}")
        if name == "time" and getattr(value, "tzinfo", None) is None:
            raise SkippableRecord(f"{type(record).__name__} {name} has no time zone")
    if isinstance(record, MailEvent) and record.direction == "sent" and not record.sender:
        # a receipt may lack its sender (Reports logs some with an empty source); a sent message may not
        raise SkippableRecord(f"MailEvent {record.event_id or '(no id)'} has no sender")
