"""What an alert says: enough to act on, metadata only, no pupil in the Subject."""

from __future__ import annotations

from integration.alerts import deliver_due, queue_finding_alerts
from integration.store.models_roster import Person


def _people(s, domain):
    s.add(Person(email=f"amy.pupil@{domain}", name="Amy <b>O'Neill</b>", role="pupil"))
    s.add(Person(email=f"mr.jones@{domain}", name="David Jones", role="staff"))


def test_alert_email_names_who_when_where_and_clause_but_never_content(store, ctx, smtp, findings):
    evidence = {"message_id": "<abc@gmail.com>", "subject": "Re: trip & <permission>", "body": "SECRET BODY",
                "snippet": "SECRET SNIPPET", "content": "SECRET CONTENT", "event_ids": ["e1", "e2"]}
    with store.session() as s:
        _people(s, findings.DOMAIN)
        f = findings.add(s, evidence=evidence, confidence="suspected")
        queue_finding_alerts(s, [f], ctx.settings, findings.T0)
    deliver_due(ctx, findings.T0)

    (msg,) = smtp.handler.messages
    subject = msg["Subject"]
    assert subject == f"[SafeChannels] High: Staff personal address in contact with a pupil's school address — ref F-{f.id}"
    assert "amy" not in subject.lower() and "neill" not in subject.lower()
    assert msg["Message-ID"].endswith(f"@{findings.DOMAIN}>") and msg["Auto-Submitted"] == "auto-generated"
    text = msg.get_body(("plain",)).get_content()
    page = msg.get_body(("html",)).get_content()
    for body in (text, page):
        assert "SECRET" not in body
        assert "amy.secret@gmail.com" not in body  # the counterpart's personal address stays on the page
        assert f"https://safechannels.northfield.sch.uk/findings/{f.id}" in body
        assert "002 §43; 004" in body and "suspected" in body and "mr.jones@" in body
    assert "Amy <b>O'Neill</b> <amy.pupil@northfield.sch.uk>" in text
    assert "Re: trip & <permission>" in text and "Mon 23 Nov 2026, 09:00 GMT" in text
    assert "<b>O" not in page and "Amy &lt;b&gt;O&#x27;Neill&lt;/b&gt;" in page
    assert "Re: trip &amp; &lt;permission&gt;" in page


def test_drive_alert_shows_file_title_and_link_meet_alert_the_meeting_code(store, ctx, smtp, findings):
    with store.session() as s:
        d = findings.add(s, rule="drive.shared_with_pupil_personal",
                         evidence={"file_id": "f1", "title": "Year 9 reports", "link": "https://drive.google.com/f1"})
        m = findings.add(s, rule="meet.staff_pupil_one_to_one", severity="medium",
                         evidence={"meeting_code": "abc-defg-hij", "conference_id": "c1"})
        queue_finding_alerts(s, [d, m], ctx.settings, findings.T0)
    deliver_due(ctx, findings.T0)
    by_ref = {msg["Subject"].rsplit(" ", 1)[-1]: msg.get_body(("plain",)).get_content()
              for msg in smtp.handler.messages}
    assert "File: Year 9 reports" in by_ref[f"F-{d.id}"] and "https://drive.google.com/f1" in by_ref[f"F-{d.id}"]
    assert "Meeting code: abc-defg-hij" in by_ref[f"F-{m.id}"]
