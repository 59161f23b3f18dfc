"""Who the state streams read on a run: everyone when the full read is due, else only who is new."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.google.state_streams import STATE, plan, state_cursor

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
USERS = ["a@s.uk", "b@s.uk", "c@s.uk"]


def _cursors(at: datetime, users: list[str]) -> dict:
    return {STATE: {"at": at.isoformat(), "users": users}}


def test_the_first_run_reads_everyone():
    assert plan({}, USERS, NOW, DAY) == (USERS, True)


def test_a_run_before_the_full_read_is_due_reads_newcomers_and_those_the_events_name():
    cursors = _cursors(NOW - timedelta(hours=3), ["a@s.uk", "b@s.uk"])
    assert plan(cursors, USERS, NOW, DAY) == (["c@s.uk"], False)
    assert plan(cursors, USERS, NOW, DAY, {"a@s.uk"}) == (["a@s.uk", "c@s.uk"], False)


def test_a_run_after_the_schedule_reads_everyone_again():
    assert plan(_cursors(NOW - DAY, USERS), USERS, NOW, DAY) == (USERS, True)
    assert plan(_cursors(NOW, USERS), USERS, NOW, timedelta(0)) == (USERS, True)


def test_the_cursor_keeps_the_last_full_read_and_leaves_failures_and_leavers_out():
    cursors = _cursors(NOW - timedelta(hours=3), ["a@s.uk", "b@s.uk", "gone@s.uk"])
    after = state_cursor(cursors, USERS, ["c@s.uk"], set(), False, NOW)
    assert after == {"at": (NOW - timedelta(hours=3)).isoformat(), "users": USERS}
    full = state_cursor(cursors, USERS, USERS, {"b@s.uk"}, True, NOW)
    assert full == {"at": NOW.isoformat(), "users": ["a@s.uk", "c@s.uk"]}
