"""Requests queued for someone who then leaves are cancelled, not sent: at delivery (the worker,
under the row's lease) and by the next acknowledgement run. The roster comes from a real sync
of the sandbox domain, emails go to a real SMTP server, the clock is simulated. DSL alerts about
the same person are always delivered."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from acks_env import DAY, T0
from sqlalchemy import select

from integration.__main__ import main
from integration.acknowledgement import run_acknowledgement
from integration.alerts import queue_finding_alerts
from integration.jobs import alerts as alerts_job
from integration.roster import run_sync
from integration.store.models_acks import AckNotice
from integration.store.models_alerts import OutboxEmail
from integration.store.models_audit import Finding

DOWN = "451 4.3.0 Relay busy, try again later"


@pytest.fixture(autouse=True)
def _quiet_smtp_server_logs():
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection at INFO


def synced_env(acks_env, when: datetime):
    """An acknowledgement environment whose roster is read from the sandbox by a real sync."""
    env = acks_env(seed_roster=False)
    assert run_sync(env.ctx, now=when).status == "ok"
    return env


def staff(env, when: datetime = T0) -> list[str]:
    """Who the round chases now (a status-only run: nothing queued, nothing cancelled)."""
    return [s["email"] for s in run_acknowledgement(env.ctx, when, send=False).doc["staff"]]


def add_starter(env, local: str, when: datetime) -> str:
    """A new member of staff appears in the domain and reaches us through a sync."""
    env.domain.add_user(env.addr(local), "Nina", "Newman", "/Staff/Teaching", role_truth="staff")
    assert run_sync(env.ctx, now=when).added == 1
    return env.addr(local)


def add_finding(env, about: str, when: datetime) -> int:
    """A high finding about a member of staff, routed to the DSL as the audit engine does."""
    with env.ctx.store.session() as s:
        f = Finding(fingerprint=f"fp-{about}", rule="mail.staff_personal_to_pupil", severity="high", status="new",
                    staff=about, pupil=env.addr("amy.pupil"), counterpart="amy.secret@gmail.com",
                    counterpart_hash="h", confidence="known", source="reports.gmail",
                    evidence={"subject": "Homework help"}, policy=["002 §43"], first_seen=when, last_seen=when,
                    occurrences=1, created_at=when, updated_at=when)
        s.add(f)
        s.flush()
        assert queue_finding_alerts(s, [f], env.ctx.settings, when) == 1
        return f.id


def outbox(env, kind: str | None = None, to: str | None = None) -> list[OutboxEmail]:
    with env.ctx.store.session() as s:
        rows = [r for r in s.scalars(select(OutboxEmail).order_by(OutboxEmail.id)) if kind in (None, r.kind)]
        s.expunge_all()
    return [r for r in rows if to is None or to in r.recipients]


def ack_request(env, to: str) -> OutboxEmail:
    """The latest acknowledgement request (invite, new-starter or reminder) queued to ``to``."""
    return [r for r in outbox(env, "ack", to) if r.headers.get("X-SafeChannels-Kind") != "ack-escalation"][-1]


def ack_kinds(env, address: str) -> list[str]:
    """Acknowledgement emails received (the DSL, a member of staff too, also receives alerts)."""
    return [k for k in env.smtp.box.kinds(address) if k.startswith("ack-")]


def leave(env, address: str, when: datetime, how: str = "suspend") -> None:
    """The person leaves in the domain; the roster learns it at the next sync."""
    if how == "suspend":
        env.domain.suspend_user(address)
    else:
        env.domain.move_user(address, how)
    assert run_sync(env.ctx, now=when).status == "ok"


def cancellations(caplog, name: str) -> list[dict]:
    return [r.fields for r in caplog.records if r.getMessage() == name]


def test_a_starter_who_leaves_before_the_worker_delivers_gets_nothing(acks_env, caplog):
    env = synced_env(acks_env, T0 - DAY)
    box, dsl = env.smtp.box, env.ctx.settings.alerts.dsl_emails[0]
    env.set_clock(T0)
    run_acknowledgement(env.ctx, T0)
    everyone = staff(env)
    assert len(everyone) >= 3 and all(ack_kinds(env, a) == ["ack-invite"] for a in everyone)

    day5 = T0 + 5 * DAY
    nina = add_starter(env, "nina.newman", day5)
    box.reply = DOWN  # the relay is busy: everything queued today waits in the outbox
    env.set_clock(day5)
    queued = run_acknowledgement(env.ctx, day5)
    assert queued.queued.counts["new_starter"] == 1 and queued.queued.counts["reminder"] == len(everyone)
    finding = add_finding(env, nina, day5)
    assert box.to(nina) == [] and ack_request(env, nina).status == "pending"

    leave(env, nina, day5 + timedelta(hours=1))  # Nina leaves before the relay is back
    box.reply = ""
    caplog.set_level(logging.INFO)
    summary = alerts_job(env.ctx, day5 + 2 * timedelta(hours=1))  # the worker's delivery, after the backoff

    assert box.to(nina) == []
    row = ack_request(env, nina)
    assert row.status == "cancelled" and row.sent_at is None
    assert row.last_error == "recipient no longer asked to acknowledge: status suspended"
    assert all(ack_kinds(env, a) == ["ack-invite", "ack-reminder"] for a in everyone)  # the others get theirs
    (alert,) = [m for m in box.to(dsl) if m["X-SafeChannels-Kind"] is None]
    assert f"F-{finding}" in alert["Subject"] and "Nina Newman" in box.text(alert)  # DSL alert: never cancelled
    assert summary == {"sent": len(everyone) + 1, "failed": 0, "queued": 0, "pending_digest": 0}

    (logged,) = cancellations(caplog, "alerts.cancelled")
    assert logged == {"outbox_id": row.id, "reason": row.last_error}
    assert all("nina" not in r.getMessage() + json.dumps(getattr(r, "fields", {}), default=str)
               for r in caplog.records if r.getMessage().endswith("cancelled"))

    env.set_clock(day5 + 3 * DAY)
    later = run_acknowledgement(env.ctx, day5 + 3 * DAY)  # nothing new for Nina, nothing sent twice
    assert nina not in [s["email"] for s in later.doc["staff"]]
    assert box.to(nina) == [] and ack_request(env, nina).status == "cancelled"


def test_the_acknowledgement_run_cancels_requests_to_people_who_left(acks_env, caplog):
    env = synced_env(acks_env, T0 - DAY)
    env.domain.ensure_org_unit("/Governors")
    env.domain.add_user(env.addr("gus.governor"), "Gus", "Governor", "/Governors", role_truth="other")
    run_sync(env.ctx, now=T0 - DAY)
    box = env.smtp.box
    gus, teacher = env.addr("gus.governor"), staff(env)[0]

    box.reply = DOWN
    env.set_clock(T0)
    first = run_acknowledgement(env.ctx, T0)  # every invite stays queued
    assert gus in [s["email"] for s in first.doc["staff"]] and box.messages == []

    leave(env, gus, T0 + DAY, how="/Volunteers")  # still active, but no longer in include_org_units
    leave(env, teacher, T0 + DAY)
    box.reply = ""
    caplog.set_level(logging.INFO)
    env.set_clock(T0 + DAY)
    result = run_acknowledgement(env.ctx, T0 + DAY)

    assert result.cancelled == 2 and result.as_json()["cancelled"] == 2
    assert box.to(gus) == [] and box.to(teacher) == []
    assert ack_request(env, gus).last_error.endswith("org unit not in [acknowledgement] include_org_units")
    assert ack_request(env, teacher).last_error.endswith("status suspended")
    assert result.delivery.cancelled == 0  # cancelled by the run, before delivery
    assert sorted(r[0] for r, _m in box.messages) == sorted(s["email"] for s in result.doc["staff"])
    logged = cancellations(caplog, "acks.email_cancelled")
    assert sorted(e["outbox_id"] for e in logged) == sorted(ack_request(env, a).id for a in (gus, teacher))
    assert {e["kind"] for e in logged} == {"invite"}
    with env.ctx.store.session() as s:  # the record of what was queued stays: nothing is queued twice
        assert s.scalar(select(AckNotice).where(AckNotice.recipient == gus)) is not None


def test_escalations_and_alerts_are_never_cancelled(acks_env):
    """The escalation lists the overdue (a leaver among them when it was composed) and goes to the head
    and the DSL, as a finding alert about a leaver does: only requests to the leaver are cancelled."""
    env = synced_env(acks_env, T0 - DAY)
    box = env.smtp.box
    env.set_clock(T0)
    run_acknowledgement(env.ctx, T0)
    teacher = staff(env)[0]
    box.reply = DOWN
    day14 = T0 + 14 * DAY
    env.set_clock(day14)
    assert run_acknowledgement(env.ctx, day14).queued.counts["escalation"] == 2
    add_finding(env, teacher, day14)
    leave(env, teacher, day14 + timedelta(hours=1))
    box.reply = ""
    alerts_job(env.ctx, day14 + 2 * timedelta(hours=1))
    assert ack_kinds(env, teacher) == ["ack-invite"]  # the day-12 reminder was cancelled
    assert ack_request(env, teacher).status == "cancelled"
    escalations = [r for r in outbox(env, "ack") if r.headers.get("X-SafeChannels-Kind") == "ack-escalation"]
    assert len(escalations) == 2 and {r.status for r in escalations} == {"sent"}
    assert {r.status for r in outbox(env, "alert")} == {"sent"}


def test_alerts_cli_keeps_its_json_and_says_what_was_cancelled(acks_env, capsys):
    now = datetime.now(UTC).replace(microsecond=0)  # the CLI delivers on the real clock
    env = synced_env(acks_env, now - DAY)
    first, second = staff(env, now)[:2]
    env.smtp.box.reply = DOWN
    env.set_clock(now)
    run_acknowledgement(env.ctx, now)
    leave(env, first, now)
    leave(env, second, now)
    env.smtp.box.reply = ""
    retry(env, now, later=ack_request(env, second).id)  # the relay is back; the second one retries later

    assert main(["--config", str(env.config), "alerts", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    # cancelled: in none; the second one is not due yet, so not queued either
    assert doc == {"sent": len(staff(env, now)), "failed": 0, "queued": 0, "pending_digest": 0}
    assert env.smtp.box.to(first) == [] and ack_request(env, first).status == "cancelled"

    retry(env, now)
    assert main(["--config", str(env.config), "alerts"]) == 0
    assert "sent 0, failed 0, queued 0, waiting for the digest 0, cancelled 1 (recipient left)" in \
        capsys.readouterr().out
    assert env.smtp.box.to(second) == [] and ack_request(env, second).status == "cancelled"


def retry(env, now: datetime, later: int | None = None) -> None:
    """Make every unsent row due at ``now`` (row ``later`` not due until an hour after: an explicit
    `alerts` run retries rows in their backoff, but never sends one before it is due)."""
    with env.ctx.store.session() as s:
        for row in s.scalars(select(OutboxEmail).where(OutboxEmail.status == "pending")):
            row.next_attempt_at = row.due_at = now + timedelta(hours=1) if row.id == later else now


def test_acks_remind_says_how_many_queued_emails_it_cancelled(acks_env, capsys):
    now = datetime.now(UTC).replace(microsecond=0)  # the CLI runs on the real clock
    env = synced_env(acks_env, now - DAY)
    first = staff(env, now)[0]
    env.smtp.box.reply = DOWN
    env.set_clock(now)
    run_acknowledgement(env.ctx, now)  # every invite stays queued
    leave(env, first, now)
    env.smtp.box.reply = ""
    assert main(["--config", str(env.config), "acks", "--remind"]) == 0
    assert "cancelled: 1 queued email(s) to people who have left" in capsys.readouterr().out
    assert env.smtp.box.to(first) == [] and ack_request(env, first).status == "cancelled"


def test_someone_whose_invite_was_cancelled_is_invited_again_on_return(acks_env):
    env = synced_env(acks_env, T0 - DAY)
    box = env.smtp.box
    teacher = staff(env)[0]
    box.reply = DOWN
    env.set_clock(T0)
    run_acknowledgement(env.ctx, T0)  # every invite stays queued
    leave(env, teacher, T0 + DAY)
    box.reply = ""
    env.set_clock(T0 + DAY)
    assert run_acknowledgement(env.ctx, T0 + DAY).cancelled == 1
    assert box.to(teacher) == [] and ack_request(env, teacher).status == "cancelled"

    env.domain.unsuspend_user(teacher)  # back (a suspension lifted, a leaver re-employed)
    assert run_sync(env.ctx, now=T0 + 2 * DAY).status == "ok"
    env.set_clock(T0 + 2 * DAY)
    back = run_acknowledgement(env.ctx, T0 + 2 * DAY)
    assert back.queued.counts["invite"] == 1 and ack_kinds(env, teacher) == ["ack-invite"]
    assert ack_request(env, teacher).status == "sent"

    env.set_clock(T0 + 3 * DAY)
    again = run_acknowledgement(env.ctx, T0 + 3 * DAY)  # asked once: never invited twice (reminders go on)
    assert again.queued.counts["invite"] == 0 and ack_kinds(env, teacher).count("ack-invite") == 1
    with env.ctx.store.session() as s:
        days = sorted(n.day for n in s.scalars(select(AckNotice).where(AckNotice.recipient == teacher,
                                                                      AckNotice.kind == "invite")))
    assert days == [0, 1]


def test_someone_who_was_invited_and_comes_back_is_not_invited_twice(acks_env):
    env = synced_env(acks_env, T0 - DAY)
    teacher = staff(env)[0]
    env.set_clock(T0)
    run_acknowledgement(env.ctx, T0)  # delivered
    leave(env, teacher, T0 + DAY)
    env.domain.unsuspend_user(teacher)
    assert run_sync(env.ctx, now=T0 + 2 * DAY).status == "ok"
    env.set_clock(T0 + 2 * DAY)
    assert run_acknowledgement(env.ctx, T0 + 2 * DAY).queued.counts["invite"] == 0
    assert ack_kinds(env, teacher) == ["ack-invite"]
