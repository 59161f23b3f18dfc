"""Roles, CSRF and triage: the DSL sees counterparts and triages (every view and change logged with
who and when); the IT admin sees service status but no individual findings; a governor (viewer)
sees aggregate compliance only. Every state-changing request needs the session's CSRF token."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from web_env import ADMIN, DSL, VIEWER, add_finding, add_run, worker_beats

from integration.store.models_audit import Finding, FindingEvent

COUNTERPART = "amy.personal@gmail.com"


def sign_in(client, email: str) -> str:
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/auth/dev", data={"email": email, "csrf_token": token}).status_code == 302
    return csrf(client)


def csrf(client) -> str:
    return client.get("/api/me").json["csrf_token"]


def events(store, finding_id: int) -> list[FindingEvent]:
    with store.session() as s:
        return list(s.scalars(select(FindingEvent).where(FindingEvent.finding_id == finding_id)
                              .order_by(FindingEvent.id)))


def status_of(store, finding_id: int) -> str:
    with store.session() as s:
        return s.get(Finding, finding_id).status


def test_signed_out_visitors_are_sent_to_sign_in_and_the_api_says_401(client, store):
    fid = add_finding(store)
    assert client.get("/").headers["Location"].endswith("/auth/login")
    assert client.get(f"/findings/{fid}").status_code == 302
    r = client.get("/api/findings")
    assert r.status_code == 401 and r.json == {"error": "Unauthorized"}


def test_a_viewer_sees_aggregates_only(client, store):
    fid = add_finding(store)
    add_run(store, "audit", summary={"findings_new": 2})
    token = sign_in(client, VIEWER)
    page = client.get("/").get_data(as_text=True)
    assert "drive.shared_with_pupil_personal" in page and COUNTERPART not in page
    assert "Jobs: last run" not in page and "j.smith@" not in page
    assert client.get("/findings").status_code == 403
    assert client.get(f"/findings/{fid}").status_code == 403
    assert client.get(f"/api/findings/{fid}").status_code == 403
    assert client.get("/api/status").status_code == 403
    assert client.get("/api/summary").json["findings_by_rule"][0]["open"] == 1
    r = client.post(f"/findings/{fid}/triage", data={"to_status": "reviewing", "csrf_token": token})
    assert r.status_code == 403 and status_of(store, fid) == "new"
    assert [e.action for e in events(store, fid)] == []


def test_the_it_admin_sees_status_and_configuration_but_no_findings(client, store):
    fid = add_finding(store)
    add_run(store, "roster_sync", summary={"staff": 42, "api_calls": 17})
    worker_beats(store)
    sign_in(client, ADMIN)
    page = client.get("/").get_data(as_text=True)
    assert "Jobs: last run" in page and "Roster sync" in page and "staff: 42" in page
    assert "Push notifications" in page and "Configuration" in page
    assert COUNTERPART not in page
    assert client.get(f"/findings/{fid}").status_code == 403
    status = client.get("/api/status").json
    assert status["runs"][0]["job"] == "roster_sync" and status["ready"] is True
    assert {p["source"] for p in status["push"]} >= {"reports.gmail", "classroom", "drive.changes"}


def test_the_dsl_sees_everything_and_each_view_is_logged(client, store):
    fid = add_finding(store)
    sign_in(client, DSL)
    listing = client.get("/findings?status=open").get_data(as_text=True)
    assert f"#{fid}" in listing and COUNTERPART not in listing  # counterparts only on the (logged) page
    page = client.get(f"/findings/{fid}").get_data(as_text=True)
    for text in (COUNTERPART, "j.smith@northfield.sch.uk", "Year 9 revision notes", "002 §42",
                 'href="https://drive.google.com/file/d/1AbC/view"'):
        assert text in page
    assert client.get(f"/api/findings/{fid}").json["counterpart"] == COUNTERPART
    assert [(e.action, e.actor) for e in events(store, fid)] == [("viewed", DSL), ("viewed", DSL)]


def test_the_findings_list_api_shows_no_guardian_or_counterpart_address(client, store):
    fid = add_finding(store, guardian="mrs.parent@yahoo.co.uk", rule="mail.staff_to_guardian_personal")
    sign_in(client, DSL)
    listing = client.get("/api/findings")
    [entry] = listing.json["findings"]
    assert entry["id"] == fid and entry["guardian"] is None and entry["counterpart"] is None
    assert "yahoo.co.uk" not in listing.get_data(as_text=True) and COUNTERPART not in listing.get_data(as_text=True)
    assert events(store, fid) == []  # listing reveals no address, so it is not a logged view
    doc = client.get(f"/api/findings/{fid}").json  # the finding's own view shows them, and is logged
    assert doc["guardian"] == "mrs.parent@yahoo.co.uk" and doc["counterpart"] == COUNTERPART
    assert [(e.action, e.actor) for e in events(store, fid)] == [("viewed", DSL)]


def test_triage_moves_a_finding_along_and_logs_who_when_and_why(client, store):
    fid = add_finding(store)
    token = sign_in(client, DSL)
    before = datetime.now(UTC) - timedelta(seconds=1)
    for to in ("reviewing", "resolved"):  # a note is required for every move, not only for closing
        refused = client.post(f"/findings/{fid}/triage", data={"to_status": to, "note": " ", "csrf_token": token},
                              follow_redirects=True)
        assert "Add a note" in refused.get_data(as_text=True) and status_of(store, fid) == "new"
    r = client.post(f"/findings/{fid}/triage", data={"to_status": "reviewing", "note": "Looking into it",
                                                     "csrf_token": token})
    assert r.status_code == 302 and status_of(store, fid) == "reviewing"
    client.post(f"/findings/{fid}/triage", data={"to_status": "resolved", "csrf_token": token,
                                                 "note": "Spoke to Mr Smith; sharing removed."})
    changes = [e for e in events(store, fid) if e.action == "status"]
    assert [(e.actor, e.from_status, e.to_status) for e in changes] == [
        (DSL, "new", "reviewing"), (DSL, "reviewing", "resolved")]
    assert changes[1].note == "Spoke to Mr Smith; sharing removed." and all(e.at >= before for e in changes)
    history = client.get(f"/findings/{fid}").get_data(as_text=True)
    assert "Spoke to Mr Smith" in history and "Reviewing → Resolved" in history


def test_an_impossible_move_is_explained_not_applied(client, store):
    fid = add_finding(store)
    token = sign_in(client, DSL)
    page = client.post(f"/findings/{fid}/triage", data={"to_status": "resolved", "note": "x", "csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "can move to reviewing" in page and status_of(store, fid) == "new"


@pytest.mark.parametrize("token", [None, "", "forged-token-value-forged-token-value-123"])
def test_posts_without_the_csrf_token_are_refused(client, store, token):
    fid = add_finding(store)
    sign_in(client, DSL)
    data = {"to_status": "reviewing"} | ({"csrf_token": token} if token is not None else {})
    assert client.post(f"/findings/{fid}/triage", data=data).status_code == 400
    r = client.post(f"/api/findings/{fid}/transition", json={"to": "reviewing"},
                    headers={"X-CSRF-Token": token} if token else {})
    assert r.status_code == 400
    assert client.post("/auth/logout", data=data).status_code == 400
    assert status_of(store, fid) == "new"


def test_the_api_triages_with_the_csrf_header(client, store):
    fid = add_finding(store)
    token = sign_in(client, DSL)
    r = client.post(f"/api/findings/{fid}/transition", json={"to": "reviewing", "note": "looking"},
                    headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.json["status"] == "reviewing"
    bad = client.post(f"/api/findings/{fid}/transition", json={"to": "new", "note": "x"},
                      headers={"X-CSRF-Token": token})
    assert bad.status_code == 409 and "reviewing" in bad.json["error"]
    assert [e.to_status for e in events(store, fid) if e.action == "status"] == ["reviewing"]


@pytest.mark.parametrize("body", [{"to": "reviewing"}, {"to": "reviewing", "note": ""},
                                  {"to": "reviewing", "note": "   "}, {"to": "reviewing", "note": None},
                                  {"to": "reviewing", "note": ["why"]}])
def test_the_api_refuses_a_transition_without_a_note(client, store, body):
    fid = add_finding(store)
    token = sign_in(client, DSL)
    r = client.post(f"/api/findings/{fid}/transition", json=body, headers={"X-CSRF-Token": token})
    assert r.status_code == 400 and "note" in r.json["error"]
    assert status_of(store, fid) == "new" and [e.action for e in events(store, fid)] == []


def test_findings_filters(client, store):
    add_finding(store, rule="mail.out_of_hours", severity="low")
    add_finding(store, status="reviewing")
    sign_in(client, DSL)
    assert client.get("/findings?severity=low").get_data(as_text=True).count('aria-label="Open finding') == 1
    assert len(client.get("/api/findings?status=reviewing").json["findings"]) == 1
    assert client.get("/api/findings?status=bogus").status_code == 400


def test_evidence_links_are_only_http_and_bodies_are_never_shown(client, store):
    fid = add_finding(store, evidence={"link": "javascript:alert(1)", "message_id": "<abc@mail.gmail.com>",
                                       "body": "Dear Amy, SECRET BODY", "meeting_code": "abc-defg-hij"})
    sign_in(client, DSL)
    page = client.get(f"/findings/{fid}").get_data(as_text=True)
    assert 'href="javascript:' not in page and "SECRET BODY" not in page
    assert "&lt;abc@mail.gmail.com&gt;" in page and "abc-defg-hij" in page


def test_health_and_readiness(client, store):
    assert client.get("/healthz").json == {"status": "ok"}
    add_run(store, "audit", "ok")
    r = client.get("/readyz")  # no worker has run: nothing would audit or alert
    assert r.status_code == 503 and r.json["reason"].startswith("no worker running: no heartbeat yet")
    worker_beats(store)
    assert client.get("/readyz").status_code == 200
    add_run(store, "alerts", "failed", error="SMTP refused", minutes_ago=1)
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json == {"ready": False, "reason": "last run failed: alerts"}
    add_run(store, "alerts", "ok", minutes_ago=0)
    assert client.get("/readyz").status_code == 200


def test_readiness_fails_when_the_database_is_gone(app, crypto):
    from integration.store import Store

    app.extensions["safechannels"].store = Store("sqlite:////proc/no-such-dir/safechannels.db", crypto)
    r = app.test_client().get("/readyz")
    assert r.status_code == 503 and r.json == {"ready": False, "reason": "database not reachable"}


def test_pages_carry_security_headers(client):
    r = client.get("/auth/login")
    assert "script-src 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Cache-Control"] == "no-store"
