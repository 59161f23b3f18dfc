"""Conformance: routing and checks come from the discovery documents, and every response the
sandbox gives validates against them."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest
import requests
from googleapiclient.errors import HttpError

from sandbox import discovery
from sandbox.model import SCOPE
from sandbox.server import SandboxServer


def test_match_uses_each_apis_paths():
    assert discovery.match("GET", "/admin/directory/v1/users/a@b.org/tokens") == \
        ("directory", "directory.tokens.list", {"userKey": "a@b.org"})
    assert discovery.match("GET", "/drive/v3/files")[1] == "drive.files.list"
    assert discovery.match("POST", "/admin/reports_v1/channels/stop")[1] == "reports.channels.stop"
    assert discovery.match("GET", "/v1/userProfiles/-/guardians")[2] == {"studentId": "-"}
    assert discovery.match("GET", "/admin/directory/v1/nonsense/x/y") is None


def test_validate_request_catches_what_google_would_reject():
    problems = discovery.validate_request("GET", "/admin/directory/v1/users",
                                          {"customer": ["my_customer"], "maxResult": ["10"], "maxResults": ["ten"],
                                           "fields": ["users(id)"]})
    assert any("'maxResult'" in p for p in problems) and any("not an integer" in p for p in problems)
    assert any("courseStates" in p for p in discovery.validate_request(
        "GET", "/v1/courses", {"courseStates": ["OPEN"]}))
    assert any("not repeated" in p for p in discovery.validate_request(
        "GET", "/admin/directory/v1/users", {"customer": ["a", "b"]}))
    assert discovery.validate_request("GET", "/v1/courses", {"courseStates": ["ACTIVE", "ARCHIVED"]}) == []


def test_validate_response_flags_unknown_keys():
    assert discovery.validate_response("classroom.courses.list", {"courses": [{"id": "1", "colour": "red"}]}) == \
        ["ListCoursesResponse.courses[0]: unknown key 'colour'"]


def test_a_bad_query_parameter_is_recorded_and_refused_in_strict_mode(tiny_school):
    for strict, status in ((False, 200), (True, 400)):
        with SandboxServer(tiny_school, strict=strict) as srv:
            token = srv.access_token(tiny_school.admin_email, [SCOPE + "admin.directory.user.readonly"])
            resp = requests.get(srv.url + "/admin/directory/v1/users", params={"customer": "my_customer",
                                "maxResult": "5"}, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            assert resp.status_code == status
            assert srv.problems() == [
                "GET /admin/directory/v1/users: directory.users.list: unknown query parameter 'maxResult'"]


def test_unknown_paths_are_google_style_404s(server):
    resp = requests.get(server.url + "/admin/directory/v1/nonsense", timeout=10)
    assert resp.status_code == 404 and resp.json()["error"]["errors"][0]["reason"] == "notFound"


def test_every_endpoint_answers_in_schema(server, directory, classroom):
    d = server.domain
    pupil = next(u for u in d.users if u.role_truth == "pupil")
    course = next(c for c in d.courses if c.course_state == "ACTIVE")
    group = d.groups[0]
    directory.users().list(customer="my_customer", projection="full", orderBy="email").execute()
    directory.users().list(domain=d.domain, query="isSuspended=true").execute()
    directory.users().get(userKey=pupil.primary_email).execute()
    directory.groups().list(customer="my_customer").execute()
    directory.groups().list(userKey=pupil.primary_email).execute()
    directory.members().list(groupKey=group.email).execute()
    directory.members().list(groupKey="pupils@" + d.domain, includeDerivedMembership=True).execute()
    directory.orgunits().list(customerId="my_customer", type="allIncludingParent", orgUnitPath="/Pupils").execute()
    directory.orgunits().list(customerId="my_customer").execute()
    directory.tokens().list(userKey=next(t.user_email for t in d.tokens)).execute()
    channel = directory.users().watch(customer="my_customer", event="update", body={
        "id": "chan-1", "type": "web_hook", "address": "https://hooks.example/directory", "token": "t0k"}).execute()
    assert d.channels["chan-1"]["api"] == "directory"
    directory.channels().stop(body={"id": "chan-1", "resourceId": channel["resourceId"]}).execute()
    assert "chan-1" not in d.channels
    classroom.courses().list(courseStates=["ACTIVE", "ARCHIVED"], studentId=pupil.primary_email).execute()
    classroom.courses().list(teacherId=course.owner_id, pageSize=2).execute()
    classroom.courses().get(id=course.id).execute()
    classroom.courses().teachers().list(courseId=course.id).execute()
    classroom.courses().students().list(courseId=course.id, pageSize=3).execute()
    classroom.userProfiles().guardians().list(studentId="-").execute()
    classroom.userProfiles().guardians().list(studentId=pupil.id).execute()
    classroom.userProfiles().guardianInvitations().list(studentId="-", states=["PENDING"]).execute()
    reg = classroom.registrations().create(body={"feed": {"feedType": "DOMAIN_ROSTER_CHANGES"},
                                                 "cloudPubsubTopic": {"topicName": "projects/p/topics/t"}}).execute()
    classroom.registrations().delete(registrationId=reg["registrationId"]).execute()
    assert all(e.status == 200 or e.method_id == "admin.channels.stop" for e in server.log)
    assert server.problems() == []


def test_non_admins_only_see_their_own_classes(server, credentials):
    from googleapiclient.discovery import build

    teacher = server.domain.user_by_id()[server.domain.courses[0].owner_id]
    svc = build("classroom", "v1", credentials=credentials(subject=teacher.primary_email),
                client_options={"api_endpoint": server.url})
    courses = svc.courses().list().execute()["courses"]
    assert courses and all(teacher.id in server.domain.find_course(c["id"]).teacher_ids for c in courses)
    with pytest.raises(HttpError) as err:
        svc.userProfiles().guardians().list(studentId="-").execute()
    assert err.value.status_code == 403


def test_the_route_index_answers_as_trying_every_method_in_order():
    def linear(http_method, path):
        for m in discovery.methods():
            hit = m.http_method == http_method and m.pattern.match(path)
            if hit:
                return m.api, m.key, {n: unquote(hit.group(f"p{i}")) for i, n in enumerate(m.param_names)}
        return None

    paths = set()
    for m in discovery.methods():
        for value in ("me", "a%40b.org", "-", "x/y", "users"):
            path = re.sub(r"\{\+?[^}]+\}", value, m.template)
            paths |= {path, path + "/extra", path.rstrip("/") + "/", path[1:]}
    for path in paths:
        for http_method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            assert discovery.match(http_method, path) == linear(http_method, path), (http_method, path)
