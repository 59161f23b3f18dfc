"""A whole round, day by day on a simulated clock: requests, responses (aliases, duplicates,
pupils, outsiders, resubmissions), reminders, a new starter, a leaver, escalation — and a
re-run at every step that sends nothing twice. Emails arrive at a real SMTP server."""

from __future__ import annotations

from acks_env import DAY, ESCALATE, T0

from integration.acknowledgement import run_acknowledgement
from sandbox.forms import resubmit, submit_response


def run(env, when, send=True):
    env.set_clock(when)
    result = run_acknowledgement(env.ctx, when, send=send)
    again = run_acknowledgement(env.ctx, when, send=send)  # a second worker, or an operator re-running
    assert again.queued.total == 0 and again.doc == result.doc
    return result


def outstanding(result) -> list[str]:
    return [s["email"].split("@")[0] for s in result.doc["staff"] if not s["acknowledged_at"]]


def acknowledged(result) -> list[str]:
    return [s["email"].split("@")[0] for s in result.doc["staff"] if s["acknowledged_at"]]


def test_a_round_from_publication_to_escalation(acks_env):
    env = acks_env()
    a, box = env.addr, env.smtp.box

    day0 = run(env, T0)
    fid = day0.doc["form_id"]
    link = env.server.domain.extra["forms"].forms[fid].responder_uri
    assert outstanding(day0) == ["alice.adams", "bob.brown", "carol.clark", "gus.governor"]  # governors included
    for who in ("alice.adams", "bob.brown", "carol.clark", "gus.governor"):
        (msg,) = box.to(a(who))
        assert msg["X-SafeChannels-Kind"] == "ack-invite" and link in box.text(msg)
    for nobody in ("pat.pupil", "old.pupil", "it.admin"):
        assert box.to(a(nobody)) == []

    first = submit_response(env.domain, fid, a("alice.adams"), T0 + DAY)
    submit_response(env.domain, fid, a("pat.pupil"), T0 + DAY)
    submit_response(env.domain, fid, "alice.personal@gmail.com", T0 + DAY)
    submit_response(env.domain, fid, a("nobody.known"), T0 + DAY)
    submit_response(env.domain, fid, a("c.clark"), T0 + 2 * DAY)  # Carol, through her alias
    submit_response(env.domain, fid, a("alice.adams"), T0 + 2 * DAY)  # Alice again
    submit_response(env.domain, fid, a("bob.brown"), T0 + 2 * DAY, confirm=False)  # box not ticked
    resubmit(env.domain, fid, first, T0 + 2 * DAY + DAY / 2)  # Alice edits her first response

    day3 = run(env, T0 + 3 * DAY)
    assert acknowledged(day3) == ["alice.adams", "carol.clark"]
    assert outstanding(day3) == ["bob.brown", "gus.governor"]
    alice = next(s for s in day3.doc["staff"] if s["email"] == a("alice.adams"))
    assert alice["acknowledged_at"] == "2026-11-03T08:00:00Z"  # the first submission, not the resubmission
    assert day3.queued.counts["reminder"] == 2
    assert box.kinds(a("bob.brown")) == ["ack-invite", "ack-reminder"]
    assert box.kinds(a("alice.adams")) == ["ack-invite"]

    env.add_person("dave.davies", "Dave Davies", first_seen=T0 + 5 * DAY)  # a new starter
    day5 = run(env, T0 + 5 * DAY)
    assert box.kinds(a("dave.davies")) == ["ack-new_starter"]
    assert link in box.text(box.to(a("dave.davies"))[0])
    assert day5.queued.counts == {"invite": 0, "new_starter": 1, "reminder": 0, "escalation": 0}

    env.leave("bob.brown", T0 + 6 * DAY)
    day7 = run(env, T0 + 7 * DAY)
    assert outstanding(day7) == ["dave.davies", "gus.governor"]  # Bob left: no longer chased
    assert box.kinds(a("bob.brown")) == ["ack-invite", "ack-reminder"]
    assert box.kinds(a("gus.governor"))[-1] == "ack-reminder"

    run(env, T0 + 8 * DAY)  # Dave's day-3 reminder (counted from when he joined)
    assert box.kinds(a("dave.davies")) == ["ack-new_starter", "ack-reminder"]

    head, dsl = ESCALATE.format(d=env.dom), env.ctx.settings.alerts.dsl_emails[0]
    run(env, T0 + 13 * DAY)
    assert box.to(head) == []  # not before the deadline
    day14 = run(env, T0 + 14 * DAY)
    assert day14.queued.counts["escalation"] == 2
    for r in (head, dsl):
        (esc,) = box.to(r)
        body = box.text(esc)
        assert "Gus Governor" in body and "Dave Davies" not in body and "Bob Brown" not in body  # Dave not yet due
        assert link in body

    run(env, T0 + 15 * DAY)
    assert len(box.to(head)) == 1  # once per round ...
    day21 = run(env, T0 + 21 * DAY)
    assert len(box.to(head)) == 2  # ... and a weekly repeat while anyone is overdue
    assert "Dave Davies" in box.text(box.to(head)[-1])

    assert day21.doc["acknowledged"] == 2 and day21.doc["outstanding"] == 2
    gus = next(s for s in day21.doc["staff"] if s["email"] == a("gus.governor"))
    assert gus["reminders_sent"] == 3  # days 3, 7 and 12
    assert set(day21.doc) == {"school", "policy_version", "form_id", "acknowledged", "outstanding", "staff"}

    total = len(box.messages)
    run(env, T0 + 21 * DAY + DAY / 4)
    assert len(box.messages) == total
    assert env.server.problems() == []


def test_plain_acks_invites_but_leaves_reminders_and_escalation_to_remind(acks_env):
    """`acks` without --remind (``invite``) sends each first invitation once, and nothing else."""
    env = acks_env()
    a, box = env.addr, env.smtp.box
    env.set_clock(T0)
    day0 = run_acknowledgement(env.ctx, T0, send=False, invite=True)
    assert day0.queued.counts["invite"] == 4 and box.kinds(a("bob.brown")) == ["ack-invite"]
    env.set_clock(T0 + 20 * DAY)  # reminders and the overdue list are due now
    late = run_acknowledgement(env.ctx, T0 + 20 * DAY, send=False, invite=True)
    assert late.queued.total == 0 and box.kinds(a("bob.brown")) == ["ack-invite"]
    assert box.to(ESCALATE.format(d=env.dom)) == []
    remind = run_acknowledgement(env.ctx, T0 + 20 * DAY, send=True)
    assert remind.queued.counts["reminder"] == 4 and remind.queued.counts["escalation"] >= 1
