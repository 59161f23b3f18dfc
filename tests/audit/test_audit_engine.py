"""The audit engine: batches, cursors, idempotency, crashes, failing streams, exceptions, config."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from audit_env import (
    NOW,
    PUPIL,
    PUPIL2,
    PUPIL_GMAIL,
    TEACHER,
    TEACHER_GMAIL,
    FakeContext,
    ListSource,
    mail,
    make_settings,
)
from sqlalchemy import func, select

from integration import alerts
from integration.audit import REPORTING_OVERLAP, UNTIL_DELAY, WINDOW_PARTITION, run_audit
from integration.errors import ConfigError, SourceRefused, TransientError
from integration.records import ActivityBatch, DriveItem, ForwardingSetting, MailEvent, Permission
from integration.store.models_audit import Finding, FindingOccurrence
from integration.store.models_ops import Cursor, Run


@pytest.fixture
def registers(tmp_path):
    """A personal-address register naming the pupil's Gmail and the teacher's Hotmail."""
    path = tmp_path / "personal.csv"
    path.write_text(f"address,owner\n{PUPIL_GMAIL},{PUPIL}\n{TEACHER_GMAIL},{TEACHER}\n", encoding="utf-8")
    return path


def a_week_of_mail() -> list[ActivityBatch]:
    """A teacher mailing a pupil's Gmail three times (one message seen twice), plus decoys."""
    return [
        ActivityBatch("mail", [mail(TEACHER, PUPIL_GMAIL, event_id="e1", message_id="<1>"),
                               mail(TEACHER, PUPIL, event_id="e2", message_id="<2>")], cursor={"page": 1},
                      partition=TEACHER),
        ActivityBatch("mail", [mail(TEACHER, PUPIL_GMAIL, event_id="e3", message_id="<3>"),
                               mail(TEACHER, PUPIL_GMAIL, event_id="e3b", message_id="<3>", mailbox=PUPIL)],
                      cursor={"page": 2}, partition=TEACHER),
        ActivityBatch("mail", [mail(TEACHER, PUPIL_GMAIL, event_id="e4", message_id="<4>")], cursor={"page": 3},
                      partition=TEACHER, complete=True),
    ]


def one_drive_share() -> list[ActivityBatch]:
    share = DriveItem("f1", "Revision notes", "application/pdf", TEACHER,
                      (Permission("user", "writer", email=PUPIL2, permission_id="p2"),))
    return [ActivityBatch("drive", [share], cursor={"token": "9"}, complete=True)]


def ctx_for(store, registers, *sources, **channels):
    settings = make_settings(personal_address_register=str(registers), **channels)
    return FakeContext(store, settings, list(sources))


def findings(store) -> list[Finding]:
    with store.session() as s:
        return list(s.scalars(select(Finding).order_by(Finding.id)))


def occurrences(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(FindingOccurrence))


def test_a_teacher_mailing_a_pupils_gmail_becomes_one_finding_with_three_occurrences(store, school, registers):
    ctx = ctx_for(store, registers, ListSource("gmail", {"mail": a_week_of_mail()}))
    result = run_audit(ctx, now=NOW)
    assert result.as_json() == {"findings_new": 1, "findings_updated": 0, "events_read": 5, "api_calls": 7}
    [f] = findings(store)
    assert (f.rule, f.severity, f.status, f.staff, f.pupil, f.counterpart, f.confidence, f.occurrences) == \
        ("mail.staff_to_pupil_personal", "high", "new", TEACHER, PUPIL, PUPIL_GMAIL, "known", 3)
    assert f.policy == ["000", "002 §42–43", "004"] and f.evidence["message_id"] == "<1>"
    with store.session() as s:
        run = s.scalars(select(Run).where(Run.job == "audit")).one()
        cursors = {(c.partition): c.cursor for c in s.scalars(select(Cursor))}
    assert run.status == "ok" and run.summary["findings_new"] == 1
    assert cursors[TEACHER] == {"page": 3}
    assert cursors[WINDOW_PARTITION] == {"end": (NOW - UNTIL_DELAY).isoformat()}


def test_a_second_audit_adds_no_finding_and_counts_nothing_twice(store, school, registers):
    source = ListSource("gmail", {"mail": a_week_of_mail()})
    ctx = ctx_for(store, registers, source)
    run_audit(ctx, now=NOW)
    again = run_audit(ctx, now=NOW + timedelta(minutes=15))
    assert (again.findings_new, again.findings_updated) == (0, 0)
    assert findings(store)[0].occurrences == 3 and occurrences(store) == 3
    second = source.calls[-1]
    assert second["cursors"] == {TEACHER: {"page": 3}}
    assert second["since"] == NOW - UNTIL_DELAY - REPORTING_OVERLAP
    assert (PUPIL, "pupil") in second["people"]


