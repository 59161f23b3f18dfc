"""The Moodle roster source with `responses`: bodies are checked even on HTTP 200, roles map,
and a failure leaves its collections incomplete."""

from __future__ import annotations

import urllib.parse

import pytest
import responses

from connectors.moodle.client import MoodleClient
from connectors.moodle.roster import MoodleRosterSource
from integration.errors import SourceError, SourceRefused

URL = "https://moodle.northfield.test"
ENDPOINT = URL + "/webservice/rest/server.php"
COURSES = [{"id": 1, "format": "site", "fullname": "Northfield"},
           {"id": 7, "fullname": "Year 9 Music", "shortname": "9MU", "visible": 1},
           {"id": 8, "fullname": "Old Drama", "shortname": "DR", "visible": 0}]
PEOPLE = {
    7: [{"id": 3, "fullname": "Ann Teacher", "email": "A.Teacher@Northfield.test",
         "roles": [{"roleid": 3, "shortname": "editingteacher"}]},
        {"id": 4, "fullname": "Pat Pupil", "email": "ppupil@northfield.test", "roles": [{"shortname": "student"}]},
        {"id": 5, "fullname": "No Mail", "email": "", "roles": [{"shortname": "student"}]},
        {"id": 6, "fullname": "Guest", "email": "guest@northfield.test", "roles": [{"shortname": "guest"}]}],
    8: [{"id": 4, "fullname": "Pat Pupil", "email": "ppupil@northfield.test", "roles": [{"shortname": "student"}]}],
}


def moodle_site(failing: dict[str, dict] | None = None):
    """A responses callback acting as Moodle's REST server (errors as HTTP 200 bodies)."""
    import json

    def callback(request):
        form = dict(urllib.parse.parse_qsl(request.body))
        fn = form["wsfunction"]
        if form.get("wstoken") != "tok":
            return 200, {}, json.dumps({"exception": "moodle_exception", "errorcode": "invalidtoken",
                                        "message": "Invalid token - token not found"})
        if failing and fn in failing:
            return 200, {}, json.dumps(failing[fn])
        if fn == "core_course_get_courses":
            return 200, {}, json.dumps(COURSES)
        if fn == "core_enrol_get_enrolled_users":
            return 200, {}, json.dumps(PEOPLE[int(form["courseid"])])
        if fn == "core_webservice_get_site_info":
            return 200, {}, json.dumps({"sitename": "Northfield Moodle", "username": "wsuser",
                                        "functions": [{"name": n} for n in ("core_webservice_get_site_info",
                                                      "core_course_get_courses", "core_enrol_get_enrolled_users")]})
        return 200, {}, json.dumps({"exception": "dml_missing_record_exception", "errorcode": "invalidrecord",
                                    "message": "Can't find data record in database table external_functions."})

    return callback


def source(token: str = "tok") -> MoodleRosterSource:
    return MoodleRosterSource(MoodleClient(URL, token), URL)


@responses.activate
def test_courses_and_roles_are_read_and_the_site_page_skipped():
    responses.add_callback(responses.POST, ENDPOINT, callback=moodle_site())
    src = source()
    snap = src.fetch_roster()
    assert snap.complete == {"courses", "enrolments"} and snap.errors == {}
    assert [(c.course_id, c.name, c.state, c.platform) for c in snap.courses] == [
        ("7", "Year 9 Music", "ACTIVE", "moodle"), ("8", "Old Drama", "ARCHIVED", "moodle")]
    assert sorted((e.course_id, e.email, e.role) for e in snap.enrolments) == [
        ("7", "a.teacher@northfield.test", "teacher"), ("7", "ppupil@northfield.test", "student"),
        ("8", "ppupil@northfield.test", "student")]
    assert src.api_calls == len(responses.calls) == 3


@responses.activate
def test_an_error_body_on_http_200_is_an_error():
    responses.add_callback(responses.POST, ENDPOINT, callback=moodle_site())
    with pytest.raises(SourceRefused) as err:
        source("wrong").courses()
    assert err.value.reason == "invalidtoken" and "Manage tokens" in err.value.fix
    with pytest.raises(SourceError, match="invalidrecord"):
        source().client.call("core_no_such_function")


@responses.activate
def test_a_failing_course_leaves_enrolments_incomplete():
    failing = {"core_enrol_get_enrolled_users": {"exception": "required_capability_exception",
                                                 "errorcode": "nopermissions", "message": "no capability"}}
    responses.add_callback(responses.POST, ENDPOINT, callback=moodle_site(failing))
    snap = source().fetch_roster()
    assert snap.complete == {"courses"} and "nopermissions" not in snap.errors["enrolments"]
    assert "capability" in snap.errors["enrolments"]


@responses.activate
def test_not_json_and_server_errors_are_classified():
    responses.add(responses.POST, ENDPOINT, body="<html>login</html>", status=200)
    with pytest.raises(SourceError, match="not JSON"):
        source().courses()


@responses.activate
def test_check_reports_the_site_and_missing_functions():
    responses.add_callback(responses.POST, ENDPOINT, callback=moodle_site())
    [check] = source().check()
    assert check.ok and "Northfield Moodle" in check.detail
    [bad] = source("wrong").check()
    assert not bad.ok and bad.fix
