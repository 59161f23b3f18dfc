"""Faults: transient errors are retried to the same roster; a refused API removes nothing and is named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from roster_env import counts, expected, make_context
from sqlalchemy import select

from integration.roster import list_roster, run_sync
from integration.store.models_ops import Run
from sandbox import truth

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def test_twenty_percent_transient_faults_end_with_the_same_roster(school):
    faulty = school("demo", 2, fault_rate=0.2, seed=5)
    result = run_sync(faulty.ctx, now=NOW)
    assert faulty.server.faults.injected > 10
    assert result.status == "ok", result.errors
    assert counts(result) == expected(faulty.domain)
    roles = {r["email"]: r["role"] for r in list_roster(faulty.ctx.store) if r["role"] != "guardian"}
    assert roles == truth(faulty.domain)["roles"]
    assert faulty.sleeps, "retries back off"
    assert faulty.server.problems() == []


def test_classroom_refusing_leaves_the_previous_roster_intact(school):
    env = school("tiny", 1)
    run_sync(env.ctx, now=NOW)
    before = list_roster(env.ctx.store)
    env.server.fail_api("classroom", 403)
    result = run_sync(env.ctx, now=NOW + timedelta(hours=4))
    assert result.status == "partial"
    assert set(result.errors) == {"google.courses", "google.enrolments", "google.guardians"}
    assert all("Classroom" in msg for msg in result.errors.values())
    assert (result.added, result.updated, result.removed) == (0, 0, 0)
    assert list_roster(env.ctx.store) == before
    assert counts(result) == expected(env.domain)
    with env.ctx.store.session() as s:
        run = s.scalars(select(Run).where(Run.job == "sync").order_by(Run.id.desc())).first()
    assert run.status == "partial" and "classroom" in run.error.lower()


def test_a_supply_teacher_known_only_from_classroom_stays_staff_while_classroom_is_down(school):
    env = school("tiny", 1)
    run_sync(env.ctx, now=NOW)
    visitors = [r for r in list_roster(env.ctx.store, "staff") if r["org_unit"] == "/Visitors"]
    assert visitors
    env.server.fail_api("classroom", 503)
    run_sync(env.ctx, now=NOW)
    assert [r for r in list_roster(env.ctx.store, "staff") if r["org_unit"] == "/Visitors"] == visitors


def test_directory_refusing_removes_nobody(school):
    env = school("tiny", 1)
    run_sync(env.ctx, now=NOW)
    before = list_roster(env.ctx.store)
    gone = next(u for u in env.domain.users if u.role_truth == "pupil").primary_email
    env.domain.remove_user(gone)
    env.server.fail_api("directory", 403, "forbidden", "Not Authorized to access this resource/api")
    result = run_sync(env.ctx, now=NOW)
    assert result.status == "partial" and "google.users" in result.errors
    assert "Directory" in result.errors["google.users"]
    assert "it.admin@" in result.errors["google.users"]  # a bare 403 names the delegated admin, not a scope
    people = [r for r in before if r["role"] != "guardian"]
    # Classroom still answered (the pupil's class places and guardian links went); no person was removed
    assert [r for r in list_roster(env.ctx.store) if r["role"] != "guardian"] == [
        {**r, "courses": [c for c in r["courses"] if r["email"] != gone]} for r in people]


def test_a_token_refusal_makes_the_whole_source_partial(school):
    env = school("tiny", 1)
    run_sync(env.ctx, now=NOW)
    env.domain.revoke_scope("classroom.rosters.readonly")
    fresh = make_context(env.config, env.ctx.settings.database.url, [])  # tokens already issued stay valid
    result = run_sync(fresh, now=NOW)
    fresh.store.dispose()
    assert result.status == "partial"
    assert "classroom.rosters.readonly" in result.errors["google.courses"]
    assert result.removed == 0
