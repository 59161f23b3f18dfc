"""The DSL's findings inbox and a finding's page: filters kept in the URL, severity-then-newest order,
sorting and pages, names beside addresses; the quoted policy clause from the school's editable file,
what to do next, people linked, evidence links into Google, the occurrence timeline, triage history
without the view log, exceptions, the CSV export and the evidence pack."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

from sqlalchemy import select
from test_roles_and_triage import sign_in
from web_env import DOMAIN, DSL, VIEWER, add_finding, add_person, make_app

from integration.store.models_audit import Finding, FindingEvent, FindingOccurrence
from integration.store.models_webapp import FindingException

STAFF, PUPIL = f"j.smith@{DOMAIN}", f"amy.pupil@{DOMAIN}"
NOW = datetime.now(UTC)


def ids_in(page: str) -> list[int]:
    return [int(x) for x in re.findall(r'aria-label="Open finding (\d+)"', page)]


def school(store) -> None:
    add_person(store, STAFF, "staff", "Jo Smith", "/Staff/Teachers")
    add_person(store, PUPIL, "pupil", "Amy Pupil", "/Pupils/Year 9")
    add_person(store, f"b.khan@{DOMAIN}", "pupil", "Ben Khan", "/Pupils/Year 7")


def test_the_inbox_shows_highest_severity_then_newest_with_names(client, store):
    school(store)
    low = add_finding(store, rule="mail.out_of_hours", severity="low", last_seen=NOW)
    old_high = add_finding(store, last_seen=NOW - timedelta(days=3), first_seen=NOW - timedelta(days=4))
    new_high = add_finding(store, last_seen=NOW - timedelta(hours=1))
    medium = add_finding(store, rule="chat.staff_pupil_direct", severity="medium", counterpart=None)
    sign_in(client, DSL)
    page = client.get("/findings").get_data(as_text=True)
    assert ids_in(page) == [new_high, old_high, medium, low]
    assert "Jo Smith" in page and "Amy Pupil" in page and f'href="/people/{STAFF}"' in page
    assert "amy.personal@gmail.com" not in page  # counterparts only on the (logged) finding page
    assert ids_in(client.get("/findings?sort=last_seen").get_data(as_text=True))[0] == old_high
    assert ids_in(client.get("/findings?sort=-id").get_data(as_text=True)) == [medium, new_high, old_high, low]
    assert ids_in(client.get("/findings?sort=severity&severity=high").get_data(as_text=True)) == [new_high, old_high]


def test_every_filter_narrows_the_list_and_is_kept_in_the_links(client, store):
    school(store)
    a = add_finding(store, evidence={"title": "Year 9 revision notes", "file_id": "1AbC"})
    b = add_finding(store, staff=f"m.patel@{DOMAIN}", pupil=f"b.khan@{DOMAIN}", rule="mail.out_of_hours",
                    severity="low", status="reviewing", evidence={"message_id": "<x@y>"},
                    first_seen=NOW - timedelta(days=10), last_seen=NOW - timedelta(days=9))
    sign_in(client, DSL)
    cases = {
        "status=reviewing": [b], "status=open": [a, b], "rule=mail.out_of_hours": [b], "severity=high": [a],
        f"staff={STAFF}": [a], "pupil=khan": [b], "q=Ben": [b], "q=revision": [a],
        f"from={(NOW - timedelta(days=2)).date()}": [a], f"to={(NOW - timedelta(days=8)).date()}": [b],
    }
    for query, expected in cases.items():
        assert sorted(ids_in(client.get(f"/findings?{query}").get_data(as_text=True))) == sorted(expected), query
    page = client.get("/findings?severity=low&q=Ben&sort=-last_seen").get_data(as_text=True)
    csv_link = re.search(r'href="(/findings\.csv[^"]*)"', page).group(1).replace("&amp;", "&")
    assert parse_qs(urlparse(csv_link).query) == {"severity": ["low"], "q": ["Ben"], "sort": ["-last_seen"]}
    bad = client.get("/findings?status=bogus&from=yesterday").get_data(as_text=True)
    assert "status must be" in bad and "from must be a date" in bad and sorted(ids_in(bad)) == sorted([a, b])


def test_the_inbox_pages_keep_the_filters(client, store):
    for _ in range(5):
        add_finding(store, severity="medium")
    sign_in(client, DSL)
    first = client.get("/findings?severity=medium&per_page=2").get_data(as_text=True)
    assert len(ids_in(first)) == 2 and "Page 1 of 3" in first
    nxt = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert parse_qs(urlparse(nxt).query)["severity"] == ["medium"]
    second = client.get(nxt).get_data(as_text=True)
    assert "Page 2 of 3" in second and not set(ids_in(first)) & set(ids_in(second))


def test_a_finding_in_plain_words_with_the_schools_policy_text(client, store):
    school(store)
    fid = add_finding(store, occurrences=2)
    with store.session() as s:
        s.add_all([FindingOccurrence(finding_id=fid, event_key="drive:1AbC:user:h1", seen_at=NOW - timedelta(hours=3)),
                   FindingOccurrence(finding_id=fid, event_key="drive:1AbC:user:h2", seen_at=NOW)])
    sign_in(client, DSL)
    page = client.get(f"/findings/{fid}").get_data(as_text=True)
    assert "All communication with students must be conducted via approved school systems" in page
    assert "Social Media Policy (002) §42" in page and "What to do next" in page
    assert "Jo Smith (staff) &lt;j.smith@northfield.sch.uk&gt; shared “Year 9 revision notes”" in page
    assert f'href="/people/{STAFF}"' in page and f'href="/people/{PUPIL}"' in page
    assert 'href="https://drive.google.com/file/d/1AbC/view"' in page
    assert 'href="https://admin.google.com/ac/sc/investigation"' in page and "Document ID is 1AbC" in page
    timeline = page.split('id="timeline"')[1]
    assert timeline.index("drive:1AbC:user:h2") < timeline.index("drive:1AbC:user:h1")  # newest first
    client.get(f"/findings/{fid}")
    history = client.get(f"/findings/{fid}").get_data(as_text=True).split('id="history"')[1].split("</table>")[0]
    assert "Viewed" not in history  # views are logged, on the access log, not in the triage history
    with store.session() as s:
        assert len(list(s.scalars(select(FindingEvent).where(FindingEvent.action == "viewed")))) == 3


def test_the_school_edits_its_policy_text_and_the_page_shows_it(ctx, store, tmp_path):
    texts = tmp_path / "policy_texts.toml"
    texts.write_text('["drive.shared_with_pupil_personal"]\npolicy = "Northfield Staff Code §7"\n'
                     'clause = "Share files with pupils only through Google Classroom."\n'
                     'what = "{staff} shared {object}."\nnext = "Call the member of staff in."\n', encoding="utf-8")
    ctx.settings.web.policy_texts_file = str(texts)
    client = make_app(ctx).test_client()
    fid = add_finding(store)
    sign_in(client, DSL)
    page = client.get(f"/findings/{fid}").get_data(as_text=True)
    assert "Share files with pupils only through Google Classroom." in page and "Northfield Staff Code §7" in page
    assert "Call the member of staff in." in page


def test_adding_an_exception_needs_every_field_and_suppresses_the_finding(client, store):
    school(store)
    fid = add_finding(store)
    token = sign_in(client, DSL)
    expires = (NOW + timedelta(days=90)).date().isoformat()
    form = {"csrf_token": token, "approved_by": "Mrs Head", "reason": "Jo is Amy's aunt", "expires": expires,
            "note": "Confirmed with the Head"}
    refused = client.post(f"/findings/{fid}/exception", data=form | {"reason": ""}, follow_redirects=True)
    assert "The exception was not added" in refused.get_data(as_text=True)
    page = client.post(f"/findings/{fid}/exception", data=form, follow_redirects=True).get_data(as_text=True)
    assert "is suppressed" in page
    with store.session() as s:
        f = s.get(Finding, fid)
        exc = s.scalars(select(FindingException)).one()
        assert (f.status, f.exception_id) == ("suppressed", exc.id)
        assert (exc.staff, exc.counterpart, exc.approved_by, exc.expires.isoformat()) == (
            STAFF, "amy.personal@gmail.com", "Mrs Head", expires)
    assert exc.id in page and "Confirmed with the Head" in page


def test_csv_export_follows_the_filters_and_is_formula_safe(client, store):
    school(store)
    add_finding(store, evidence={"title": "=HYPERLINK(\"http://x\")"})
    add_finding(store, rule="mail.out_of_hours", severity="low")
    with store.session() as s:
        s.execute(Finding.__table__.update().values(source="=cmd|' /C calc'!A0"))
    sign_in(client, DSL)
    r = client.get("/findings.csv?severity=high")
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert len(rows) == 1 and rows[0]["staff_name"] == "Jo Smith" and rows[0]["pupil_name"] == "Amy Pupil"
    assert rows[0]["source"].startswith("'=")
    assert "counterpart" not in rows[0] and "amy.personal@gmail.com" not in r.get_data(as_text=True)


def test_the_evidence_pack_is_plain_text_for_the_dsl_and_logged(client, store):
    school(store)
    fid = add_finding(store)
    sign_in(client, DSL)
    r = client.get(f"/findings/{fid}/evidence.txt")
    text = r.get_data(as_text=True)
    assert r.mimetype == "text/plain" and f"finding #{fid}" in text
    assert "Staff: Jo Smith (staff) <j.smith@northfield.sch.uk>" in text and "amy.personal@gmail.com" in text
    assert "Policy (Social Media Policy (002) §42" in text and "https://drive.google.com/file/d/1AbC/view" in text
    with store.session() as s:
        assert [e.action for e in s.scalars(select(FindingEvent).where(FindingEvent.finding_id == fid))] == ["exported"]


def test_a_persons_page_lists_their_findings_role_source_and_classes(client, store):
    school(store)
    a = add_finding(store)
    add_finding(store, staff=f"m.patel@{DOMAIN}", pupil=f"b.khan@{DOMAIN}")
    sign_in(client, DSL)
    page = client.get(f"/people/{STAFF}").get_data(as_text=True)
    assert "Jo Smith" in page and "org unit /Staff/Teachers (a staff OU)" in page
    assert f"#{a}" in page and "b.khan@" not in page
    assert client.get(f"/people/nobody@{DOMAIN}").status_code == 404


def test_a_viewer_is_refused_the_findings_pages_and_exports(client, store):
    fid = add_finding(store)
    sign_in(client, VIEWER)
    for url in ("/findings", f"/findings/{fid}", "/findings.csv", f"/findings/{fid}/evidence.txt", f"/people/{STAFF}"):
        assert client.get(url).status_code == 403, url
