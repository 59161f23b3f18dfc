"""Chat and Meet rules: one-to-one staff–pupil conversations where these are not approved channels.

Only a conversation with exactly two people, one staff member and one pupil, matches:
spaces, group chats, calls with a third participant (or any external/anonymous one)
and staff–staff calls are classes, meetings and colleagues, not a private channel.
"""

from __future__ import annotations

from integration.identity import Identity
from integration.records import ChatEvent, MeetCall
from integration.rules.base import Candidate, Rule, RuleContext

CHAT_STAFF_PUPIL_DIRECT = "chat.staff_pupil_direct"
MEET_STAFF_PUPIL_ONE_TO_ONE = "meet.staff_pupil_one_to_one"

_DIRECT = frozenset({"USER_TO_USER_DIRECT_MESSAGE", "DIRECT_MESSAGE"})


def _staff_and_pupil(identity: Identity, addresses: list[str]) -> tuple[str, str] | None:
    """(staff, pupil) school accounts when the two addresses are exactly that pair."""
    if len(addresses) != 2:
        return None
    a, b = (identity.resolve(x) for x in addresses)
    for staff, pupil in ((a, b), (b, a)):
        if staff.is_school and pupil.is_school and staff.role == "staff" and pupil.role == "pupil":
            return staff.person_email, pupil.person_email  # type: ignore[return-value]
    return None


def staff_pupil_direct(ev: ChatEvent, ctx: RuleContext) -> list[Candidate]:
    if ctx.policy.chat_approved or ev.conversation_type.upper() not in _DIRECT:
        return []
    people = [p for p in dict.fromkeys(x.lower() for x in ev.participants) if p]
    pair = _staff_and_pupil(ctx.identity, people)
    if pair is None:
        return []
    return [Candidate(
        rule=CHAT_STAFF_PUPIL_DIRECT, staff=pair[0], pupil=pair[1], source=ev.source, time=ev.time,
        event_key=f"chat:{ev.message_id or ev.event_id}",
        evidence={"event_ids": [ev.event_id], "room_id": ev.room_id, "message_id": ev.message_id,
                  "conversation_type": ev.conversation_type, "time": ev.time.isoformat()})]


def staff_pupil_one_to_one(call: MeetCall, ctx: RuleContext) -> list[Candidate]:
    if ctx.policy.meet_approved or call.external_count:
        return []
    people = [p for p in dict.fromkeys(x.lower() for x in call.participants) if p]
    if len(call.participants) != len(people) and "" in call.participants:
        return []  # an anonymous participant was present
    pair = _staff_and_pupil(ctx.identity, people)
    if pair is None:
        return []
    return [Candidate(
        rule=MEET_STAFF_PUPIL_ONE_TO_ONE, staff=pair[0], pupil=pair[1], source=call.source, time=call.time,
        event_key=f"meet:{call.conference_id}",
        evidence={"conference_id": call.conference_id, "meeting_code": call.meeting_code,
                  "organizer": call.organizer, "duration_seconds": call.duration_seconds,
                  "event_ids": list(call.event_ids)[:20], "time": call.time.isoformat()})]


RULES = (
    Rule(CHAT_STAFF_PUPIL_DIRECT, "One-to-one Google Chat between staff and a pupil", "medium",
         ("000", "004"), ChatEvent, staff_pupil_direct),
    Rule(MEET_STAFF_PUPIL_ONE_TO_ONE, "Meet call with only one staff member and one pupil", "medium",
         ("001 §303",), MeetCall, staff_pupil_one_to_one),
)
