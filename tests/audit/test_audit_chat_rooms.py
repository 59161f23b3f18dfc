"""Chat DMs without member lists: posters remembered across windows and runs, messages held until the
room's other member is known, the Chat API's member list where granted. Breaches and decoys.

Events are real-shaped Reports `message_posted` activities (shape: Google's Chat audit appendix and
Elastic's data_stream/chat test-chat.log: room_id, message_id, actor, conversation_type, no
target_users), run through the real parser and the real engine and store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from audit_env import NOW, PUPIL, PUPIL2, TEACHER, TEACHER2, FakeContext, make_settings
from sqlalchemy import func, select, update

from connectors.google.reports import chat_events, rfc3339
from integration.audit import run_audit
from integration.findings import fingerprint
from integration.records import ActivityBatch
from integration.rules.base import Candidate
from integration.store.models_audit import Finding, FindingOccurrence
from integration.store.models_chat import HeldChatMessage
from integration.store.models_roster import Person

RULE = "chat.staff_pupil_direct"
DM = "USER_TO_USER_DIRECT_MESSAGE"


def posted(actor: str, room: str, n: int, when, kind: str = DM) -> dict:
    """A message_posted activity as Reports returns it (no member list)."""
    return {"kind": "admin#reports#activity",
            "id": {"time": rfc3339(when), "uniqueQualifier": f"-{room}{n}", "applicationName": "chat"},
            "actor": {"callerType": "USER", "email": actor, "profileId": "1"},
            "events": [{"type": "user_action", "name": "message_posted", "parameters": [
                {"name": "room_id", "value": room}, {"name": "message_id", "value": f"spaces/{room}/messages/m{n}"},
                {"name": "actor", "value": actor}, {"name": "actor_type", "value": "NON_ADMIN"},
                {"name": "conversation_type", "value": kind},
                {"name": "conversation_ownership", "value": "INTERNALLY_OWNED"}]}]}


@dataclass
class ChatSource:
    """Yields this run's activities through the real parser; lists members like the Chat API if given."""

    activities: list[dict] = field(default_factory=list)
    members: dict[str, list[str]] | None = None  # None: no Chat API access (Reports only)
    listed: list[list[str]] = field(default_factory=list)
    name: str = "google"
    streams: tuple[str, ...] = ("chat",)
    stream_records = {"chat": ("ChatEvent",)}

    def fetch(self, stream, cursors, *, since, until, people) -> Iterator[ActivityBatch]:
        yield ActivityBatch("chat", [e for a in self.activities for e in chat_events(a)], {"until": until.isoformat()})

    def check(self):
        return []

    def __getattr__(self, name):
        if name == "chat_members" and self.members is not None:
            def chat_members(rooms: list[str]) -> dict[str, list[str]]:
                self.listed.append(list(rooms))
                return {r: self.members[r] for r in rooms if r in self.members}
            return chat_members
        raise AttributeError(name)


def audit(store, source: ChatSource, days: int = 0):
    return run_audit(FakeContext(store, make_settings(), [source]), now=NOW + timedelta(days=days))


def chat_findings(store) -> list[tuple[str, str, str]]:
    with store.session() as s:
        return [(f.staff, f.pupil, f.fingerprint) for f in s.scalars(select(Finding).where(Finding.rule == RULE))]


def occurrence_keys(store) -> set[str]:
    with store.session() as s:
        return set(s.scalars(select(FindingOccurrence.event_key)))


def held(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(HeldChatMessage))


def expected_fingerprint(store) -> str:
    return fingerprint(Candidate(RULE, staff=TEACHER, pupil=PUPIL), store.crypto.address_hash)


def test_a_dm_is_found_when_the_pupil_replies_days_later_in_a_later_run(store, school):
    source = ChatSource([posted(TEACHER, "DMa", 1, NOW - timedelta(hours=3))])
    audit(store, source)
    assert chat_findings(store) == [] and held(store) == 1  # one member known: held, not judged
    source.activities = [posted(PUPIL, "DMa", 2, NOW + timedelta(days=3))]
    audit(store, source, days=4)
    assert chat_findings(store) == [(TEACHER, PUPIL, expected_fingerprint(store))]
    assert occurrence_keys(store) == {"chat:spaces/DMa/messages/m1", "chat:spaces/DMa/messages/m2"}
    assert held(store) == 0


def test_both_sides_in_one_window_and_a_rerun_adds_nothing(store, school):
    source = ChatSource([posted(PUPIL, "DMb", 2, NOW - timedelta(hours=2)),
                         posted(TEACHER, "DMb", 1, NOW - timedelta(hours=3))])
    first = audit(store, source)
    again = audit(store, source, days=1)
    assert first.findings_new == 1 and again.findings_new == 0 and again.findings_updated == 0
    assert chat_findings(store) == [(TEACHER, PUPIL, expected_fingerprint(store))]
    assert len(occurrence_keys(store)) == 2 and held(store) == 0


