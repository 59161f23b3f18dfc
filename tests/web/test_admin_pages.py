"""The IT admin's pages: setup (doctor's checks run on request and kept, the delegation text, the last
runs with errors), the roster with each role's source and conflicts, register upload checked row by
row before it is applied, the access log, and the configuration without secrets. Other roles: 403."""

from __future__ import annotations

import io
import re

from sqlalchemy import select
from test_roles_and_triage import sign_in
from web_env import ADMIN, DOMAIN, DSL, VIEWER, add_finding, add_person, add_run

from integration.store.models_audit import ChannelException
from integration.store.models_ops import Run
from integration.store.models_roster import Course, Enrolment

PAGES = ("/admin/setup", "/admin/roster", "/admin/registers", "/admin/access-log", "/admin/config")


def test_setup_shows_failed_runs_and_keeps_the_doctors_checks(client, store):
    add_run(store, "roster_sync", summary={"staff": 42})
    add_run(store, "alerts", "failed", error="SMTP relay refused the connection", minutes_ago=1)
    token = sign_in(client, ADMIN)
    page = client.get("/admin/setup").get_data(as_text=True)
    assert "SMTP relay refused the connection" in page and "Roster sync" in page
    assert "Manage Domain Wide Delegation" in page
    r = client.post("/admin/setup/doctor", data={"csrf_token": token}, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "Checks run:" in page and 'id="doctor-checks"' in page and "Fix:" in page  # no key file here
    with store.session() as s:
        run = s.scalars(select(Run).where(Run.job == "doctor")).one()
        assert run.status == "failed" and run.summary["by"] == ADMIN and run.summary["checks"]


def test_the_roster_says_where_each_role_came_from_and_flags_conflicts(client, store):
    add_person(store, f"t.one@{DOMAIN}", "staff", "Tess One", "/Staff")
    odd = add_person(store, f"p.two@{DOMAIN}", "staff", "Pat Two", "/Pupils/Year 11")
    with store.session() as s:
        c = Course(platform="classroom", course_id="c1", name="11 Maths")
        s.add(c)
        s.flush()
        s.add_all([Enrolment(course_pk=c.id, person_id=odd, role="teacher"),
                   Enrolment(course_pk=c.id, person_id=odd, role="student")])
    sign_in(client, ADMIN)
    page = client.get("/admin/roster").get_data(as_text=True)
    assert "org unit /Staff (a staff OU)" in page and "teacher of 1 class" in page
    assert "Check: both staff signals" in page and "a member of staff enrolled as a student" in page
    only = client.get("/admin/roster?conflicts=1").get_data(as_text=True)
    assert "Pat Two" in only and "Tess One" not in only


def test_a_register_upload_is_checked_row_by_row_then_applied(client, store, ctx, tmp_path):
    add_person(store, f"t.one@{DOMAIN}", "staff", "Tess One", "/Staff")
    target = tmp_path / "registers" / "exceptions.csv"
    ctx.settings.channels.exceptions_register = str(target)
    token = sign_in(client, ADMIN)
    body = ("staff,counterpart,reason,approved_by,expires\n"
            f"t.one@{DOMAIN},aunt.one@gmail.com,aunt of a pupil,Head,2030-01-01\n"
            f"nobody@{DOMAIN},x@gmail.com,?,Head,2030-01-01\n"
            f"t.one@{DOMAIN},y@gmail.com,cousin,Head,next year\n")
    r = client.post("/admin/registers/check", data={"csrf_token": token, "register": "exceptions",
                                                    "file": (io.BytesIO(body.encode()), "exceptions.csv")},
                    content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert "<strong>1</strong> row valid" in page and "<strong>2</strong> with problems" in page
    assert "line 3: staff &#39;nobody@northfield.sch.uk&#39; is not a staff member" in page
    assert "line 4: expires &#39;next year&#39; is not an ISO date" in page
    assert not target.exists()
    with store.session() as s:
        assert s.scalars(select(ChannelException)).first() is None  # checked, not applied
    form = dict(re.findall(r'name="(register|payload|digest)" value="([^"]*)"', page))
    tampered = client.post("/admin/registers/apply", data={**form, "csrf_token": token, "digest": "0" * 64})
    assert tampered.status_code == 400
    done = client.post("/admin/registers/apply", data={**form, "csrf_token": token}, follow_redirects=True)
    assert "1 rows in force, 2 rows skipped" in done.get_data(as_text=True)
    assert target.read_text(encoding="utf-8") == body
    with store.session() as s:
        assert [e.counterpart for e in s.scalars(select(ChannelException))] == ["aunt.one@gmail.com"]
    wrong = client.post("/admin/registers/check", data={"csrf_token": token, "register": "personal_addresses",
                                                        "file": (io.BytesIO(b"email,who\n"), "p.csv")},
                        content_type="multipart/form-data", follow_redirects=True)
    assert "was not accepted" in wrong.get_data(as_text=True) and "header line" in wrong.get_data(as_text=True)


def test_the_access_log_lists_views_and_triage_but_not_the_audits_own_entries(client, store):
    fid = add_finding(store)
    token = sign_in(client, DSL)
    client.get(f"/findings/{fid}")
    client.post(f"/findings/{fid}/triage", data={"to_status": "reviewing", "note": "Looking", "csrf_token": token})
    client.get(f"/findings/{fid}/evidence.txt")
    client.post("/auth/logout", data={"csrf_token": token})
    sign_in(client, ADMIN)
    page = client.get("/admin/access-log").get_data(as_text=True)
    log = page.split('id="access-log"')[1]
    assert log.count(DSL.split("@")[0]) == 3 and "viewed" in log and "exported" in log and "New → Reviewing" in log
    assert "amy.personal@gmail.com" not in page and "j.smith@" not in page  # no people's addresses
    assert client.get("/admin/access-log?actor=nobody").get_data(as_text=True).count("<tr>") == 1  # header only


def test_views_of_a_persons_page_are_on_the_access_log_too(client, store, ctx):
    fid = add_finding(store)
    add_person(store, f"j.smith@{DOMAIN}", "staff", "Jo Smith", "/Staff")
    sign_in(client, DSL)
    assert client.get(f"/people/j.smith@{DOMAIN}").status_code == 200
    assert client.get(f"/api/people/AMY.PUPIL@{DOMAIN}").status_code == 200  # a pupil named only by a finding
    assert client.get(f"/people/nobody@{DOMAIN}").status_code == 404  # nothing shown: nothing to log
    client.get(f"/findings/{fid}")
    sign_in(client, ADMIN)
    log = client.get("/admin/access-log").get_data(as_text=True).split('id="access-log"')[1]
    assert log.count("viewed a person's page") == 2 and "nobody" not in log
    assert "j.smith<wbr>@" in log and "amy.pupil<wbr>@" in log
    entries = client.get("/api/admin/access-log").json
    assert [(e["action"], e["person"]) for e in entries if e["person"]] == [
        ("viewed_person", f"amy.pupil@{DOMAIN}"), ("viewed_person", f"j.smith@{DOMAIN}")]
    one = client.get(f"/admin/access-log?finding={fid}").get_data(as_text=True)
    assert "person's page" not in one.split('id="access-log"')[1]  # a finding's own log only
    from datetime import UTC, datetime, timedelta

    from integration.jobs import purge_person_views

    with store.session() as s:  # kept as long as a closed finding, then purged
        kept = ctx.settings.privacy.closed_findings_retention_days
        assert purge_person_views(s, ctx.settings, datetime.now(UTC) + timedelta(days=kept - 1)) == 0
        assert purge_person_views(s, ctx.settings, datetime.now(UTC) + timedelta(days=kept + 1)) == 2


def test_the_configuration_never_shows_secrets(client, ctx):
    ctx.settings.alerts.smtp_url = "smtp+starttls://relay-user:S3cretPass@smtp.example.org:587"
    sign_in(client, ADMIN)
    page = client.get("/admin/config").get_data(as_text=True)
    assert "test-secret" not in page and "S3cretPass" not in page and "relay-user" not in page
    assert "(set — not shown)" in page and "smtp.example.org:587" in page and DOMAIN in page


def test_only_the_admin_role_opens_admin_pages(client, store):
    for who in (DSL, VIEWER):
        token = sign_in(client, who)
        for url in PAGES:
            assert client.get(url).status_code == 403, (who, url)
        assert client.post("/admin/setup/doctor", data={"csrf_token": token}).status_code == 403
        client.post("/auth/logout", data={"csrf_token": token})
