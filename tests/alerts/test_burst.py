"""Bursts: many high/medium findings at once become one email listing them (a school's first audit
sent 49 separate emails to one DSL); a few still go one email each. Through a real SMTP server."""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta

import tomli_w
from sqlalchemy import func, select

from integration.alerts import deliver_due, queue_finding_alerts, run_escalation
from integration.store.models_alerts import OutboxEmail

BASE = "https://safechannels.northfield.sch.uk"  # make_settings' [alerts] base_url


def links(message) -> list[str]:
    return re.findall(re.escape(BASE) + r"/findings/(\d+)", message.get_body(("plain",)).get_content())


def test_more_than_the_threshold_at_once_is_one_email_per_dsl_listing_each_with_its_link(store, ctx, smtp, findings):
    ctx.settings.alerts.dsl_emails = [findings.DSL, findings.DSL2]
    ctx.settings.alerts.burst_threshold = 5
    with store.session() as s:
        batch = [findings.add(s, severity="high" if i % 3 else "medium") for i in range(7)]
        low = findings.add(s, rule="mail.out_of_hours", severity="low")
        assert queue_finding_alerts(s, [*batch, low], ctx.settings, findings.T0) == 8
        ids = sorted(f.id for f in batch)

    result = deliver_due(ctx, findings.T0)

    assert result.as_json() == {"sent": 2, "failed": 0, "queued": 0, "pending_digest": 1}
    for dsl in (findings.DSL, findings.DSL2):
        [mail] = smtp.handler.to(dsl)
        assert mail["Subject"] == "[SafeChannels] 7 findings need your attention (4 high, 3 medium)"
        assert "amy" not in mail["Subject"].lower()  # a subject never names a pupil
        listed = links(mail)
        assert sorted(map(int, listed)) == ids and str(low.id) not in listed
        html = mail.get_body(("html",)).get_content()
        assert all(f'href="{BASE}/findings/{i}"' in html for i in ids)
        assert "amy.secret@gmail.com" not in mail.as_string()  # counterparts never leave in email
    order = [int(i) for i in links(smtp.handler.to(findings.DSL)[0])]
    with store.session() as s:  # highest severity first
        from integration.store.models_audit import Finding

        severities = [s.get(Finding, i).severity for i in order]
    assert severities == sorted(severities, key=["high", "medium"].index)


def test_up_to_the_threshold_each_finding_has_its_own_email(store, ctx, smtp, findings):
    ctx.settings.alerts.burst_threshold = 3
    with store.session() as s:
        batch = [findings.add(s) for _ in range(3)]
        queue_finding_alerts(s, batch, ctx.settings, findings.T0)
    assert deliver_due(ctx, findings.T0).sent == 3
    assert sorted(m["Subject"].rsplit("F-", 1)[1] for m in smtp.handler.messages) == sorted(str(f.id) for f in batch)


def test_the_window_counts_findings_alerted_minutes_before(store, ctx, smtp, findings):
    ctx.settings.alerts.burst_threshold, ctx.settings.alerts.burst_window_minutes = 3, 10
    t1, t2, t3 = findings.T0, findings.T0 + timedelta(minutes=5), findings.T0 + timedelta(minutes=30)
    for when in (t1, t2, t3):
        with store.session() as s:
            queue_finding_alerts(s, [findings.add(s, when=when), findings.add(s, when=when)], ctx.settings, when)
    with store.session() as s:
        keys = sorted(s.scalars(select(OutboxEmail.key).order_by(OutboxEmail.id)))
    # t1: 2 ≤ 3, one each; t2: 2 + 2 > 3 within 10 min, one burst; t3: the window has passed, one each again
    assert sum(k.startswith("burst:") for k in keys) == 1 and sum(k.startswith("finding:") for k in keys) == 4
    assert deliver_due(ctx, t3).sent == 5


