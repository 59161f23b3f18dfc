"""The Google roster source against the sandbox: every request conforms to the discovery documents,
short pages and nested groups are followed, odd records are skipped, call counts stay minimal."""

from __future__ import annotations

import logging
from collections import Counter

from connectors.google.classroom import course_from_wire, enrolment_from_wire, guardian_from_wire
from connectors.google.directory import parse_items, user_from_wire
from connectors.google.doctor import google_checks
from connectors.google.roster import GoogleRosterSource
from integration import settings as settings_mod
from sandbox.config_writer import write_config
from sandbox.school import classify


def snapshot(g, client, **kw):
    return GoogleRosterSource(client, admin=g.admin, **kw).fetch_roster()


def test_every_request_conforms_to_the_discovery_documents(google, tmp_path):
    g = google("tiny", strict=True)
    client = g.client()
    snap = snapshot(g, client, pupil_groups=[f"pupils@{g.domain.domain}"])
    assert snap.errors == {} and snap.complete == {"users", "org_units", "groups", "members", "courses",
                                                   "enrolments", "guardians"}
    settings = settings_mod.load(write_config(g.domain, g.server.url, tmp_path / "cfg"), env={})
    checks = google_checks(settings, client)
    assert all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert g.server.problems() == []


def test_short_pages_are_followed_to_the_end(google):
    caps = {"directory.users.list": 7, "classroom.courses.list": 3, "classroom.courses.students.list": 4,
            "classroom.courses.teachers.list": 1, "classroom.userProfiles.guardians.list": 5}
    full = snapshot(g := google("tiny"), g.client())
    short = snapshot(s := google("tiny", page_caps=caps), s.client())
    assert sorted(map(repr, short.users)) == sorted(map(repr, full.users))
    assert sorted(map(repr, short.enrolments)) == sorted(map(repr, full.enrolments))
    assert sorted(map(repr, short.guardians)) == sorted(map(repr, full.guardians))
    students = Counter(e.course_id for e in full.enrolments if e.role == "student")
    assert max(students.values()) > 4  # so the roster pages really were followed
    assert s.server.problems() == []


def test_nested_pupil_groups_are_expanded_with_one_batch_per_level(google):
    g = google("tiny")
    g.domain.pupil_groups = [f"pupils@{g.domain.domain}"]
    snap = snapshot(g, g.client(), pupil_groups=g.domain.pupil_groups)
    groups = {m.group_email for m in snap.members}
    assert groups == {f"pupils@{g.domain.domain}", f"year7@{g.domain.domain}", f"year8@{g.domain.domain}"}
    batches = [e for e in g.server.requests(include_batch_outer=True) if e.path == "/batch"]
    assert len(batches) >= 2  # classroom rosters + two member levels
    member_calls = g.server.requests("directory.members.list")
    assert len(member_calls) == 3 and all(e.batch for e in member_calls)


def test_call_count_is_the_minimum(google):
    g = google("demo")
    client = g.client()
    snapshot(g, client)
    dom = g.domain
    users = sum(1 for u in dom.users if not u.deleted)
    courses = sum(1 for c in dom.courses if c.course_state != "DECLINED")
    assert client.stats.calls == {"directory": -(-users // 500) + 2, "classroom": 1 + 2 * courses + 1}
    assert client.stats.round_trips["classroom"] <= 2 + -(-2 * courses // 50)


def test_a_missing_configured_group_is_named(google):
    g = google("tiny")
    snap = snapshot(g, g.client(), staff_groups=[f"nosuch@{g.domain.domain}"])
    assert "members" not in snap.complete and "groups" in snap.complete
    assert f"nosuch@{g.domain.domain}" in snap.errors["members"]


def test_the_snapshot_classifies_like_the_reference(google):
    g = google("tiny", 4)
    snap = snapshot(g, g.client())
    assert {u.email for u in snap.users} == set(classify(g.domain))


def test_wire_records_are_normalised_and_odd_ones_skipped(caplog):
    u = user_from_wire({"id": "1", "primaryEmail": "A.Pupil@School.SCH.UK", "name": {"givenName": "A"},
                        "aliases": ["X@School.sch.uk"], "orgUnitPath": "/Pupils"})
    assert (u.email, u.name, u.family_name, u.aliases) == ("a.pupil@school.sch.uk", "A", "", ("x@school.sch.uk",))
    with caplog.at_level(logging.WARNING):
        users = parse_items([{"id": "2"}, "junk", {"id": "3", "primaryEmail": "b@s.uk"}], user_from_wire, "user")
    assert [x.email for x in users] == ["b@s.uk"]
    assert caplog.text.count("roster.record_skipped") == 2
    assert course_from_wire({"id": "9"}).name == "9"
    e = enrolment_from_wire("9", "student", {"userId": "5", "profile": {"emailAddress": "P@S.UK"}})
    assert (e.email, e.name) == ("p@s.uk", "")
    guardian = guardian_from_wire({"studentId": "5", "invitedEmailAddress": "Mum@Example.com"})
    assert guardian.guardian_email == "mum@example.com"
