"""A trust's audit: each school keeps its own working hours (the staff member's school decides), and
findings are placed in the schools of every person they relate, guardians through their pupils."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
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

from integration import findings as findings_mod
from integration.audit import run_audit
from integration.records import ActivityBatch
from integration.rules.base import ChannelPolicy
from integration.settings import Trust
from integration.store.models_roster import Person
from integration.tenancy import Tenant

CENTRAL = f"it.lead@{DOMAIN}"  # trust central staff: in no school
GUARDIAN = "khan.family@gmail.com"
GUARDIAN_GMAIL_TEACHER = "mina.patel.home@gmail.com"
SOUTH_HOURS = "08:00-16:30"


def trust_settings(register=None):
    settings = make_settings(working_hours="07:00-21:00",
                             **({"personal_address_register": str(register)} if register else {}))
    settings.trust = Trust(name="Northfield Learning Trust", safeguarding_leads=[f"lead@{DOMAIN}"])
    settings.schools = [
        Tenant(id="north", name="North", org_units=["/Schools/North"], dsl_emails=[f"dsl.north@{DOMAIN}"]),
        Tenant(id="south", name="South", org_units=["/Schools/South"], dsl_emails=[f"dsl.south@{DOMAIN}"],
               working_hours=SOUTH_HOURS),
    ]
    return settings


@pytest.fixture
def trust(store):
    """North: Tom Jones and Amy Smith; South: Mina Patel and Ben Khan; the IT lead in no school."""
    seed = SchoolSeeder(store)
    ids = {"teacher": seed.person(TEACHER, "staff", "Tom Jones"), "teacher2": seed.person(TEACHER2, "staff", "Mina Patel"),
           "pupil": seed.person(PUPIL, "pupil", "Amy Smith"), "pupil2": seed.person(PUPIL2, "pupil", "Ben Khan"),
           "central": seed.person(CENTRAL, "staff", "Ira Lead")}
    seed.guardian(GUARDIAN, [ids["pupil2"]])
    with store.session() as s:
        for email, school in ((TEACHER, "north"), (PUPIL, "north"), (TEACHER2, "south"), (PUPIL2, "south")):
            s.execute(update(Person).where(Person.email == email).values(school=school))
    return ids


def audit(store, settings, *events) -> list[dict]:
    batch = ActivityBatch("mail", list(events), cursor={"page": 1}, complete=True)
    run_audit(FakeContext(store, settings, [ListSource("gmail", {"mail": [batch]})]),
              now=datetime(2026, 3, 11, 12, 0, tzinfo=UTC), max_lanes=1)
    with store.session() as s:
        return findings_mod.listing(s, findings_mod.list_findings(s))


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 10, hour, minute, tzinfo=UTC)  # GMT in March: local time is UTC


def test_out_of_hours_uses_the_working_hours_of_the_staff_members_school(store, trust):
    docs = audit(store, trust_settings(),
                 mail(TEACHER2, PUPIL, when=at(17), event_id="e1", message_id="<1>"),  # South's day ended 16:30
                 mail(TEACHER, PUPIL2, when=at(17), event_id="e2", message_id="<2>"),  # North works to 21:00
                 mail(CENTRAL, PUPIL, when=at(17), event_id="e3", message_id="<3>"),  # [channels]: 07:00-21:00
                 mail(CENTRAL, PUPIL2, when=at(21, 30), event_id="e4", message_id="<4>"))
    late = sorted((d["staff"], d["pupil"], d["schools"], d["school"]) for d in docs if d["rule"] == "mail.out_of_hours")
    assert late == [(CENTRAL, PUPIL2, ["south"], "south"), (TEACHER2, PUPIL, ["north", "south"], "south")]


def test_a_single_school_keeps_one_window_and_reads_no_placement(store, trust):
    policy = ChannelPolicy.from_settings(make_settings(working_hours="08:00-16:30"), {TEACHER: "north"})
    assert (policy.school_hours, policy.school_of) == ({}, {})
    assert not policy.in_working_hours(at(17), TEACHER) and policy.in_every_school_hours(at(12))
    trust_policy = ChannelPolicy.from_settings(trust_settings(), {TEACHER2: "south"})
    assert trust_policy.school_hours == {"south": (8 * 60, 16 * 60 + 30)}
    assert trust_policy.in_working_hours(at(17), TEACHER) and not trust_policy.in_working_hours(at(17), TEACHER2)
    assert not trust_policy.in_every_school_hours(at(17)) and trust_policy.in_every_school_hours(at(9))


def test_a_guardian_finding_is_at_the_school_of_the_guardians_pupil(store, trust, tmp_path):
    register = tmp_path / "personal.csv"
    register.write_text(f"address,owner\n{GUARDIAN_GMAIL_TEACHER},{TEACHER}\n", encoding="utf-8")
    docs = audit(store, trust_settings(register),
                 mail(GUARDIAN_GMAIL_TEACHER, GUARDIAN, mailbox=GUARDIAN, direction="received", when=at(10)))
    [doc] = [d for d in docs if d["rule"] == "mail.staff_personal_to_guardian"]
    assert doc["staff"] == TEACHER and doc["evidence"]["guardian_of"] == [PUPIL2]
    assert doc["schools"] == ["north", "south"] and doc["school"] == "north"
