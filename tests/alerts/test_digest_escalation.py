"""Digests at digest_time in the school's timezone (across DST), and escalation to deputies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from integration.alerts import deliver_due, pending_count, queue_finding_alerts, run_digest, run_escalation
from integration.scheduler import trigger_for


def _digest(store, ctx, now, force=False):
    with store.session() as s:
        return run_digest(s, ctx.settings, now, force=force)


def test_low_findings_arrive_in_the_digest_at_digest_time_across_the_spring_dst_change(store, ctx, smtp, findings):
    friday = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
    with store.session() as s:
        first = findings.add(s, rule="mail.out_of_hours", severity="low", when=friday)
        queue_finding_alerts(s, [first], ctx.settings, friday)
    assert deliver_due(ctx, friday).as_json() == {"sent": 0, "failed": 0, "queued": 0, "pending_digest": 1}

    # Saturday 28 March: GMT, so 07:30 local is 07:30 UTC.
    assert _digest(store, ctx, datetime(2026, 3, 28, 7, 29, tzinfo=UTC)) is None
    out = _digest(store, ctx, datetime(2026, 3, 28, 7, 30, tzinfo=UTC))
    assert (out.run_key, out.new, out.updated) == ("2026-03-28", 1, 0)
    sat = deliver_due(ctx, datetime(2026, 3, 28, 7, 30, tzinfo=UTC))
    assert (sat.sent, sat.pending_digest) == (1, 0)
    (digest,) = smtp.handler.to(findings.DSL)
    assert digest["Subject"] == "[SafeChannels] Daily digest Sat 28 Mar 2026: 1 new, 0 updated"
    assert f"ref F-{first.id}" in digest.get_body(("plain",)).get_content()

    with store.session() as s:
        second = findings.add(s, rule="drive.direct_share_outside_course", severity="low",
                              evidence={"file_id": "f9", "title": "Worksheet"})
        queue_finding_alerts(s, [second], ctx.settings, datetime(2026, 3, 28, 12, 0, tzinfo=UTC))

    # Sunday 29 March: BST from 01:00 UTC, so 07:30 local is 06:30 UTC.
    assert _digest(store, ctx, datetime(2026, 3, 29, 6, 29, tzinfo=UTC)) is None
    assert _digest(store, ctx, datetime(2026, 3, 29, 6, 30, tzinfo=UTC)).new == 1
    assert _digest(store, ctx, datetime(2026, 3, 29, 7, 30, tzinfo=UTC)) is None  # once a day
    assert deliver_due(ctx, datetime(2026, 3, 29, 6, 30, tzinfo=UTC)).sent == 1
    assert len(smtp.handler.to(findings.DSL)) == 2


def test_the_worker_fires_the_digest_at_local_time_on_both_sides_of_dst():
    trig = trigger_for({"hour": 7, "minute": 30}, "Europe/London")
    def nxt(after):
        return trig.get_next_fire_time(None, after).astimezone(UTC)
    assert nxt(datetime(2026, 3, 28, 8, 0, tzinfo=UTC)) == datetime(2026, 3, 29, 6, 30, tzinfo=UTC)
    assert nxt(datetime(2026, 10, 24, 7, 0, tzinfo=UTC)) == datetime(2026, 10, 25, 7, 30, tzinfo=UTC)


def test_new_occurrences_are_one_update_in_the_next_digest_not_new_alerts(store, ctx, smtp, findings):
    t0 = findings.T0
    with store.session() as s:
        high = findings.add(s)
        queue_finding_alerts(s, [high], ctx.settings, t0)
    deliver_due(ctx, t0)
    with store.session() as s:  # a burst of 7 new occurrences of the same breach
        f = s.get(type(high), high.id)
        f.occurrences = 8
        assert queue_finding_alerts(s, [f], ctx.settings, t0 + timedelta(hours=1)) == 0
        assert pending_count(s) == 1
    next_morning = datetime(2026, 11, 24, 7, 30, tzinfo=UTC)
    out = _digest(store, ctx, next_morning)
    assert (out.new, out.updated) == (0, 1)
    assert deliver_due(ctx, next_morning).as_json() == {"sent": 1, "failed": 0, "queued": 0, "pending_digest": 0}
    digest = smtp.handler.messages[-1]
    assert "New occurrences: 7 (now 8 in all)" in digest.get_body(("plain",)).get_content()
    assert _digest(store, ctx, next_morning + timedelta(days=1)).recipients == []  # nothing new: no email


def test_forced_digest_sends_now_and_the_scheduled_one_only_has_what_came_after(store, ctx, smtp, findings):
    with store.session() as s:
        queue_finding_alerts(s, [findings.add(s, severity="low")], ctx.settings, findings.T0)
    assert _digest(store, ctx, findings.T0, force=True).new == 1
    assert _digest(store, ctx, findings.T0 + timedelta(days=1)).new == 0


def test_untriaged_high_alerts_escalate_to_deputies_once_after_the_configured_hours(store, ctx, smtp, findings):
    t0 = findings.T0
    with store.session() as s:
        untouched = findings.add(s)
        viewed = findings.add(s)
        triaged = findings.add(s)
        medium = findings.add(s, severity="medium", rule="chat.staff_pupil_direct")
        queue_finding_alerts(s, [untouched, viewed, triaged, medium], ctx.settings, t0)
        findings.log(s, viewed.id, "viewed", t0 + timedelta(hours=2))
        s.get(type(triaged), triaged.id).status = "reviewing"
    deliver_due(ctx, t0)

    with store.session() as s:
        assert run_escalation(s, ctx.settings, t0 + timedelta(hours=23, minutes=59)) == 0
        assert run_escalation(s, ctx.settings, t0 + timedelta(hours=24)) == 1
        assert run_escalation(s, ctx.settings, t0 + timedelta(hours=30)) == 0
    deliver_due(ctx, t0 + timedelta(hours=24))
    (msg,) = smtp.handler.to(findings.DEPUTY)
    assert msg["Subject"].startswith("[SafeChannels] Escalation: high alert not triaged in 24 h")
    assert msg["Subject"].endswith(f"ref F-{untouched.id}")


def test_escalation_waits_for_deputies_to_be_configured(store, ctx, smtp, findings):
    ctx.settings.alerts.deputy_emails = []
    with store.session() as s:
        queue_finding_alerts(s, [findings.add(s)], ctx.settings, findings.T0)
        assert run_escalation(s, ctx.settings, findings.T0 + timedelta(days=2)) == 0
    ctx.settings.alerts.deputy_emails = [findings.DEPUTY]
    with store.session() as s:
        assert run_escalation(s, ctx.settings, findings.T0 + timedelta(days=2)) == 1
