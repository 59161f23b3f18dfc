"""The sandbox's Reports token, user_accounts, login and admin logs over real HTTP: not empty, in the
documented shapes (checked against the reports discovery document), consistent with Directory tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.google.reports import ReportsReader
from connectors.google.reports_accounts import forwarding_events, token_grants
from connectors.google.scopes import SCOPES
from sandbox.activity import activity, audit_truth
from sandbox.reports_accounts import revoke_token


def _read(env, app: str, event_name: str = "") -> list[dict]:
    reader = ReportsReader(env.ctx.google, env.domain.admin_email)
    end = datetime.now(UTC)
    return [a for page in reader.pages(app, end - timedelta(days=30), end, event_name=event_name) for a in page]


def test_every_application_the_audit_and_gam_ask_for_has_events(school):
    env = school("tiny", 1)
    names = {app: {e["name"] for a in _read(env, app) for e in a["events"]}
             for app in ("token", "user_accounts", "login", "admin")}
    assert "authorize" in names["token"]
    assert "email_forwarding_out_of_domain" in names["user_accounts"]
    assert "login_success" in names["login"]
    assert names["admin"] & {"CHANGE_PASSWORD", "ADD_GROUP_MEMBER"}
    assert env.server.problems() == []


def test_planted_grants_are_authorize_events_and_forwarding_is_logged(school):
    env = school("tiny", 2)
    grants = {(g.user_email, g.client_id) for a in _read(env, "token", "authorize") for g in token_grants(a)}
    planted = {(t.get("staff") or t.get("pupil"), t["object"]) for t in audit_truth(env.domain)
               if t["rule"] == "oauth.social_app_grant"}
    assert planted and planted <= grants
    act = activity(env.domain)
    logged = {(f.mailbox, f.forwarded_out[0]) for a in _read(env, "user_accounts", "email_forwarding_out_of_domain")
              for f in forwarding_events(a)}
    outside = {(box, fwd.address) for box, fwd in act.forwarding.items()
               if fwd.enabled and not fwd.address.endswith("@" + env.domain.domain)}
    assert outside and logged == outside


def test_a_revocation_is_logged_and_the_grant_leaves_tokens_list(school):
    env = school("tiny", 3)
    token = env.domain.tokens[0]
    revoke_token(env.domain, token.user_email, token.client_id)
    revokes = [g for a in _read(env, "token", "revoke") for g in token_grants(a)]
    assert [(g.user_email, g.client_id, g.event) for g in revokes] == [(token.user_email, token.client_id, "revoke")]
    client = env.ctx.google
    listed = client.execute("directory", client.resource("directory", "tokens").list(userKey=token.user_email),
                            subject=env.domain.admin_email, scopes=SCOPES["tokens"])
    assert token.client_id not in {t["clientId"] for t in listed.get("items", [])}
    assert env.server.problems() == []
