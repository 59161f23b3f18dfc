"""Responses read incrementally and safely; the governors' report; a new policy version."""

from __future__ import annotations

import csv
import io

import pytest
from acks_env import DAY, T0
from sqlalchemy import select

from integration.acknowledgement import compliance_csv, report, run_acknowledgement
from integration.errors import SourceRefused, TransientError
from integration.store.models_acks import AckResponse, AckRound
from integration.store.models_ops import Cursor
from sandbox.forms import forms_state, resubmit, submit_response


def stored(env) -> tuple[int, dict]:
    with env.ctx.store.session() as s:
        n = len(list(s.scalars(select(AckResponse))))
        cur = s.scalar(select(Cursor).where(Cursor.source == "forms"))
        return n, dict(cur.cursor) if cur else {}


def test_responses_are_read_incrementally_with_an_overlap_and_deduplicated(acks_env):
    env = acks_env()
    fid = run_acknowledgement(env.ctx, T0, send=False).doc["form_id"]
    env.server.reset_log()
    rid = submit_response(env.domain, fid, env.addr("alice.adams"), T0 + DAY)
    run_acknowledgement(env.ctx, T0 + DAY, send=False)
    (first,) = env.server.requests("forms.forms.responses.list")
    assert "filter" not in first.query  # nothing read yet: read everything
    assert stored(env)[1]["watermark"].startswith("2026-11-03T08:00:00")

    resubmit(env.domain, fid, rid, T0 + 2 * DAY)
    submit_response(env.domain, fid, env.addr("bob.brown"), T0 + 2 * DAY)
    env.server.reset_log()
    result = run_acknowledgement(env.ctx, T0 + 2 * DAY, send=False)
    (second,) = env.server.requests("forms.forms.responses.list")
    assert second.query.getlist("filter") == ["timestamp >= 2026-11-03T07:00:00Z"]  # watermark minus an hour
    assert (result.read.new, result.read.resubmitted) == (1, 1)
    assert stored(env)[0] == 2 and result.doc["acknowledged"] == 2


def test_many_pages_are_read_within_the_page_size_limit(acks_env):
    env = acks_env()
    env.server.state.page_caps["forms.forms.responses.list"] = 2
    fid = run_acknowledgement(env.ctx, T0, send=False).doc["form_id"]
    for i, who in enumerate(("alice.adams", "bob.brown", "carol.clark", "gus.governor", "pat.pupil")):
        submit_response(env.domain, fid, env.addr(who), T0 + DAY + i * DAY / 24)
    env.server.reset_log()
    result = run_acknowledgement(env.ctx, T0 + 2 * DAY, send=False)
    calls = env.server.requests("forms.forms.responses.list")
    assert len(calls) == 3 and all(c.query.get("pageSize") == "5000" for c in calls)
    assert result.doc["acknowledged"] == 4 and result.doc["outstanding"] == 0


@pytest.mark.parametrize("status", [403, 503])
def test_a_forms_api_failure_leaves_the_previous_state_intact(acks_env, status):
    env = acks_env()
    fid = run_acknowledgement(env.ctx, T0, send=True).doc["form_id"]
    submit_response(env.domain, fid, env.addr("alice.adams"), T0 + DAY)
    before = run_acknowledgement(env.ctx, T0 + DAY, send=True)
    state = stored(env)
    mails = len(env.smtp.box.messages)
    submit_response(env.domain, fid, env.addr("bob.brown"), T0 + 2 * DAY)
    env.server.fail_api("forms", status)
    with pytest.raises(SourceRefused if status == 403 else TransientError):
        run_acknowledgement(env.ctx, T0 + 3 * DAY, send=True)  # reminders were due: none may go out blind
    assert stored(env) == state and len(env.smtp.box.messages) == mails
    env.server.clear_failures()
    after = run_acknowledgement(env.ctx, T0 + 3 * DAY, send=True)
    assert after.doc["acknowledged"] == before.doc["acknowledged"] + 1  # Bob's response was not lost
    assert [m["X-SafeChannels-Kind"] for m in env.smtp.box.to(env.addr("bob.brown"))] == ["ack-invite"]