def test_a_burst_is_queued_and_delivered_exactly_once_and_still_escalates(store, ctx, smtp, findings):
    ctx.settings.alerts.burst_threshold = 1
    with store.session() as s:
        batch = [findings.add(s), findings.add(s, rule="drive.shared_with_pupil_personal")]
        assert queue_finding_alerts(s, batch, ctx.settings, findings.T0) == 2
    with store.session() as s:  # the audit re-run: already routed
        assert queue_finding_alerts(s, [f.id for f in batch], ctx.settings, findings.T0) == 0
    assert deliver_due(ctx, findings.T0).sent == 1
    assert deliver_due(ctx, findings.T0 + timedelta(hours=1)).sent == 0
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxEmail)) == 1
        # untriaged high findings in a burst reach the deputy like any other high alert
        assert run_escalation(s, ctx.settings, findings.T0 + timedelta(hours=25)) == 2


def test_the_first_audit_of_a_school_sends_one_burst_email_not_one_per_finding(tmp_path, database_url, smtp):
    """The generated school's first audit, through the sandbox's Google APIs, delivered over SMTP."""
    from integration import settings as settings_mod
    from integration.audit import run_audit
    from integration.roster import run_sync
    from integration.store.models_audit import Finding
    from integration.wiring import Context
    from sandbox import generate
    from sandbox.config_writer import write_config
    from sandbox.server import SandboxServer

    domain = generate("tiny", 1)
    server = SandboxServer(domain).start()
    try:
        config = write_config(domain, server.url, tmp_path / "school")
        data = tomllib.loads(config.read_text(encoding="utf-8"))
        data["database"]["url"] = database_url
        data["alerts"].update(transport="smtp", smtp_url=smtp.url, base_url="https://sc.example.sch.uk/",
                              burst_threshold=5)
        config.write_text(tomli_w.dumps(data), encoding="utf-8")
        ctx = Context(settings_mod.load(config, env={}))
        run_sync(ctx)
        run_audit(ctx)
        with ctx.store.session() as s:
            alerted = sorted(s.scalars(select(Finding.id).where(Finding.severity.in_(("high", "medium")),
                                                                Finding.status == "new")))
        assert len(alerted) > 5, "the generated school should produce a burst on its first audit"
        assert deliver_due(ctx).sent == len(ctx.settings.alerts.dsl_emails)
    finally:
        server.stop()
    [mail] = smtp.handler.to(ctx.settings.alerts.dsl_emails[0])
    body = mail.get_body(("plain",)).get_content()
    assert sorted(int(i) for i in re.findall(r"https://sc\.example\.sch\.uk/findings/(\d+)", body)) == alerted
    assert mail["Subject"].startswith(f"[SafeChannels] {len(alerted)} findings need your attention")


def test_findings_an_interrupted_audit_held_are_released_by_the_alerts_job_after_the_window(store, ctx, smtp,
                                                                                           findings):
    from integration.jobs import release_stale_held

    with store.session() as s:  # the audit held them, then died before the end of its run
        held = [findings.add(s), findings.add(s)]
        queue_finding_alerts(s, held, ctx.settings, findings.T0, hold=True)
    assert deliver_due(ctx, findings.T0).sent == 0
    assert release_stale_held(ctx, findings.T0 + timedelta(minutes=5)) == 0  # maybe still running
    assert release_stale_held(ctx, findings.T0 + timedelta(minutes=11)) == 2
    assert release_stale_held(ctx, findings.T0 + timedelta(minutes=12)) == 0  # once
    assert deliver_due(ctx, findings.T0 + timedelta(minutes=11)).sent == 2


def test_a_very_large_burst_lists_the_first_200_and_links_the_inbox_for_the_rest(store, ctx, smtp, findings):
    with store.session() as s:
        batch = [findings.add(s, severity="medium") for _ in range(203)]
        queue_finding_alerts(s, batch, ctx.settings, findings.T0)
    assert deliver_due(ctx, findings.T0).sent == 1
    [mail] = smtp.handler.messages
    body = mail.get_body(("plain",)).get_content()
    assert len(links(mail)) == 200 and f"3 more are on the dashboard: {BASE}/findings?status=open" in body
    assert mail["Subject"] == "[SafeChannels] 203 findings need your attention (203 medium)"