def test_decoys_colleagues_spaces_group_chats_and_a_pupil_pair(store, school):
    source = ChatSource([posted(TEACHER, "DMc", 1, NOW - timedelta(hours=5)),
                         posted(TEACHER2, "DMc", 2, NOW - timedelta(hours=4)),
                         posted(TEACHER, "Space1", 3, NOW - timedelta(hours=4), kind="SPACE"),
                         posted(PUPIL, "Space1", 4, NOW - timedelta(hours=4), kind="SPACE"),
                         posted(TEACHER, "Group1", 5, NOW - timedelta(hours=4), kind="GROUP_DIRECT_MESSAGE"),
                         posted(PUPIL, "Group1", 6, NOW - timedelta(hours=4), kind="GROUP_DIRECT_MESSAGE"),
                         posted(PUPIL, "DMd", 7, NOW - timedelta(hours=4)),
                         posted(PUPIL2, "DMd", 8, NOW - timedelta(hours=3))])
    audit(store, source)
    assert chat_findings(store) == [] and held(store) == 0


def test_reports_only_a_dm_where_only_the_staff_member_writes_stays_held(store, school):
    source = ChatSource([posted(TEACHER, "DMe", 1, NOW - timedelta(hours=3)),
                         posted(TEACHER, "DMe", 2, NOW - timedelta(hours=2))])
    audit(store, source)
    audit(store, ChatSource([]), days=2)
    assert chat_findings(store) == [] and held(store) == 2


def test_chat_api_members_find_a_dm_where_only_the_staff_member_writes(store, school):
    with store.session() as s:  # the Directory user id is the Chat API's users/{id}
        s.execute(update(Person).where(Person.email == PUPIL).values(google_id="1170"))
    source = ChatSource([posted(TEACHER, "DMf", 1, NOW - timedelta(hours=3))],
                        members={"spaces/DMf": ["users/1170", TEACHER.upper()]})
    audit(store, source)
    assert chat_findings(store) == [(TEACHER, PUPIL, expected_fingerprint(store))]
    assert occurrence_keys(store) == {"chat:spaces/DMf/messages/m1"} and held(store) == 0
    assert source.listed == [["spaces/DMf"]]


def test_chat_api_decoy_and_a_room_listed_once_a_day(store, school):
    source = ChatSource([posted(TEACHER, "DMg", 1, NOW - timedelta(hours=3))],
                        members={"spaces/DMg": [TEACHER, TEACHER2], "spaces/DMh": [TEACHER]})
    source.activities.append(posted(TEACHER, "DMh", 2, NOW - timedelta(hours=3)))
    audit(store, source)
    assert chat_findings(store) == [] and held(store) == 1  # DMh: the other member could not be listed
    audit(store, ChatSource([], members=source.members, listed=source.listed), days=0)
    audit(store, ChatSource([], members=source.members, listed=source.listed), days=2)
    assert source.listed == [["spaces/DMg", "spaces/DMh"], ["spaces/DMh"]]


def test_only_rooms_where_a_staff_member_wrote_are_listed(store, school):
    source = ChatSource([posted(PUPIL, "DMi", 1, NOW - timedelta(hours=3)),
                         posted(PUPIL2, "DMj", 2, NOW - timedelta(hours=3))],
                        members={"spaces/DMi": [PUPIL, TEACHER], "spaces/DMj": [PUPIL2, PUPIL]})
    audit(store, source)
    assert source.listed == [] and chat_findings(store) == [] and held(store) == 2
    source.activities = [posted(TEACHER, "DMi", 3, NOW + timedelta(days=1))]  # the teacher answers
    audit(store, source, days=2)
    assert chat_findings(store) == [(TEACHER, PUPIL, expected_fingerprint(store))]


def test_a_room_the_chat_api_no_longer_has_is_not_asked_again_every_run(store, school):
    """The lister answers a gone space with no members (and leaves out one it failed to list): the gone
    room is stamped as listed like any other, so a second run asks nothing; the failed one is asked again."""
    source = ChatSource([posted(TEACHER, "DMgone", 1, NOW - timedelta(hours=3)),
                         posted(TEACHER, "DMfail", 2, NOW - timedelta(hours=3))],
                        members={"spaces/DMgone": []})  # DMfail left out: its list failed
    audit(store, source)
    assert source.listed == [["spaces/DMfail", "spaces/DMgone"]] and held(store) == 2
    audit(store, source)
    assert source.listed[1:] == [["spaces/DMfail"]]  # the gone room waits for RELIST_AFTER
    audit(store, source, days=2)
    assert source.listed[2:] == [["spaces/DMfail", "spaces/DMgone"]]
