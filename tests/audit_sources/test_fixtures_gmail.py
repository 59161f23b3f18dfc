"""Every real-shaped gmail fixture (tests/fixtures/reports/gmail.py) through the real Reports parser."""

from __future__ import annotations

import pytest
from fixture_loader import reports_fixture

from connectors.google.reports import mail_events

FIX = reports_fixture("gmail")


@pytest.mark.parametrize("index", range(len(FIX.ACTIVITIES)))
def test_each_fixture_yields_the_expected_sightings(index):
    got = list(mail_events(FIX.ACTIVITIES[index]))
    want = FIX.EXPECTED[index]
    assert len(got) == len(want)
    for ev, fields in zip(got, want, strict=True):
        assert {name: getattr(ev, name) for name in fields} == fields
        assert ev.time is not None and ev.time.tzinfo is not None and ev.event_id


def test_every_fixture_has_its_expectation_and_event_ids_are_distinct():
    assert len(FIX.ACTIVITIES) == len(FIX.EXPECTED)
    ids = [ev.event_id for act in FIX.ACTIVITIES for ev in mail_events(act)]
    assert len(ids) == len(set(ids)) == sum(len(e) for e in FIX.EXPECTED)
