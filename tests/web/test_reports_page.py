"""/reports for governors (viewer role too): findings by rule and week as a server-rendered SVG with a
table, triage times by severity, acknowledgement by org unit — and no name or address anywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from test_acks_page import school_with_a_round
from test_roles_and_triage import sign_in
from web_env import DSL, VIEWER, add_finding

from integration import findings as findings_mod
from integration.store.models_audit import FindingEvent

NOW = datetime.now(UTC)


def test_a_governor_reads_counts_charts_and_triage_times_without_personal_data(client, store, ctx):
    school_with_a_round(store, ctx)
    a = add_finding(store, first_seen=NOW - timedelta(days=1), created_at=NOW - timedelta(hours=10))
    add_finding(store, first_seen=NOW - timedelta(days=15), rule="mail.out_of_hours", severity="low")
    add_finding(store, first_seen=NOW - timedelta(days=400))  # outside the 12 weeks
    with store.session() as s:
        findings_mod.transition(s, a, "reviewing", DSL, "looking", now=NOW - timedelta(hours=8))
        findings_mod.transition(s, a, "resolved", DSL, "done", now=NOW - timedelta(hours=4))
        s.add(FindingEvent(finding_id=a, action="viewed", actor=DSL, at=NOW))
    sign_in(client, VIEWER)
    page = client.get("/reports").get_data(as_text=True)
    assert page.count("<svg") == 2 and "<script" not in page
    by_rule = page.split('id="by-rule"')[1].split("</table>")[0]
    assert "Staff file shared with a pupil&#39;s personal account" in by_rule and "<strong>1</strong>" in by_rule
    assert "One-to-one staff–pupil mail outside working hours" in by_rule
    triage = page.split('id="triage-times"')[1].split("</table>")[0]
    assert ">2.0<" in triage and ">6.0<" in triage  # median hours to first look and to close (high)
    assert "Policy 2025-10: <strong>33.3%</strong>" in page and "/Staff/Science" in page
    for personal in ("@northfield.sch.uk", "amy.personal", "Bob Ray", "Jo Smith", DSL):
        assert personal not in page.split('<main')[1].split("</main>")[0], personal


def test_the_dsl_reads_it_too_and_it_prints_without_navigation(client, store):
    sign_in(client, DSL)
    r = client.get("/reports")
    assert r.status_code == 200 and "No findings in these weeks." in r.get_data(as_text=True)
    css = client.get("/static/app.css").get_data(as_text=True)
    assert "@media print" in css and ".header, .footer" in css
