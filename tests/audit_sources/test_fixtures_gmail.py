"""Every real-shaped gmail fixture (tests/fixtures/reports/gmail.py) through the real Reports parser."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from connectors.google.reports import mail_events


def _fixtures():
    path = Path(__file__).resolve().parents[1] / "fixtures" / "reports" / "gmail.py"
    spec = importlib.util.spec_from_file_location("fixtures_reports_gmail", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FIX = _fixtures()


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
