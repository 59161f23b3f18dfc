"""A trust's audit, end to end: findings placed by the audit in their people's schools are alerted to
those schools' DSLs only, a finding relating two schools to both DSLs once each, and one in no school
to the trust's safeguarding leads — delivered to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from email import message_from_bytes, policy
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from audit_env import (
    DOMAIN,
    PUPIL,
    PUPIL2,
    TEACHER,
    TEACHER2,
    FakeContext,
    ListSource,
    SchoolSeeder,
    mail,
    make_settings,
)
from sqlalchemy import update

from connectors.mail.smtp import SmtpMailer
from integration.alerts import deliver_due
from integration.audit import run_audit
from integration.records import ActivityBatch
from integration.settings import Trust
from integration.store.models_roster import Person
from integration.tenancy import Tenant

CENTRAL = f"it.lead@{DOMAIN}"
AMY_GMAIL, BEN_GMAIL = "amy.home.2011@gmail.com", "ben.k.2012@gmail.com"
NORTH_DSL, SOUTH_DSL, LEAD = f"dsl.north@{DOMAIN}", f"dsl.south@{DOMAIN}", f"lead@{DOMAIN}"
NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)


class Inbox:
    def __init__(self):
        self.got: list[tuple[list[str], object]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.got.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 OK"

    def subjects(self, address: str) -> list[str]:
        return sorted(str(m["Subject"]) for rcpts, m in self.got if address in rcpts)


@pytest.fixture
def smtp():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield SimpleNamespace(inbox=inbox, url=f"smtp://127.0.0.1:{port}?timeout=5")
    controller.stop()


@pytest.fixture
def trust(store, tmp_path, smtp):
    """North: Tom Jones and Amy Smith; South: Mina Patel and Ben Khan; the IT lead in no school."""
    seed = SchoolSeeder(store)
    for email, role, name in ((TEACHER, "staff", "Tom Jones"), (TEACHER2, "staff", "Mina Patel"),
                              (PUPIL, "pupil", "Amy Smith"), (PUPIL2, "pupil", "Ben Khan"),
                              (CENTRAL, "staff", "Ira Lead")):
        seed.person(email, role, name)
    with store.session() as s:
        for email, school in ((TEACHER, "north"), (PUPIL, "north"), (TEACHER2, "south"), (PUPIL2, "south")):
            s.execute(update(Person).where(Person.email == email).values(school=school))
    register = tmp_path / "personal.csv"
    register.write_text(f"address,owner\n{AMY_GMAIL},{PUPIL}\n{BEN_GMAIL},{PUPIL2}\n", encoding="utf-8")
    settings = make_settings(personal_address_register=str(register))
    settings.trust = Trust(name="Northfield Learning Trust", safeguarding_leads=[LEAD])
    settings.schools = [Tenant(id="north", name="North School", org_units=["/Schools/North"], dsl_emails=[NORTH_DSL]),
                        Tenant(id="south", name="South School", org_units=["/Schools/South"], dsl_emails=[SOUTH_DSL])]
    a = settings.alerts
    a.transport, a.smtp_url, a.from_address, a.base_url = "smtp", smtp.url, f"alerts@{DOMAIN}", "https://sc.example"
    return SimpleNamespace(store=store, settings=settings,
                           mailer=lambda: SmtpMailer(settings.alerts.smtp_url, settings.alerts.from_address))


def test_an_audits_findings_alert_only_the_dsls_of_their_schools(trust, smtp):
    events = [mail(TEACHER, AMY_GMAIL, event_id="e1", message_id="<1@x>"),  # North only
              mail(TEACHER2, BEN_GMAIL, event_id="e2", message_id="<2@x>"),  # South only
              mail(TEACHER, BEN_GMAIL, event_id="e3", message_id="<3@x>"),  # a North teacher, a South pupil
              mail(CENTRAL, AMY_GMAIL, event_id="e4", message_id="<4@x>")]  # central staff, a North pupil
    run_audit(FakeContext(trust.store, trust.settings,
                          [ListSource("gmail", {"mail": [ActivityBatch("mail", events, cursor={"p": 1}, complete=True)]})]),
              now=NOW, max_lanes=1)

    result = deliver_due(trust, NOW)

    assert result.failed == 0 and result.sent == 5
    north, south = smtp.inbox.subjects(NORTH_DSL), smtp.inbox.subjects(SOUTH_DSL)
    assert len(north) == 3 and len(south) == 2  # North: e1, e3, e4; South: e2, e3
    shared = set(north) & set(south)
    assert len(shared) == 1  # the finding at both schools: one email to each DSL
    assert smtp.inbox.subjects(LEAD) == []  # every finding here has a school
    assert all(len(rcpts) == 1 for rcpts, _m in smtp.inbox.got)
    assert deliver_due(trust, NOW).sent == 0  # nothing twice
