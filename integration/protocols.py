"""The small protocols through which the core talks to outside systems.

Connectors implement these; the composition root (:mod:`integration.wiring`) builds
them from settings. Tests can implement them with plain classes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from integration.records import ActivityBatch, FormInfo, FormResponseRecord, RosterSnapshot


@dataclass
class Check:
    """One line of `doctor`: what was checked, whether it passed, and the fix if not."""

    name: str
    ok: bool
    detail: str = ""
    fix: str = ""

    def as_json(self) -> dict:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


@dataclass
class CallStats:
    """API calls (logical requests, batch parts included) and HTTP round trips, per API."""

    calls: dict[str, int] = field(default_factory=dict)
    round_trips: dict[str, int] = field(default_factory=dict)

    @property
    def api_calls(self) -> int:
        return sum(self.calls.values())

    @property
    def http_round_trips(self) -> int:
        return sum(self.round_trips.values())


@runtime_checkable
class RosterSource(Protocol):
    """Reads staff, pupils, groups, org units, courses and guardians."""

    name: str

    def fetch_roster(self) -> RosterSnapshot: ...

    def check(self) -> list[Check]: ...


@runtime_checkable
class ActivitySource(Protocol):
    """Yields pages of activity records per stream; the audit engine stores each page's records,
    then the page's cursor (per partition), in that order.

    ``cursors`` maps partition ("" when the stream is not partitioned; a mailbox or Drive owner
    address when it is) to the cursor JSON stored after the last page of a previous run.
    ``since``/``until`` bound time-window streams (the engine already applied the overlap for the
    reporting delay); ``people`` lists the school accounts to crawl per user, with their role.

    Optional: ``stream_records: dict[str, tuple[str, ...]]`` maps each stream to the record type
    names it yields (e.g. ``{"reports.gmail": ("MailEvent",)}``), so that when a stream fails the
    audit marks exactly the rules it feeds as "not evaluated" (else guessed from the stream name).
    Streams whose record types differ are read at the same time, from different threads
    (integration/lanes.py): ``fetch`` must be safe to call concurrently for different streams.
    Optional: ``stream_apis: dict[str, tuple[str, ...]]`` names the APIs each stream calls, so the
    audit starts lanes on idle APIs first when not every lane may run at once.
    """

    name: str
    streams: tuple[str, ...]

    def fetch(self, stream: str, cursors: dict[str, dict], *, since: datetime, until: datetime,
              people: list[tuple[str, str]]) -> Iterator[ActivityBatch]: ...

    def check(self) -> list[Check]: ...


@runtime_checkable
class AcknowledgementSource(Protocol):
    """A policy acknowledgement form and its responses."""

    def create_form(self, title: str, description: str, policy_url: str, question: str) -> FormInfo: ...

    def configure_form(self, form_id: str, description: str, policy_url: str, question: str) -> FormInfo:
        """Finish setting up a form that `create_form` created but could not configure (its error carried
        ``form_id``), so a re-run never creates a second form for the same policy version."""
        ...

    def get_form(self, form_id: str) -> FormInfo: ...

    def responses(self, form_id: str, since: datetime | None) -> Iterator[FormResponseRecord]: ...


@dataclass
class OutgoingEmail:
    """An email to send: plain text and HTML parts, never message bodies or file contents of users."""

    to: list[str]
    subject: str
    text: str
    html: str = ""
    cc: list[str] = field(default_factory=list)
    message_id: str = ""  # stable Message-ID so a retried send can be recognised downstream
    headers: dict[str, str] = field(default_factory=dict)


# SourceRefused.reason of a Mailer when this one message/recipient was refused for good (e.g. SMTP 550):
# the outbox marks that email failed and goes on; any other SourceRefused stops delivery (exit 3).
RECIPIENT_REFUSED = "recipient_refused"


@runtime_checkable
class Mailer(Protocol):
    """Delivers one email or raises (TransientError to retry, SourceRefused when a human must act)."""

    name: str

    def send(self, email: OutgoingEmail) -> None: ...
