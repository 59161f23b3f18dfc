"""Every real-shaped token fixture through the real parser, and the grants it yields through the rule."""

from __future__ import annotations

import logging

from fixture_loader import reports_fixture

from connectors.google.reports_accounts import token_grants
from integration.identity import Identity
from integration.rules.base import ChannelPolicy, RuleContext
from integration.rules.oauth import SocialApps, social_app_grant

FIX = reports_fixture("token")


def test_every_token_fixture_extracts_its_fields(caplog):
    caplog.set_level(logging.WARNING)
    assert len(FIX.ACTIVITIES) == len(FIX.EXPECTED)
    for i, (activity, expected) in enumerate(zip(FIX.ACTIVITIES, FIX.EXPECTED, strict=True)):
        grants = list(token_grants(activity))
        assert [(g.user_email, g.client_id, g.display_text, g.scopes, g.event) for g in grants] == expected, \
            f"activity {i}"
        assert all(g.time is not None and g.source == "reports.token" for g in grants)
    assert sum("event_skipped" in r.getMessage() for r in caplog.records) == FIX.SKIPPED


def test_the_social_app_rule_flags_the_authorize_and_not_the_revoke(crypto):
    """Fed into the real rule: the pupil's TikTok authorize is a finding, the revoke is none."""
    identity = Identity(["school.example.sch.uk"], crypto)
    identity.add_person(FIX.S, "staff", "Staff One")
    identity.add_person(FIX.P, "pupil", "Pupil One")
    rctx = RuleContext(identity, ChannelPolicy(frozenset({"school.example.sch.uk"})), SocialApps.load())
    grants = [g for a in FIX.ACTIVITIES for g in token_grants(a)]
    flagged = [(g.event, c.pupil) for g in grants for c in social_app_grant(g, rctx)]
    assert flagged == [("authorize", FIX.P)]
