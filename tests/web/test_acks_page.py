"""/acks for the DSL: % acknowledged for the current version, outstanding people with days overdue,
by org unit and role, version history, "send reminders now" (POST with CSRF; one email per person
per day however often it is pressed) and the per-person CSV. Viewers and admins are refused."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from test_roles_and_triage import sign_in
from web_env import ADMIN, DOMAIN, DSL, VIEWER, add_person, job_requests

from integration.acknowledgement.rounds import open_round
from integration.store.models_acks import AckNotice, AckResponse, AckRound
from integration.store.models_alerts import OutboxEmail

NOW = datetime.now(UTC)


def school_with_a_round(store, ctx, opened_days_ago: int = 20) -> None:
    add_person(store, f"ann.lee@{DOMAIN}", "staff", "Ann Lee", "/Staff")
    add_person(store, f"bob.ray@{DOMAIN}", "staff", "Bob Ray", "/Staff/Science")
    add_person(store, f"cy.dunn@{DOMAIN}", "staff", "Cy Dunn", "/Staff/Science")
    add_person(store, f"amy.pupil@{DOMAIN}", "pupil", "Amy Pupil", "/Pupils")
    opened = NOW - timedelta(days=opened_days_ago)
    with store.session() as s:
        s.add(AckRound(policy_version="2024-09", form_id="old-form", opened_at=opened - timedelta(days=365),
                       closed_at=opened, final_summary={"acknowledged": 2, "outstanding": 1}))
    rnd = open_round(store, ctx.settings, opened)
    with store.session() as s:
        s.add(AckResponse(round_id=rnd.id, form_id=rnd.form_id, response_id="r1",
                          respondent_email_hash=store.crypto.address_hash(f"ann.lee@{DOMAIN}"),
                          respondent_email=f"ann.lee@{DOMAIN}", submitted_at=opened + timedelta(days=1),
                          created_at=opened + timedelta(days=1)))


def test_the_dsl_sees_progress_outstanding_by_group_and_history(client, store, ctx):
    school_with_a_round(store, ctx)
    sign_in(client, DSL)
    page = client.get("/acks").get_data(as_text=True)
    assert "<strong>33.3%</strong> acknowledged" in page and "1 of 3" in page and "2 overdue" in page
    outstanding = page.split('id="outstanding"')[1].split("</table>")[0]
    assert "Bob Ray" in outstanding and "Cy Dunn" in outstanding and "Ann Lee" not in outstanding
    assert re.search(r'Days overdue" class="num"><strong>6</strong>', outstanding)  # 20 days open, 14 to answer
    groups = page.split('id="groups"')[1].split("</table>")[0]
    assert "/Staff/Science" in groups and "100.0" in groups and "0.0" in groups
    versions = page.split('id="versions"')[1].split("</table>")[0]
    assert "2025-10 (current)" in versions and "2024-09" in versions


def test_send_reminders_now_emails_each_outstanding_person_once_a_day(client, store, ctx):
    school_with_a_round(store, ctx)
    token = sign_in(client, DSL)
    assert client.post("/acks/remind", data={}).status_code == 400  # no CSRF token
    page = client.post("/acks/remind", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "Queued 2 invites" in page  # never asked before: their first request
    again = client.post("/acks/remind", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "Nobody needed a reminder" in again
    with store.session() as s:
        notices = [(n.recipient, n.kind) for n in s.scalars(select(AckNotice).order_by(AckNotice.id))]
        outbox = [e.key for e in s.scalars(select(OutboxEmail))]
    assert sorted(notices) == [(f"bob.ray@{DOMAIN}", "invite"), (f"cy.dunn@{DOMAIN}", "invite")]
    assert len(outbox) == 2 and ("alerts", "acknowledgement reminders sent from the web") in job_requests(store)
    # a day later the button sends a reminder (not a second invitation) to those still outstanding
    with store.session() as s:
        for n in s.scalars(select(AckNotice)):
            n.queued_at = NOW - timedelta(days=1)
    page = client.post("/acks/remind", data={"csrf_token": token}, follow_redirects=True).get_data(as_text=True)
    assert "Queued 2 reminders" in page


def test_the_acks_csv_lists_everyone_formula_safe(client, store, ctx):
    school_with_a_round(store, ctx)
    add_person(store, f"eve.x@{DOMAIN}", "staff", "=HYPERLINK(\"http://evil\")", "/Staff")
    sign_in(client, DSL)
    r = client.get("/acks.csv")
    assert r.mimetype == "text/csv" and 'filename="acks-2025-10.csv"' in r.headers["Content-Disposition"]
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(r.get_data(as_text=True)))}
    assert set(rows) == {f"ann.lee@{DOMAIN}", f"bob.ray@{DOMAIN}", f"cy.dunn@{DOMAIN}", f"eve.x@{DOMAIN}"}
    assert rows[f"ann.lee@{DOMAIN}"]["acknowledged_at"] and rows[f"bob.ray@{DOMAIN}"]["days_overdue"] == "6"
    assert rows[f"eve.x@{DOMAIN}"]["name"].startswith("'=")


def test_without_a_round_the_page_says_so(client):
    sign_in(client, DSL)
    assert "No acknowledgement round yet" in client.get("/acks").get_data(as_text=True)


def test_other_roles_are_refused(client, store, ctx):
    school_with_a_round(store, ctx)
    for who in (VIEWER, ADMIN):
        client.post("/auth/logout", data={"csrf_token": client.get("/api/me").json["csrf_token"]}) \
            if client.get("/api/me").status_code == 200 else None
        token = sign_in(client, who)
        assert client.get("/acks").status_code == 403 and client.get("/acks.csv").status_code == 403
        assert client.post("/acks/remind", data={"csrf_token": token}).status_code == 403
