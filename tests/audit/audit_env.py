"""Northfield Academy for the audit tests: names, settings, record factories, a roster seeder,
plain in-test activity sources and a context the engine accepts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from integration.records import ActivityBatch, MailEvent
from integration.settings import Channels, Privacy, School, Settings
from integration.store.models_roster import Course, Enrolment, Guardian, GuardianLink, Person, PersonAlias

DOMAIN = "northfield.sch.uk"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)

TEACHER = f"t.jones@{DOMAIN}"
TEACHER2 = f"m.patel@{DOMAIN}"
PUPIL = f"amy.smith@{DOMAIN}"
PUPIL2 = f"ben.khan@{DOMAIN}"
LEAVER = f"cara.old@{DOMAIN}"
GUARDIAN = "smith.family@gmail.com"
PUPIL_GMAIL = "amy.smith.2011@gmail.com"
TEACHER_GMAIL = "tomjones1980@hotmail.co.uk"


def make_settings(**channels) -> Settings:
    return Settings(school=School(name="Northfield Academy", domain=DOMAIN, timezone="Europe/London"),
                    channels=Channels(approved_email_domains=[DOMAIN], **channels), privacy=Privacy())


def mail(sender: str, *recipients: str, mailbox: str | None = None, direction: str = "sent",
         when: datetime = NOW, names: tuple = (), event_id: str = "ev1", message_id: str = "<m1@x>") -> MailEvent:
    return MailEvent(event_id=event_id, time=when, mailbox=mailbox or sender, direction=direction, sender=sender,
                     recipients=tuple(recipients), message_id=message_id, display_names=names)


# ------------------------------------------------------------------------------ seeded store


class SchoolSeeder:
    """Rows for the roster tables, written straight through the models."""

    def __init__(self, store):
        self.store = store

    def person(self, email: str, role: str, name: str, *, status: str = "active", left_at=None,
               aliases: tuple[str, ...] = ()) -> int:
        with self.store.session() as s:
            p = Person(email=email, name=name, role=role, status=status, left_at=left_at, aliases=list(aliases))
            s.add(p)
            s.flush()
            for a in (email, *aliases):
                s.add(PersonAlias(address=a, person_id=p.id))
            return p.id

    def guardian(self, address: str, pupil_ids: list[int]) -> None:
        with self.store.session() as s:
            g = Guardian(email_hash=self.store.crypto.address_hash(address), email=address, name="A Parent")
            s.add(g)
            s.flush()
            for pid in pupil_ids:
                s.add(GuardianLink(guardian_id=g.id, pupil_id=pid))

    def course(self, course_id: str, teachers: list[int], students: list[int], group: str = "") -> None:
        with self.store.session() as s:
            c = Course(platform="classroom", course_id=course_id, name=course_id, course_group_email=group)
            s.add(c)
            s.flush()
            for pid in teachers:
                s.add(Enrolment(course_pk=c.id, person_id=pid, role="teacher"))
            for pid in students:
                s.add(Enrolment(course_pk=c.id, person_id=pid, role="student"))


# ------------------------------------------------------------------------------ sources and context


@dataclass
class ListSource:
    """An ActivitySource that yields prepared batches per stream; optionally fails."""

    name: str
    batches: dict[str, list[ActivityBatch]]
    fail: dict[str, Exception] = field(default_factory=dict)  # stream -> raised after fail_after batches
    fail_after: int = 0
    calls: list[dict] = field(default_factory=list)

    @property
    def streams(self) -> tuple[str, ...]:
        return tuple(self.batches)

    def fetch(self, stream, cursors, *, since, until, people) -> Iterator[ActivityBatch]:
        self.calls.append({"stream": stream, "cursors": cursors, "since": since, "until": until, "people": people})
        for i, batch in enumerate(self.batches[stream]):
            if stream in self.fail and i == self.fail_after:
                raise self.fail[stream]
            yield batch
        if stream in self.fail and self.fail_after >= len(self.batches[stream]):
            raise self.fail[stream]

    def check(self):
        return []


class FakeContext:
    def __init__(self, store, settings: Settings, sources: list):
        self.store = store
        self.settings = settings
        self.sources = sources

    def activity_sources(self) -> list:
        return self.sources

    def api_calls(self) -> int:
        return 7
