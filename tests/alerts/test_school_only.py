"""No address outside the school's domains leaves in any email (issue 11 defect 3). One gate,
`integration.alerts.guard.school_only`, applied by `queue_email` to every kind: an alert, a digest and
an escalation built by the real composers and delivered over real SMTP carry no guardian or
counterpart personal address; a recipient outside the school is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from integration.alerts import deliver_due, queue_finding_alerts, run_digest, run_escalation
from integration.alerts.guard import OutsideSchool, mask, school_only
from integration.alerts.outbox import queue_email
from integration.protocols import OutgoingEmail

GUARDIAN = "mrs.parent@yahoo.co.uk"
COUNTERPART = "amy.secret@gmail.com"
PERSONAL = ("mrs.parent@", "amy.secret@", "tj.home@")


def raw(msg) -> str:
    return msg.as_string()


def assert_school_only(messages, domain: str) -> None:
    assert messages
    for msg in messages:
        text = raw(msg)
        for local in PERSONAL:
            assert local not in text
        assert all(a.endswith("@" + domain) for a in msg["To"].split(","))


def personal_evidence() -> dict:
    """Evidence an upstream rule might carry: a mailbox and a subject naming personal addresses."""
    return {"message_id": "<m1@mail.gmail.com>", "mailbox": "tj.home@hotmail.com",
            "subject": f"Fwd: from {COUNTERPART} to {GUARDIAN}"}


def test_an_alert_carries_no_guardian_or_counterpart_address(store, ctx, smtp, findings):
    with store.session() as s:
        f = findings.add(s, rule="mail.staff_to_guardian_personal", guardian=GUARDIAN, counterpart=COUNTERPART,
                         evidence=personal_evidence())
        queue_finding_alerts(s, [f], ctx.settings, findings.T0)
    deliver_due(ctx, findings.T0)
    assert_school_only(smtp.handler.messages, findings.DOMAIN)
    text = smtp.handler.messages[0].get_body(("plain",)).get_content()
    assert "Parent/carer: personal address, shown on the finding's page" in text
    assert "***@gmail.com" in text and "***@yahoo.co.uk" in text and "mr.jones@northfield.sch.uk" in text


def test_a_digest_carries_no_personal_address(store, ctx, smtp, findings):
    t0 = findings.T0
    with store.session() as s:
        f = findings.add(s, rule="mail.out_of_hours", severity="low", guardian=GUARDIAN, evidence=personal_evidence())
        queue_finding_alerts(s, [f], ctx.settings, t0)
    with store.session() as s:
        assert run_digest(s, ctx.settings, t0 + timedelta(days=1), force=True) is not None
    deliver_due(ctx, t0 + timedelta(days=1))
    assert_school_only(smtp.handler.to(findings.DSL), findings.DOMAIN)


def test_an_escalation_carries_no_personal_address(store, ctx, smtp, findings):
    t0 = findings.T0
    with store.session() as s:
        f = findings.add(s, guardian=GUARDIAN, counterpart=COUNTERPART, evidence=personal_evidence())
        queue_finding_alerts(s, [f], ctx.settings, t0)
    deliver_due(ctx, t0)
    with store.session() as s:
        assert run_escalation(s, ctx.settings, t0 + timedelta(hours=25)) == 1
    deliver_due(ctx, t0 + timedelta(hours=25))
    assert_school_only(smtp.handler.to(findings.DEPUTY), findings.DOMAIN)


@pytest.mark.parametrize("field", ["to", "cc"])
def test_a_recipient_outside_the_school_is_refused_and_nothing_is_queued(store, findings, field):
    email = OutgoingEmail(to=[findings.DSL], subject="x", text="y")
    setattr(email, field, [*getattr(email, field), "dsl.home@gmail.com"])
    with store.session() as s, pytest.raises(OutsideSchool, match=r"\*\*\*@gmail.com"):
        queue_email(s, email, "k1", kind="ack", domain=findings.DOMAIN)


@pytest.mark.parametrize("address", ["dsl@northfield.sch.uk.evil.com", "dsl@evil.com@northfield.sch.uk",
                                      "@northfield.sch.uk", "northfield.sch.uk"])
def test_look_alike_recipients_are_refused(address):
    with pytest.raises(OutsideSchool):
        school_only(OutgoingEmail(to=[address], subject="", text=""), ["northfield.sch.uk"])


def test_masking_keeps_school_and_approved_domains_and_headers_are_masked_too():
    domains = ["northfield.sch.uk", "trust.org.uk"]
    out = school_only(OutgoingEmail(to=["dsl@northfield.sch.uk"], subject=f"about {GUARDIAN}",
                                    text="a@trust.org.uk b@Gmail.com", html=f"<p>{COUNTERPART}</p>",
                                    headers={"X-Who": GUARDIAN}), domains)
    assert out.subject == "about ***@yahoo.co.uk" and out.text == "a@trust.org.uk ***@Gmail.com"
    assert out.html == "<p>***@gmail.com</p>" and out.headers == {"X-Who": "***@yahoo.co.uk"}
    assert mask("x.y+z@sub.northfield.sch.uk", domains) == "***@sub.northfield.sch.uk"
