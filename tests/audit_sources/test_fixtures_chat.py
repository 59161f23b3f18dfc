"""Every real-shaped chat fixture through the real parser: the fields it must extract, nothing invented."""

from __future__ import annotations

import logging

from fixture_loader import reports_fixture

from connectors.google.reports import chat_events

FIX = reports_fixture("chat")


def test_every_chat_fixture_extracts_its_fields(caplog):
    caplog.set_level(logging.WARNING)
    assert len(FIX.ACTIVITIES) == len(FIX.EXPECTED)
    for i, (activity, expected) in enumerate(zip(FIX.ACTIVITIES, FIX.EXPECTED, strict=True)):
        got = [(e.event_id, e.actor, e.conversation_type, e.participants, e.room_id, e.message_id)
               for e in chat_events(activity)]
        assert got == expected, f"activity {i}"
    assert sum("event_skipped" in r.getMessage() for r in caplog.records) == FIX.SKIPPED


def test_a_direct_message_names_only_its_poster_when_the_event_has_no_member_list():
    """Real message_posted events carry no target_users: the parser must not invent the other member."""
    dms = [e for a in FIX.ACTIVITIES for e in chat_events(a) if e.conversation_type == "USER_TO_USER_DIRECT_MESSAGE"]
    assert dms and {e.room_id for e in dms} == {"spaces/DMroomA1", "spaces/DMroomB2"}
    assert all(e.participants == (e.actor,) for e in dms if e.room_id == "spaces/DMroomA1")
