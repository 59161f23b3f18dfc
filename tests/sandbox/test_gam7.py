"""GAM7 (PyPI ``gam7``), unchanged, against a generated school: every command an admin would use to
check the audit's inputs completes, says exactly what the sandbox holds, and every request it sends
is one the discovery documents allow (``server.problems() == []``). How GAM7 is pointed at the
sandbox: tests/sandbox/gam7_env.py."""

from __future__ import annotations

from collections import Counter

import pytest
from gam7_env import configure, gam_executable
from googleapiclient.discovery import build

from sandbox.activity import activity
from sandbox.drive import shared_with
from sandbox.google_front import GoogleFront
from sandbox.mail_settings import filters_of
from sandbox.school import generate
from sandbox.server import SandboxServer

pytestmark = pytest.mark.skipif(gam_executable() is None, reason="gam7 is not installed (python3 -m venv .venv-gam7 && .venv-gam7/bin/pip install gam7)")


@pytest.fixture(scope="module", params=["classic", "academy"])
def gam(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(f"gam-{request.param}")
    with SandboxServer(generate("tiny", 3, request.param)) as server, GoogleFront(server, tmp / "front") as front:
        yield configure(server, front, tmp / "gam", gam_executable())
        assert server.problems() == []


def _live(dom, *, unsuspended: bool = False) -> list:
    return [u for u in dom.live_users() if not (unsuspended and u.suspended)]


def test_print_users_courses_participants_and_guardians(gam):
    dom = gam.server.domain
    assert {r["primaryEmail"] for r in gam.csv("print", "users")} == {u.primary_email for u in _live(dom)}
    courses = gam.csv("print", "courses")
    assert {r["id"]: r["courseState"] for r in courses} == {c.id: c.course_state for c in dom.courses}
    by_id = dom.user_by_id()
    expected = Counter((c.id, role, by_id[u].primary_email) for c in dom.courses
                       for role, ids in (("TEACHER", c.teacher_ids), ("STUDENT", c.student_ids)) for u in ids)
    got = Counter((r["courseId"], r["userRole"], r["profile.emailAddress"]) for r in gam.csv("print", "course-participants"))
    assert got == expected
    guardians = {(r["studentId"], r["guardianProfile.emailAddress"]) for r in gam.csv("print", "guardians")}
    assert guardians == {(g.student_id, g.email) for g in dom.guardians}


def test_all_users_print_filelist_is_my_drive_and_with_any_owner_shared_with_me_too(gam):
    dom, act = gam.server.domain, activity(gam.server.domain)
    people = _live(dom, unsuspended=True)
    owned = gam.csv("all", "users", "print", "filelist", "id")  # GAM7's default: q="'me' in owners"
    assert Counter(r["Owner"] for r in owned) == Counter(
        {u.primary_email: n for u in people if (n := len(act.files(u.primary_email)))})
    anyone = gam.csv("all", "users", "print", "filelist", "id", "showownedby", "any")  # corpora=user, no owner
    assert Counter(r["Owner"] for r in anyone) == Counter(
        {u.primary_email: n for u in people
         if (n := len(act.files(u.primary_email)) + len(shared_with(act, u.primary_email)))})
    assert len({(r["Owner"], r["id"]) for r in anyone}) == len(anyone)


def test_print_shareddrives_lists_every_shared_drive(gam):
    act = activity(gam.server.domain)
    assert {r["id"] for r in gam.csv("print", "shareddrives")} == {d.id for d in act.shared_drives}


def test_forwards_filters_and_tokens_of_every_user(gam):
    dom, act = gam.server.domain, activity(gam.server.domain)
    people = _live(dom, unsuspended=True)
    forwards = {r["User"]: r for r in gam.csv("all", "users", "print", "forwards")}
    enabled = {u.primary_email for u in people if (f := act.forwarding.get(u.primary_email)) and f.enabled}
    assert {u for u, r in forwards.items() if r["forwardEnabled"] == "True"} == enabled
    filters = Counter(r["User"] for r in gam.csv("all", "users", "print", "filters"))
    assert filters == Counter({u.primary_email: n for u in people if (n := len(filters_of(dom, u.primary_email)))})
    tokens = Counter((r["user"], r["clientId"]) for r in gam.csv("all", "users", "print", "tokens"))
    live = {u.primary_email for u in people}
    assert tokens == Counter((t.user_email, t.client_id) for t in dom.tokens if t.user_email in live)


@pytest.mark.parametrize("application", ["drive", "gmail", "chat", "meet", "token"])
def test_report_reads_every_event_the_reports_api_holds(gam, application):
    """GAM7's `report <app>` against the same query read directly with Google's client, page by page."""
    server = gam.server
    server.reset_log()
    rows = gam.csv("report", application)
    asked = [e for e in server.requests("reports.activities.list") if e.path.endswith("/" + application)]
    assert asked, "GAM7 read the Reports API"
    query = {k: v for k, v in asked[0].query.items() if k not in ("pageToken", "alt", "fields", "prettyPrint")}
    reports = build("admin", "reports_v1", credentials=_admin_credentials(gam), client_options={"api_endpoint": server.url})
    items, token = 0, None
    while True:
        page = reports.activities().list(**{**query, "userKey": "all", "applicationName": application},
                                         pageToken=token).execute()
        items += sum(len(a.get("events", [])) for a in page.get("items", []))
        token = page.get("nextPageToken")
        if not token:
            break
    assert len(rows) == items


def _admin_credentials(gam):
    import google.oauth2.service_account as sa

    from sandbox.token import service_account

    key = service_account(gam.server.domain).key_json(gam.server.token_uri)
    return sa.Credentials.from_service_account_info(
        key, scopes=["https://www.googleapis.com/auth/admin.reports.audit.readonly"]).with_subject(
        gam.server.domain.admin_email)
