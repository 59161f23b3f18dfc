"""The real Google activity sources against generated schools: every planted breach is found with the
right people, status and confidence, no decoy (and nothing in the background) is flagged, a second
audit adds nothing, and no request reads a body or a file's contents or strays from discovery."""

from __future__ import annotations

import csv

import pytest
from sources_env import compare, privacy_problems

from integration.audit import run_audit
from sandbox.activity import activity, audit_decoys, share_now


@pytest.mark.parametrize(("size", "seed", "reports_gmail"), [
    ("tiny", 1, True),
    ("tiny", 2, False),
    pytest.param("demo", 1, True, marks=pytest.mark.slow),
    pytest.param("demo", 2, False, marks=pytest.mark.slow),
])
def test_every_planted_breach_is_found_and_no_decoy_is(school, school_variant, size, seed, reports_gmail):
    env = school(size, seed, shape=school_variant, reports_gmail=reports_gmail)
    first = run_audit(env.ctx)
    assert first.errors == [] and first.not_evaluated == {}
    assert compare(env.findings(), env.domain) == []
    assert audit_decoys(env.domain), "the generator plants decoys"
    source = env.ctx.activity_sources()[0]
    assert source.mail_source_decision == ("reports" if reports_gmail else "mailbox")

    second = run_audit(env.ctx)
    assert (second.findings_new, second.errors) == (0, [])
    assert compare(env.findings(), env.domain) == []
    assert privacy_problems(env.server) == []
    assert env.server.problems() == []


def test_the_mail_source_decision_is_kept_in_the_cursor(school):
    env = school("tiny", 3, reports_gmail=False)
    run_audit(env.ctx)
    env.server.reset_log()
    env.ctx.__dict__.pop("_google_activity_source")  # a new process: only the cursor remembers
    run_audit(env.ctx)
    probes = [e for e in env.server.requests("reports.activities.list")
              if e.path.endswith("/gmail") and e.query.get("maxResults") == "1"]
    assert probes == []
    assert env.ctx.activity_sources()[0].mail_source_decision == "mailbox"


def test_a_share_made_after_the_crawl_arrives_through_reports_drive_events(school):
    env = school("tiny", 4)
    run_audit(env.ctx)
    act = activity(env.domain)
    with (env.config.parent / "personal-addresses.csv").open(encoding="utf-8") as fh:
        registered = [(row["address"], row["owner"]) for row in csv.DictReader(fh)]
    address, pupil = next((a, o) for a, o in registered if act.roles.get(o) == "pupil")
    staff = act.staff[-1]
    env.server.reset_log()
    file_id = share_now(env.domain, staff, address)
    result = run_audit(env.ctx)
    assert env.server.requests("drive.files.list") == []  # no re-crawl: the Reports event carried the share
    new = [f for f in env.findings() if f["evidence"].get("file_id") == file_id]
    assert result.findings_new == 1 and len(new) == 1
    assert (new[0]["rule"], new[0]["staff"], new[0]["pupil"]) == ("drive.shared_with_pupil_personal", staff, pupil)