def test_full_ignores_cursors_and_reads_the_look_back(store, school, registers):
    source = ListSource("gmail", {"mail": a_week_of_mail()})
    ctx = ctx_for(store, registers, source)
    run_audit(ctx, now=NOW)
    run_audit(ctx, now=NOW, full=True)
    assert source.calls[-1]["cursors"] == {}
    assert source.calls[-1]["since"] == NOW - timedelta(days=30)


def test_new_activity_updates_the_finding(store, school, registers):
    source = ListSource("gmail", {"mail": a_week_of_mail()[:1]})
    ctx = ctx_for(store, registers, source)
    run_audit(ctx, now=NOW)
    source.batches["mail"] = a_week_of_mail()
    result = run_audit(ctx, now=NOW + timedelta(hours=1))
    assert (result.findings_new, result.findings_updated) == (0, 1)
    assert findings(store)[0].occurrences == 3


def test_a_crash_mid_run_loses_nothing_and_duplicates_nothing(store, school, registers):
    crashing = ListSource("gmail", {"mail": a_week_of_mail()}, fail={"mail": RuntimeError("killed")}, fail_after=2)
    ctx = ctx_for(store, registers, crashing)
    with pytest.raises(RuntimeError):
        run_audit(ctx, now=NOW)
    [f] = findings(store)
    assert f.occurrences == 2  # the two committed batches
    with store.session() as s:
        assert s.scalars(select(Run)).one().status == "failed"
        marks = [c.partition for c in s.scalars(select(Cursor))]
    assert marks == [TEACHER]  # no window watermark: the next run re-reads the whole window
    ctx.sources = [ListSource("gmail", {"mail": a_week_of_mail()})]
    result = run_audit(ctx, now=NOW + timedelta(minutes=5))
    assert (result.findings_new, result.findings_updated) == (0, 1)
    assert findings(store)[0].occurrences == 3 and occurrences(store) == 3


def test_a_failing_stream_keeps_other_findings_and_marks_its_rules_not_evaluated(store, school, registers, caplog):
    refused = SourceRefused("Reports API: gmail events not available", api="reports", fix="enable the API")
    broken = ListSource("reports", {"mail": a_week_of_mail()}, fail={"mail": refused}, fail_after=0)
    drive = ListSource("drive", {"drive": one_drive_share()})
    result = run_audit(ctx_for(store, registers, broken, drive), now=NOW)
    assert [f.rule for f in findings(store)] == ["drive.direct_share_outside_course"]
    assert "mail.staff_to_pupil_personal" in result.not_evaluated
    assert "mail.out_of_hours" in result.not_evaluated
    assert "drive.public_media" not in result.not_evaluated
    assert "oauth.social_app_grant" in result.not_evaluated  # nobody read tokens: not "passed"
    assert result.errors and "gmail events not available" in result.errors[0]
    with store.session() as s:
        assert s.scalars(select(Run)).one().status == "partial"


def test_every_source_failing_raises_the_refusal(store, school, registers):
    refused = SourceRefused("token endpoint refused", api="oauth2", fix="authorise the client id")
    src = ListSource("reports", {"mail": a_week_of_mail()}, fail={"mail": refused}, fail_after=0)
    with pytest.raises(SourceRefused) as err:
        run_audit(ctx_for(store, registers, src), now=NOW)
    assert err.value.exit_code == 3
    transient = ListSource("reports", {"mail": []}, fail={"mail": TransientError("503", api="reports")})
    with pytest.raises(TransientError):
        run_audit(ctx_for(store, registers, transient), now=NOW)


def test_events_with_missing_fields_are_skipped_with_a_clear_message(store, school, registers, caplog):
    broken = MailEvent(event_id="bad1", time=None, mailbox=TEACHER, direction="sent", sender=TEACHER,  # type: ignore[arg-type]
                       recipients=(PUPIL_GMAIL,))
    no_sender = MailEvent(event_id="bad2", time=NOW, mailbox=TEACHER, direction="sent", sender="",
                          recipients=(PUPIL_GMAIL,))
    batch = ActivityBatch("mail", [broken, no_sender, mail(TEACHER, PUPIL_GMAIL)], complete=True)
    with caplog.at_level(logging.WARNING, logger="safechannels.audit"):
        result = run_audit(ctx_for(store, registers, ListSource("gmail", {"mail": [batch]})), now=NOW)
    assert result.skipped == 2 and result.findings_new == 1
    text = " ".join(r.getMessage() + str(getattr(r, "fields", "")) for r in caplog.records)
    assert "MailEvent bad1 has no time" in text and "MailEvent bad2 has no sender" in text


def test_unknown_rule_ids_in_config_are_a_config_error_listing_the_known_ids(store, registers):
    ctx = ctx_for(store, registers)
    ctx.settings.audit.rules_disabled = ["mail.typo"]
    with pytest.raises(ConfigError, match="mail.typo.*known rule ids: mail.staff_to_pupil_personal"):
        run_audit(ctx, now=NOW)
    ctx.settings.audit.rules_disabled = []
    ctx.settings.audit.severity_overrides = {"drive.nope": "high"}
    with pytest.raises(ConfigError, match="drive.nope"):
        run_audit(ctx, now=NOW)


