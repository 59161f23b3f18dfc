"""The right alerts reach the right people, once — through a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from integration.alerts import deliver_due, queue_finding_alerts
from integration.store.models_alerts import OutboxEmail


def test_high_and_medium_go_to_every_dsl_at_once_low_waits_for_the_digest(store, ctx, smtp, findings):
    ctx.settings.alerts.dsl_emails = [findings.DSL, findings.DSL2.upper()]
    with store.session() as s:
        high = findings.add(s, severity="high")
        medium = findings.add(s, rule="chat.staff_pupil_direct", severity="medium")
        low = findings.add(s, rule="mail.out_of_hours", severity="low")
        assert queue_finding_alerts(s, [high, medium, low], ctx.settings, findings.T0) == 3

    result = deliver_due(ctx, findings.T0)

    assert result.as_json() == {"sent": 4, "failed": 0, "queued": 0, "pending_digest": 1}
    assert len(smtp.handler.to(findings.DSL)) == 2 and len(smtp.handler.to(findings.DSL2)) == 2
    subjects = {m["Subject"] for m in smtp.handler.messages}
    assert any(f"ref F-{high.id}" in s for s in subjects) and any(f"ref F-{medium.id}" in s for s in subjects)
    assert not any(f"F-{low.id}" in s for s in subjects)


def test_queueing_and_delivering_twice_sends_nothing_twice(store, ctx, smtp, findings):
    with store.session() as s:
        f = findings.add(s)
        queue_finding_alerts(s, [f], ctx.settings, findings.T0)
    with store.session() as s:  # e.g. the audit re-run, or a new occurrence of the same finding
        f2 = s.get(type(f), f.id)
        f2.occurrences += 5
        assert queue_finding_alerts(s, [f2.id], ctx.settings, findings.T0 + timedelta(minutes=5)) == 0
    assert deliver_due(ctx, findings.T0).sent == 1
    assert deliver_due(ctx, findings.T0 + timedelta(hours=1)).sent == 0
    assert len(smtp.handler.messages) == 1
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxEmail)) == 1


def test_suppressed_and_triaged_findings_are_not_alerted(store, ctx, smtp, findings):
    with store.session() as s:
        a = findings.add(s, status="suppressed")
        b = findings.add(s, status="reviewing")
        assert queue_finding_alerts(s, [a, b], ctx.settings, findings.T0) == 0
    assert deliver_due(ctx, findings.T0).as_json() == {"sent": 0, "failed": 0, "queued": 0, "pending_digest": 0}


def test_a_finding_that_recurs_after_resolution_is_alerted_again_once(store, ctx, smtp, findings):
    with store.session() as s:
        f = findings.add(s)
        queue_finding_alerts(s, [f], ctx.settings, findings.T0)
    later = findings.T0 + timedelta(days=3)
    with store.session() as s:
        f = s.get(type(f), f.id)
        f.status = "new"  # what the findings engine does when a resolved finding recurs
        findings.log(s, f.id, "status", later, from_status="resolved", to_status="new", actor="audit")
        assert queue_finding_alerts(s, [f], ctx.settings, later) == 1
        assert queue_finding_alerts(s, [f], ctx.settings, later) == 0
    assert deliver_due(ctx, later).sent == 2
    assert len(smtp.handler.messages) == 2


def test_an_smtp_outage_loses_nothing_and_duplicates_nothing(store, ctx, smtp, findings):
    ctx.settings.alerts.dsl_emails = [findings.DSL, findings.DSL2]
    with store.session() as s:
        f1, f2 = findings.add(s), findings.add(s, rule="drive.shared_with_pupil_personal")
        queue_finding_alerts(s, [f1, f2], ctx.settings, findings.T0)

    smtp.stop()  # the relay is down
    down = deliver_due(ctx, findings.T0)
    assert down.sent == 0 and down.failed >= 1 and down.queued == 4

    smtp.start()
    smtp.handler.reply = "451 4.3.0 try again later"  # back, but deferring
    early = deliver_due(ctx, findings.T0 + timedelta(seconds=5))
    assert early.sent == 0 and early.queued == 4  # still backing off: nothing attempted yet
    deferred = deliver_due(ctx, findings.T0 + timedelta(minutes=3))
    assert deferred.sent == 0 and deferred.failed >= 1 and deferred.queued == 4

    smtp.handler.reply = ""
    recovered = deliver_due(ctx, findings.T0 + timedelta(hours=3))
    assert recovered.as_json() == {"sent": 4, "failed": 0, "queued": 0, "pending_digest": 0}
    assert deliver_due(ctx, findings.T0 + timedelta(hours=5)).sent == 0
    got = sorted((m["To"], m["Subject"]) for m in smtp.handler.messages)
    assert len(got) == 4 and len(set(got)) == 4
    with store.session() as s:
        rows = list(s.scalars(select(OutboxEmail)))
        assert all(r.status == "sent" and r.attempts >= 2 and r.last_error == "" for r in rows)


def test_a_permanently_refused_recipient_stays_visible_and_others_still_go(store, ctx, smtp, findings):
    ctx.settings.alerts.dsl_emails = ["gone@northfield.sch.uk", findings.DSL]
    smtp.handler.refuse_rcpt["gone@northfield.sch.uk"] = "550 5.1.1 no such user"
    with store.session() as s:
        queue_finding_alerts(s, [findings.add(s)], ctx.settings, findings.T0)
    result = deliver_due(ctx, findings.T0)
    assert (result.sent, result.failed, result.queued, result.refused) == (1, 1, 1, None)
    with store.session() as s:
        failed = s.scalars(select(OutboxEmail).where(OutboxEmail.status == "failed")).one()
        assert "550" in failed.last_error and failed.next_attempt_at >= findings.T0 + timedelta(hours=23)
    assert deliver_due(ctx, findings.T0 + timedelta(hours=1)).failed == 0  # not hammered


def test_two_workers_never_send_the_same_row(store, ctx, smtp, findings):
    from integration.alerts.deliver import _claim

    with store.session() as s:
        queue_finding_alerts(s, [findings.add(s)], ctx.settings, findings.T0)
        row_id = s.scalar(select(OutboxEmail.id))
    assert _claim(store, row_id, "worker-a", findings.T0)
    assert not _claim(store, row_id, "worker-b", findings.T0)  # leased by worker-a
    assert deliver_due(ctx, findings.T0).sent == 0  # a second worker sees the lease and skips
    # worker-a died holding the lease: after it expires the row is sent by someone else, once
    assert deliver_due(ctx, findings.T0 + timedelta(minutes=6)).sent == 1
    assert len(smtp.handler.messages) == 1


def test_other_features_queue_their_own_emails_once_under_their_own_keys(store, ctx, smtp, findings):
    from integration.alerts import queue_email, send_email
    from integration.protocols import OutgoingEmail
    from integration.store.models_alerts import JobRequest

    reminder = OutgoingEmail(to=["alice@northfield.sch.uk"], subject="Please acknowledge the policy", text="...")
    key = "ack:2025-10:reminder:alice@northfield.sch.uk:2026-11-20"
    with store.session() as s:
        assert queue_email(s, reminder, key, now=findings.T0, kind="ack", domain=findings.DOMAIN)
        assert not queue_email(s, reminder, key, now=findings.T0, kind="ack", domain=findings.DOMAIN)
    assert not send_email(ctx, reminder, key, now=findings.T0)
    assert send_email(ctx, reminder, key + ":again", now=findings.T0)
    with store.session() as s:  # the worker is asked to deliver within seconds
        assert s.scalar(select(JobRequest.kind)) == "alerts"
    assert deliver_due(ctx, findings.T0).sent == 2
    assert deliver_due(ctx, findings.T0).sent == 0
    assert [m["To"] for m in smtp.handler.messages] == ["alice@northfield.sch.uk"] * 2
