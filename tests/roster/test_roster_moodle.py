"""Moodle as a second learning platform in the sync: its teachers are staff, its courses are counted,
and a Moodle outage removes nothing (Google's collections still apply)."""

from __future__ import annotations

import json
import urllib.parse

import responses
from roster_env import expected
from sqlalchemy import func, select

from integration.roster import list_roster, run_sync
from integration.store.models_roster import Guardian

URL = "https://moodle.school.test"


def with_moodle(env, tmp_path, people: list[dict], broken: bool = False):
    token = tmp_path / "moodle.token"
    token.write_text("tok\n")
    s = env.ctx.settings
    s.channels.learning_platforms = ["classroom", "moodle"]
    s.moodle.url, s.moodle.token_file = URL, str(token)

    def callback(request):
        fn = dict(urllib.parse.parse_qsl(request.body))["wsfunction"]
        if broken:
            return 200, {}, json.dumps({"exception": "moodle_exception", "errorcode": "invalidtoken", "message": "x"})
        if fn == "core_course_get_courses":
            return 200, {}, json.dumps([{"id": 1, "format": "site"}, {"id": 12, "fullname": "Moodle Music"}])
        return 200, {}, json.dumps(people)

    responses.add_callback(responses.POST, URL + "/webservice/rest/server.php", callback=callback)


@responses.activate
def test_moodle_teachers_are_staff_and_moodle_courses_count(school, tmp_path):
    env = school("tiny", 1)
    governor = next(u for u in env.domain.users if u.org_unit_path == "/Other" and u.role_truth == "other")
    pupil = next(u for u in env.domain.users if u.role_truth == "pupil")
    with_moodle(env, tmp_path, [
        {"email": governor.primary_email.upper(), "fullname": "G", "roles": [{"shortname": "editingteacher"}]},
        {"email": pupil.primary_email, "fullname": "P", "roles": [{"shortname": "student"}]}])
    result = run_sync(env.ctx)
    want = expected(env.domain)
    assert result.status == "ok", result.errors
    assert (result.staff, result.courses) == (want["staff"] + 1, want["courses"] + 1)
    row = next(r for r in list_roster(env.ctx.store) if r["email"] == governor.primary_email)
    assert row["role"] == "staff" and row["courses"] == ["Moodle Music"]
    again = run_sync(env.ctx)
    assert (again.added, again.updated, again.removed) == (0, 0, 0)


@responses.activate
def test_a_moodle_outage_is_partial_and_removes_nothing(school, tmp_path):
    env = school("tiny", 1)
    run_sync(env.ctx)
    before = list_roster(env.ctx.store)
    with_moodle(env, tmp_path, [], broken=True)
    result = run_sync(env.ctx)
    assert result.status == "partial" and set(result.errors) == {"moodle.courses", "moodle.enrolments"}
    assert "token" in result.errors["moodle.courses"]
    assert list_roster(env.ctx.store) == before


@responses.activate
def test_a_platform_taken_out_of_the_config_retires_its_courses_not_its_people(school, tmp_path):
    env = school("tiny", 1)
    governor = next(u for u in env.domain.users if u.org_unit_path == "/Other" and u.role_truth == "other")
    with_moodle(env, tmp_path, [
        {"email": governor.primary_email, "fullname": "G", "roles": [{"shortname": "editingteacher"}]}])
    run_sync(env.ctx)
    env.ctx.settings.channels.learning_platforms = ["classroom"]
    result = run_sync(env.ctx)
    want = expected(env.domain)
    assert result.status == "ok", result.errors
    assert (result.staff, result.courses) == (want["staff"], want["courses"]) and result.removed >= 1
    row = next(r for r in list_roster(env.ctx.store) if r["email"] == governor.primary_email)
    assert row["role"] == "other" and row["courses"] == []  # no longer a Moodle teacher, still on the roster
    again = run_sync(env.ctx)
    assert (again.added, again.updated, again.removed) == (0, 0, 0)


def test_taking_classroom_out_retires_its_courses_and_guardian_links(school):
    env = school("tiny", 1)
    first = run_sync(env.ctx)
    people = {r["email"] for r in list_roster(env.ctx.store) if r["role"] != "guardian"}
    env.ctx.settings.channels.learning_platforms = []
    result = run_sync(env.ctx)
    assert result.status == "ok", result.errors
    assert (result.courses, result.guardians, result.pupils) == (0, 0, first.pupils)
    assert result.removed >= first.courses + first.guardians  # courses, then guardians left with no pupil link
    with env.ctx.store.session() as s:
        assert s.scalar(select(func.count()).select_from(Guardian)) == 0  # no purpose left: addresses deleted
    assert people <= {r["email"] for r in list_roster(env.ctx.store)}