def test_disabled_rules_and_severity_overrides(store, school, registers):
    ctx = ctx_for(store, registers, ListSource("gmail", {"mail": a_week_of_mail()}),
                  ListSource("drive", {"drive": one_drive_share()}))
    ctx.settings.audit.rules_disabled = ["drive.direct_share_outside_course"]
    ctx.settings.audit.severity_overrides = {"mail.staff_to_pupil_personal": "medium"}
    run_audit(ctx, now=NOW)
    assert [(f.rule, f.severity) for f in findings(store)] == [("mail.staff_to_pupil_personal", "medium")]


def test_an_unexpired_exception_suppresses_with_its_id_and_queues_no_alert(store, school, registers, tmp_path,
                                                                         monkeypatch):
    queued = []

    def capture(session, new_findings, settings, now, hold=False):
        # same transaction: the findings are visible in the caller's session before commit
        assert all(session.get(Finding, f.id) is f for f in new_findings)
        queued.extend(f.rule for f in new_findings)
        return len(new_findings)

    monkeypatch.setattr(alerts, "queue_finding_alerts", capture)
    exc = tmp_path / "exceptions.csv"
    exc.write_text("staff,counterpart,reason,approved_by,expires\n"
                   f"{TEACHER},{PUPIL},parent of the pupil,head,2026-03-31\n", encoding="utf-8")
    ctx = ctx_for(store, registers, ListSource("gmail", {"mail": a_week_of_mail()}),
                  ListSource("drive", {"drive": one_drive_share()}), exceptions_register=str(exc))
    run_audit(ctx, now=NOW)
    by_rule = {f.rule: f for f in findings(store)}
    mailf = by_rule["mail.staff_to_pupil_personal"]
    assert mailf.status == "suppressed" and mailf.exception_id.startswith("EXC-")
    assert queued == ["drive.direct_share_outside_course"]
    # after expiry, new activity brings the finding back for the DSL
    later = ListSource("gmail", {"mail": [ActivityBatch("mail", [mail(TEACHER, PUPIL_GMAIL, event_id="e9",
                                                                          message_id="<9>")])]})
    ctx.sources = [later]
    run_audit(ctx, now=NOW + timedelta(days=30))
    again = next(f for f in findings(store) if f.rule == "mail.staff_to_pupil_personal")  # ids follow commit order
    assert (again.status, again.exception_id, again.occurrences) == ("new", None, 4)
    assert queued[-1] == "mail.staff_to_pupil_personal"


def test_an_expired_exception_suppresses_nothing(store, school, registers, tmp_path):
    exc = tmp_path / "exceptions.csv"
    exc.write_text("staff,counterpart,reason,approved_by,expires\n"
                   f"{TEACHER},{PUPIL_GMAIL},tutoring,head,2026-03-09\n", encoding="utf-8")
    ctx = ctx_for(store, registers, ListSource("gmail", {"mail": a_week_of_mail()}), exceptions_register=str(exc))
    run_audit(ctx, now=NOW)
    assert [(f.status, f.exception_id) for f in findings(store)] == [("new", None)]


def test_forwarding_settings_are_read_every_run_without_double_counting(store, school, registers):
    fs = ForwardingSetting(TEACHER, True, TEACHER_GMAIL)
    src = ListSource("gmail_settings", {"forwarding": [ActivityBatch("forwarding", [fs], complete=True)]})
    ctx = ctx_for(store, registers, src)
    run_audit(ctx, now=NOW)
    run_audit(ctx, now=NOW + timedelta(hours=4))
    [f] = findings(store)
    assert (f.rule, f.occurrences, f.counterpart) == ("mail.auto_forward_external", 1, TEACHER_GMAIL)


def test_streams_no_enabled_rule_reads_are_not_fetched(store, school, registers):
    chat = ListSource("reports", {"chat": [], "mail": a_week_of_mail()})
    ctx = ctx_for(store, registers, chat, chat_approved=True)
    result = run_audit(ctx, now=NOW)
    assert [c["stream"] for c in chat.calls] == ["mail"]
    assert "chat.staff_pupil_direct" not in result.not_evaluated  # approved: nothing to evaluate


def test_a_source_that_cannot_be_built_fails_the_run_with_its_message(store, school, registers):
    class Unwired(FakeContext):
        def activity_sources(self):
            raise ConfigError("[google] admin_subject is empty")

    ctx = Unwired(store, make_settings(), [])
    with pytest.raises(ConfigError, match="admin_subject"):
        run_audit(ctx, now=NOW)
    with store.session() as s:
        run = s.scalars(select(Run)).one()
    assert (run.status, run.error) == ("failed", "[google] admin_subject is empty")
