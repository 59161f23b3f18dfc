"""Acknowledgement emails — invitations, reminders, new-starter requests and the overdue list — reach
school addresses only and carry no personal address, even when someone answered the form from their
Gmail (issue 11 defect 3; the gate is `integration.alerts.guard.school_only`). Real SMTP, sandbox Forms."""

from __future__ import annotations

from acks_env import DAY, T0

from integration.acknowledgement import run_acknowledgement
from sandbox.forms import submit_response


def test_every_acknowledgement_email_is_school_only(acks_env):
    env = acks_env()
    a, box = env.addr, env.smtp.box
    day0 = run_acknowledgement(env.ctx, T0)
    fid = day0.doc["form_id"]
    submit_response(env.domain, fid, "alice.personal@gmail.com", T0 + DAY)  # an answer from outside
    env.add_person("dave.davies", "Dave Davies", first_seen=T0 + 5 * DAY)
    for day in (3, 5, 7, 12, 14):
        env.set_clock(T0 + day * DAY)
        run_acknowledgement(env.ctx, T0 + day * DAY)
    kinds = {str(m["X-SafeChannels-Kind"]) for _, m in box.messages}
    assert {"ack-invite", "ack-reminder", "ack-new_starter"} <= kinds and len(kinds) >= 4  # and the overdue list
    for recipients, msg in box.messages:
        assert all(r.endswith("@" + env.dom) for r in recipients)
        assert "alice.personal" not in msg.as_string() and "@gmail.com" not in msg.as_string()
    assert box.to(a("alice.adams"))  # her school address was still asked
