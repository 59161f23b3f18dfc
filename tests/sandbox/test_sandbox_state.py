"""The sandbox is stateful: mutations show up in the APIs, the log records every call, and
latency is applied per request in the handler thread (so concurrency is real)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import requests

from sandbox.model import SCOPE
from sandbox.server import SandboxServer


def _emails(directory, **kw):
    resp = directory.users().list(customer="my_customer", maxResults=500, **kw).execute()
    return {u["primaryEmail"]: u for u in resp.get("users", [])}


def test_mutations_are_visible_to_the_next_sync(server, directory, classroom):
    d = server.domain
    pupil = next(u for u in d.users if u.role_truth == "pupil")
    new = d.add_user(f"27newp@{d.domain}", "Nia", "New", "/Pupils/Year 7", role_truth="pupil")
    d.suspend_user(pupil.primary_email)
    d.move_user(pupil.primary_email, "/Pupils/Leavers")
    d.add_guardian(new.primary_email, "nia.parent@gmail.com", "Rhian", "New")
    users = _emails(directory)
    assert users[new.primary_email]["orgUnitPath"] == "/Pupils/Year 7"
    assert users[pupil.primary_email]["suspended"] and users[pupil.primary_email]["orgUnitPath"] == "/Pupils/Leavers"
    guardians = classroom.userProfiles().guardians().list(studentId=new.id).execute()["guardians"]
    assert [g["invitedEmailAddress"] for g in guardians] == ["nia.parent@gmail.com"]
    d.remove_user(new.primary_email)
    assert new.primary_email not in _emails(directory)
    assert new.primary_email in _emails(directory, showDeleted=True)


def test_the_log_records_each_call(server, directory):
    server.reset_log()
    directory.users().list(customer="my_customer", maxResults=3, query="isSuspended=false").execute()
    (entry,) = server.requests("directory.users.list")
    assert entry.method == "GET" and entry.status == 200 and entry.subject == server.domain.admin_email
    assert entry.query.get("maxResults") == "3" and entry.query.getlist("alt") == ["json"]
    assert entry.api == "directory" and not entry.batch and entry.problems == []


def test_latency_is_per_request_and_concurrent(tiny_school):
    with SandboxServer(tiny_school, latency_ms=200) as srv:
        token = srv.access_token(tiny_school.admin_email, [SCOPE + "admin.directory.user.readonly"])

        def call(_: int) -> int:
            return requests.get(srv.url + "/admin/directory/v1/users", params={"customer": "my_customer"},
                                headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code

        start = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(call, range(8))) == {200}
        elapsed = time.perf_counter() - start
    assert 0.2 <= elapsed < 1.0


def test_listings_see_mutations_made_between_their_pages(server, directory, classroom):
    d = server.domain
    first = directory.users().list(customer="my_customer", maxResults=2, query="isSuspended=true").execute()
    assert first["users"]  # the sandbox now holds this query's sorted selection for its next pages
    staff = next(u for u in d.users if u.role_truth == "staff" and not u.suspended)
    d.suspend_user(staff.primary_email)
    assert staff.primary_email in _emails(directory, query="isSuspended=true")
    pupil = next(u for u in d.users if u.role_truth == "pupil" and not u.deleted)
    pupil.archived = True  # an in-place edit: `touch` tells the sandbox
    d.touch()
    assert pupil.primary_email in _emails(directory, query="isArchived=true")
    course = d.courses[0]
    copy = replace(course, id="9" * 12, name="Appended Directly")
    d.courses.append(copy)
    assert classroom.courses().get(id=copy.id).execute()["name"] == "Appended Directly"


def test_guardian_pages_cover_every_guardian_once(server, classroom):
    d = server.domain
    live = {u.id for u in d.users if not u.deleted}
    expected = sorted((g.student_id, g.email) for g in d.guardians if g.student_id in live)
    seen, req = [], classroom.userProfiles().guardians().list(studentId="-", pageSize=3)
    while req is not None:
        resp = req.execute()
        seen += [(g["studentId"], g["invitedEmailAddress"]) for g in resp.get("guardians", [])]
        assert len(resp.get("guardians", [])) <= 3
        req = classroom.userProfiles().guardians().list_next(req, resp)
    assert sorted(seen) == expected and len(seen) > 3
