"""Every real-shaped user_accounts / login fixture through the real parser."""

from __future__ import annotations

import logging

from fixture_loader import reports_fixture

from connectors.google.reports_accounts import forwarding_events
from integration.identity import Identity
from integration.rules.base import ChannelPolicy, RuleContext
from integration.rules.forwarding import auto_forward_external

FIX = reports_fixture("user_accounts")


def test_every_user_accounts_fixture_extracts_its_fields(caplog):
    caplog.set_level(logging.WARNING)
    assert len(FIX.ACTIVITIES) == len(FIX.EXPECTED)
    for i, (activity, expected) in enumerate(zip(FIX.ACTIVITIES, FIX.EXPECTED, strict=True)):
        got = [(f.mailbox, f.forwarded_out, f.event_id, f.source) for f in forwarding_events(activity)]
        assert got == expected, f"activity {i}"
    assert sum("event_skipped" in r.getMessage() for r in caplog.records) == FIX.SKIPPED


def test_the_forwarding_rule_flags_each_event_known(crypto):
    """Fed into the real rule: each logged out-of-domain forward is a `known` finding candidate."""
    identity = Identity(["school.example.sch.uk"], crypto)
    identity.add_person(FIX.S, "staff", "Staff One")
    rctx = RuleContext(identity, ChannelPolicy(frozenset({"school.example.sch.uk"})))
    found = [c for a in FIX.ACTIVITIES for fs in forwarding_events(a) for c in auto_forward_external(fs, rctx)]
    assert [(c.staff, c.counterpart, c.confidence, c.evidence["setting"]) for c in found] == [
        (FIX.S, FIX.HOME, "known", "forwarding_event"), (FIX.S, FIX.HOME, "known", "forwarding_event"),
        (FIX.S, "drop@outlook.com", "known", "forwarding_event")]
    assert len({c.event_key for c in found}) == 3 and found[0].object_key == found[1].object_key
