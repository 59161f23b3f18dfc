"""What a rule is: data (id, severity, policy clauses, inputs) plus a pure evaluate function.

Rules never touch the store or a source: they read one normalised record and the run's
context (identity, channel policy) and return candidate findings. The engine turns
candidates into findings, applies exceptions and keeps occurrences.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    """The approved channels and hours, as the rules need them.

    Working hours are a school's own: ``school_hours`` holds the windows of the schools whose hours
    differ from [channels] working_hours, and ``school_of`` places their people (person email ->
    school id), so a rule asks for the window of the member of staff concerned; anyone else, and
    a person in no school, keeps the trust-wide window."""

    approved_domains: frozenset[str]
    learning_platforms: tuple[str, ...] = ("classroom",)
    chat_approved: bool = False
    meet_approved: bool = False
    work_start: int = 7 * 60  # minutes since local midnight
    work_end: int = 21 * 60
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/London"))
    school_hours: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    school_of: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings, school_of: Mapping[str, str] | None = None) -> ChannelPolicy:
        start, end = hours_window(settings.channels.working_hours)
        own = {t.id: hours_window(t.working_hours) for t in settings.tenants.schools if t.working_hours}
        own = {sid: window for sid, window in own.items() if window != (start, end)}
        return cls(frozenset(settings.approved_domains), tuple(settings.channels.learning_platforms),
                   settings.channels.chat_approved, settings.channels.meet_approved, start, end,
                   ZoneInfo(settings.school.timezone), own, dict(school_of or {}) if own else {})

    def window(self, person: str | None = None) -> tuple[int, int]:
        """(start, end) in minutes of the working day of ``person``'s school (the trust-wide one if none)."""
        if self.school_hours and person:
            school = self.school_of.get(person)
            if school in self.school_hours:
                return self.school_hours[school]
        return self.work_start, self.work_end

    def in_working_hours(self, when: datetime, person: str | None = None) -> bool:
        """Local wall-clock time in the school's zone (zoneinfo handles BST/GMT changes), within the
        working hours of ``person``'s school."""
        local = when.astimezone(self.timezone)
        return _within(local.hour * 60 + local.minute, self.window(person))

    def in_every_school_hours(self, when: datetime) -> bool:
        """Within every school's working hours (a cheap first test before anyone is looked up)."""
        local = when.astimezone(self.timezone)
        minute = local.hour * 60 + local.minute
        return _within(minute, (self.work_start, self.work_end)) and all(
            _within(minute, w) for w in self.school_hours.values())


def _within(minute: int, window: tuple[int, int]) -> bool:
    start, end = window
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end  # a window across midnight


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