def test_the_compliance_report_by_org_unit_and_role(acks_env):
    env = acks_env()
    fid = run_acknowledgement(env.ctx, T0, send=False).doc["form_id"]
    submit_response(env.domain, fid, env.addr("alice.adams"), T0 + DAY)
    submit_response(env.domain, fid, env.addr("alice.adams"), T0 + DAY + DAY / 2)
    submit_response(env.domain, fid, env.addr("pat.pupil"), T0 + DAY)
    submit_response(env.domain, fid, "someone@gmail.com", T0 + DAY)
    submit_response(env.domain, fid, env.addr("ghost"), T0 + DAY)
    submit_response(env.domain, fid, env.addr("carol.clark"), T0 + DAY, confirm=False)
    run_acknowledgement(env.ctx, T0 + 20 * DAY, send=False)
    doc = report(env.ctx, T0 + 20 * DAY)
    assert doc["totals"] == {"expected": 4, "acknowledged": 1, "outstanding": 3, "overdue": 3, "percent": 25.0}
    groups = {(g["org_unit"], g["role"]): g for g in doc["groups"]}
    assert set(groups) == {("/Staff", "staff"), ("/Staff/Science", "staff"), ("/Governors", "other")}
    staff = groups[("/Staff", "staff")]
    assert (staff["expected"], staff["acknowledged"], staff["percent"]) == (2, 1, 50.0)
    assert [(o["name"], o["days_overdue"]) for o in staff["outstanding"]] == [("Carol Clark", 6)]
    counts = doc["responses"]["counts"]
    assert {k: counts[k] for k in ("counted", "duplicate", "pupil", "external", "unknown", "not_confirmed")} == {
        "counted": 1, "duplicate": 1, "pupil": 1, "external": 1, "unknown": 1, "not_confirmed": 1}
    listed = {r["status"]: r["email"] for r in doc["responses"]["not_counted"]}
    assert listed["external"] == "***@gmail.com"  # personal addresses masked for governors
    assert listed["pupil"] == env.addr("pat.pupil")
    assert doc["form"]["manual_steps"] and doc["form"]["collects_email"] is True

    rows = list(csv.DictReader(io.StringIO(compliance_csv(doc))))
    science = next(r for r in rows if r["org_unit"] == "/Staff/Science")
    assert science["outstanding_names"] == "Bob Brown (6 days overdue)" and science["percent_acknowledged"] == "0.0"
    assert rows[-1]["org_unit"] == "(all)" and rows[-1]["acknowledged"] == "1"


def test_a_new_policy_version_starts_a_new_round_and_keeps_the_history(acks_env):
    env = acks_env()
    old = run_acknowledgement(env.ctx, T0, send=True)
    submit_response(env.domain, old.doc["form_id"], env.addr("alice.adams"), T0 + DAY)
    run_acknowledgement(env.ctx, T0 + DAY, send=True)

    env.ctx.settings.acknowledgement.policy_version = "2026-10"
    new = run_acknowledgement(env.ctx, T0 + 30 * DAY, send=True)
    assert new.doc["policy_version"] == "2026-10" and new.doc["form_id"] != old.doc["form_id"]
    assert new.doc["acknowledged"] == 0 and new.doc["outstanding"] == 4
    assert len(forms_state(env.domain).forms) == 2
    kinds = [(m["X-SafeChannels-Kind"], "2026-10" in m["Subject"]) for m in env.smtp.box.to(env.addr("alice.adams"))]
    assert kinds == [("ack-invite", False), ("ack-invite", True)]  # asked again for the new version

    with env.ctx.store.session() as s:
        rounds = {r.policy_version: r for r in s.scalars(select(AckRound))}
    assert rounds["2025-10"].closed_at == T0 + 30 * DAY and rounds["2026-10"].closed_at is None
    assert rounds["2025-10"].final_summary["acknowledged"] == 1
    history = report(env.ctx, T0 + 30 * DAY)["history"]
    assert [(h["policy_version"], h.get("acknowledged")) for h in history] == [("2025-10", 1), ("2026-10", None)]


def test_a_form_reused_for_a_new_version_counts_only_new_responses(acks_env):
    env = acks_env()
    fid = run_acknowledgement(env.ctx, T0, send=False).doc["form_id"]
    submit_response(env.domain, fid, env.addr("alice.adams"), T0 + DAY)
    run_acknowledgement(env.ctx, T0 + DAY, send=False)
    env.ctx.settings.acknowledgement.policy_version = "2026-10"
    env.ctx.settings.acknowledgement.form_id = fid  # the admin kept the same form
    run_acknowledgement(env.ctx, T0 + 30 * DAY, send=False)  # the new round opens
    submit_response(env.domain, fid, env.addr("bob.brown"), T0 + 31 * DAY)
    result = run_acknowledgement(env.ctx, T0 + 32 * DAY, send=False)
    assert [s["email"] for s in result.doc["staff"] if s["acknowledged_at"]] == [env.addr("bob.brown")]
    assert report(env.ctx, T0 + 32 * DAY)["responses"]["counts"]["before_round"] == 1
