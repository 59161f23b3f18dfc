"""After the first baseline the state streams follow Reports events: a second audit reads no account's
tokens and no mailbox's settings, new grants and forwarding still arrive, and the whole state is
re-read on its slower schedule. Counted in the sandbox's request log (calls, never time)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from integration.audit import run_audit
from sandbox.activity import activity
from sandbox.reports_accounts import grant_token, set_forwarding

STATE_READS = {"directory.tokens.list", "gmail.users.settings.getAutoForwarding",
               "gmail.users.settings.forwardingAddresses.list", "gmail.users.settings.filters.list"}
SECOND_AUDIT_BUDGET = 50  # issue 10: a second audit with no new activity costs at most this many calls


def _calls(env) -> Counter:
    return Counter(e.method_id for e in env.server.requests())


def test_a_second_audit_with_no_new_activity_reads_no_state_and_stays_in_budget(school, school_variant):
    env = school("demo", 1, shape=school_variant)
    run_audit(env.ctx)
    env.server.reset_log()
    second = run_audit(env.ctx)
    calls = _calls(env)
    assert (second.findings_new, second.errors) == (0, [])
    assert not STATE_READS & calls.keys(), calls
    apps = Counter(e.path.rsplit("/", 1)[-1] for e in env.server.requests() if e.method_id == "reports.activities.list")
    assert {"token", "user_accounts", "login"} <= apps.keys()
    assert sum(calls.values()) <= SECOND_AUDIT_BUDGET, calls
    assert env.server.problems() == []


def test_a_grant_made_after_the_baseline_arrives_through_a_token_event(school, school_variant):
    env = school("tiny", 5, shape=school_variant)
    run_audit(env.ctx)
    pupil = activity(env.domain).pupils[-1]
    client = "2345678901-live.apps.googleusercontent.com"
    grant_token(env.domain, pupil, client, "TikTok", ["openid", "email"])
    env.server.reset_log()
    result = run_audit(env.ctx)
    assert "directory.tokens.list" not in _calls(env)
    new = [f for f in env.findings() if f["rule"] == "oauth.social_app_grant" and f["evidence"]["client_id"] == client]
    assert result.findings_new == 1 and [f["pupil"] for f in new] == [pupil]


def test_forwarding_turned_on_after_the_baseline_is_known_and_only_that_mailbox_is_reread(school, school_variant):
    env = school("tiny", 6, shape=school_variant)
    run_audit(env.ctx)
    act = activity(env.domain)
    staff, address = next(s for s in act.staff if s not in act.forwarding), "home.forward@outlook.com"
    set_forwarding(env.domain, staff, address)
    env.server.reset_log()
    result = run_audit(env.ctx)
    settings_reads = [e for e in env.server.requests() if e.method_id in STATE_READS]
    assert len(settings_reads) == 3 and {e.subject for e in settings_reads} <= {staff, ""}
    [f] = [f for f in env.findings() if f["rule"] == "mail.auto_forward_external" and f["staff"] == staff]
    assert (f["counterpart"], f["confidence"], result.findings_new) == (address, "known", 1)
    assert {"forwarding_event", "auto_forward"} >= {f["evidence"]["setting"]}


def test_the_whole_state_is_read_again_when_due_and_catches_a_grant_no_event_announced(school):
    env = school("tiny", 7)
    run_audit(env.ctx)
    act = activity(env.domain)
    pupil, quiet = act.pupils[0], "3456789012-quiet.apps.googleusercontent.com"
    env.domain.add_token(pupil, quiet, "Snapchat", ["openid"])  # no Reports event announces it

    def quiet_findings() -> list:
        return [f["pupil"] for f in env.findings() if f["evidence"].get("client_id") == quiet]

    run_audit(env.ctx)
    assert quiet_findings() == []
    env.ctx.activity_sources()[0].state_every = timedelta(0)  # the daily re-read is due
    env.server.reset_log()
    result = run_audit(env.ctx)
    calls = _calls(env)
    assert calls["directory.tokens.list"] == len(act.staff + act.pupils)
    assert calls["gmail.users.settings.filters.list"] == len(act.staff)
    assert (result.findings_new, quiet_findings()) == (1, [pupil])


def test_a_full_audit_reads_the_whole_state(school):
    env = school("tiny", 8)
    run_audit(env.ctx)
    env.server.reset_log()
    run_audit(env.ctx, full=True)
    assert _calls(env)["gmail.users.settings.filters.list"] == len(activity(env.domain).staff)


def test_mailboxes_whose_settings_read_failed_are_read_on_the_next_run(school):
    """Gmail failing (503) for the baseline's settings read: the state cursor covers none of those
    mailboxes, so the next run — a full read not yet due — reads them, and nothing is lost."""
    from sources_env import compare
    from sqlalchemy import select

    from integration.store.models_ops import Cursor

    def state() -> dict:
        with env.ctx.store.session() as s:
            return s.scalars(select(Cursor).where(Cursor.stream == "mail.forwarding",
                                                  Cursor.partition == "state")).one().cursor

    env = school("tiny", 9, max_attempts=1)
    env.server.faults.fail_api("gmail", 503)
    run_audit(env.ctx)
    first = state()
    assert first["users"] == [], "every mailbox failed: none is covered"
    assert not [f for f in env.findings() if f["rule"] == "mail.auto_forward_external" and f["source"] ==
                "gmail.settings"]
    env.server.faults.clear_failures()
    env.server.reset_log()
    run_audit(env.ctx)
    staff = activity(env.domain).staff
    assert sorted(e.subject for e in env.server.requests("gmail.users.settings.filters.list")) == sorted(staff)
    assert state() == {"at": first["at"], "users": sorted(staff)}  # not a full read: its time is kept
    assert compare(env.findings(), env.domain) == []
