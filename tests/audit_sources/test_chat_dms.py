"""Chat DMs on the sandbox's real-shaped events (message_posted without member lists): found when both
sides write days apart, found through the Chat API (admin access) when only the staff member writes,
held in Reports-only mode, never for spaces, group chats, colleagues or two pupils."""

from __future__ import annotations

from sources_env import compare, key

from connectors.google.doctor import google_checks
from integration.audit import run_audit
from sandbox.activity import CHAT_MEMBERS_SCOPE, activity, audit_decoys, audit_truth

RULE = "chat.staff_pupil_direct"


def chat_keys(items: list[dict]) -> set[tuple]:
    return {key(t) for t in items if t["rule"] == RULE}


def test_every_planted_dm_is_found_and_the_chat_api_is_asked_as_google_documents(school, school_variant):
    env = school("tiny", 5, shape=school_variant)
    truth = [t for t in audit_truth(env.domain) if t["rule"] == RULE]
    assert any(t.get("needs") == "chat_api" for t in truth), "a DM where only the staff member writes"
    first = run_audit(env.ctx)
    assert first.errors == [] and compare(env.findings(), env.domain) == []
    assert chat_keys(env.findings()) == chat_keys(truth)
    decoys = [d for d in audit_decoys(env.domain) if d["rule"] == RULE]
    assert len(decoys) >= 4
    calls = env.server.requests("chat.spaces.members.list")
    assert calls and all(c.query.get("useAdminAccess") == "true" and c.query.get("filter") == 'member.type = "HUMAN"'
                         for c in calls)
    assert env.server.problems() == []
    posted = [e for e in env.server.requests("reports.activities.list") if e.path.endswith("/chat")]
    assert posted and all(e.query.get("eventName") == "message_posted" for e in posted)

    env.server.reset_log()
    second = run_audit(env.ctx)  # nothing new, and rooms listed today are not listed again
    assert (second.findings_new, second.errors) == (0, [])
    assert env.server.requests("chat.spaces.members.list") == []


def test_reports_only_the_one_sided_dm_waits_and_doctor_says_what_is_missed(school, school_variant):
    env = school("tiny", 6, shape=school_variant)
    env.domain.revoke_scope(CHAT_MEMBERS_SCOPE)
    one_sided = {key(t) for t in activity(env.domain).truth if t.get("needs") == "chat_api"}
    assert one_sided and not one_sided & chat_keys(audit_truth(env.domain))
    result = run_audit(env.ctx)
    assert result.errors == [] and result.not_evaluated == {}
    assert compare(env.findings(), env.domain) == []  # both-sides DMs found; the one-sided one is not
    assert env.server.requests("chat.spaces.members.list") == []  # refused at the token: asked no further
    checks = {c.name: c for c in google_checks(env.ctx.settings, env.ctx.google)}
    assert checks["token: chat_admin"].ok and "optional" in checks["token: chat_admin"].detail
    assert checks["chat DM members"].detail.startswith("Reports only") and "missed" in checks["chat DM members"].detail

    env.domain.grant_scope(CHAT_MEMBERS_SCOPE)  # granted later: the held messages are judged then
    env.ctx.__dict__.pop("_google_activity_source", None)
    run_audit(env.ctx)
    assert compare(env.findings(), env.domain) == []
    assert one_sided <= chat_keys(env.findings())
    checks = {c.name: c for c in google_checks(env.ctx.settings, env.ctx.google)}
    assert checks["chat DM members"].detail.startswith("Chat API")


def test_chat_api_listing_under_faults_loses_nothing_and_duplicates_nothing(school):
    """20 % of requests fail (Chat API member lists included): a room that could not be listed stays held
    and is listed on a later run; every planted DM is found once, no decoy is."""
    env = school("tiny", 9, max_attempts=2)
    env.server.faults.set_rate(0.2, seed=3)
    for _ in range(3):
        run_audit(env.ctx)
    env.server.faults.set_rate(0.0)
    run_audit(env.ctx)
    truth = chat_keys(audit_truth(env.domain))
    found = [key(f) for f in env.findings() if f["rule"] == RULE]
    assert set(found) == truth and len(found) == len(truth)
    assert env.server.faults.injected > 10
