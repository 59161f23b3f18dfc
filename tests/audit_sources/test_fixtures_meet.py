"""Every real-shaped meet fixture through the real parser: calls rebuilt from per-endpoint call_ended legs."""

from __future__ import annotations

import logging

from fixture_loader import reports_fixture

from connectors.google.reports import meet_calls, parse_time

FIX = reports_fixture("meet")


def test_every_meet_fixture_is_grouped_into_its_call(caplog):
    caplog.set_level(logging.WARNING)
    calls = {c.conference_id: c for c in meet_calls(FIX.ACTIVITIES)}
    assert set(calls) == set(FIX.EXPECTED)
    for conf, (people, external, organizer, code, duration, legs, time) in FIX.EXPECTED.items():
        c = calls[conf]
        assert (c.participants, c.external_count, c.organizer, c.meeting_code, c.duration_seconds) == \
            (people, external, organizer, code, duration), conf
        assert len(c.event_ids) == legs and c.time == parse_time(time), conf
    assert sum("event_skipped" in r.getMessage() for r in caplog.records) == FIX.SKIPPED
