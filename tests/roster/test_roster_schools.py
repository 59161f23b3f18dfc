"""A trust's roster: people and courses placed in their schools by org unit, a move re-places a person
while their old findings stay at the old school, a share across two schools is a finding at both,
and `roster` / `findings` take --school (real sandbox over HTTP; real CLI processes)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from test_roster_cli import cli
from trust_env import NORTH, SOUTH, make_two_school_trust

from integration import findings as findings_mod
from integration.audit import run_audit
from integration.records import ActivityBatch, DriveItem, Permission
from integration.roster import list_roster, run_sync
from integration.store.models_audit import Finding
from integration.store.models_roster import Course, Person

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def trust(school, database_url):
    contexts: list = []
    env, want = make_two_school_trust(school("tiny", 1), database_url, contexts)
    yield env, want
    for ctx in contexts:
        if "store" in ctx.__dict__:
            ctx.store.dispose()


def stored_schools(ctx) -> dict[str, str | None]:
    with ctx.store.session() as s:
        return dict(s.execute(select(Person.email, Person.school)).all())


def course_schools(ctx) -> dict[str, str | None]:
    with ctx.store.session() as s:
        return dict(s.execute(select(Course.name, Course.school)).all())


def teacher_and_pupils(dom, course_name: str):
    c = next(c for c in dom.courses if c.name == course_name)
    by_id = dom.user_by_id()
    return by_id[c.owner_id].primary_email, [by_id[i].primary_email for i in c.student_ids]


@dataclass
class Shares:
    """An activity source of Drive items (the shape integration/records.DriveItem that the Drive connector
    yields), one batch per audit run, so a test decides what the audit reads."""

    name: str = "drive"
    runs: list[list[DriveItem]] = field(default_factory=list)
    streams: tuple[str, ...] = ("drive",)

    def fetch(self, stream, cursors, *, since, until, people):
        items = self.runs.pop(0) if self.runs else []
        yield ActivityBatch("drive", items, cursor={"run": len(self.runs)}, complete=True)

    def check(self):
        return []


class AuditContext:
    """The engine's view of a deployment: the trust's store and settings, and the in-test Drive source."""

    def __init__(self, ctx, source: Shares):
        self.store, self.settings, self.source = ctx.store, ctx.settings, source

    def activity_sources(self) -> list:
        return [self.source]


def share(item_id: str, owner: str, pupil: str) -> DriveItem:
    return DriveItem(item_id, f"Notes {item_id}", "application/pdf", owner,
                     (Permission("user", "owner", email=owner), Permission("user", "reader", email=pupil)),
                     modified=NOW - timedelta(hours=1))


def audit(env, *items: DriveItem, when: datetime = NOW) -> list[dict]:
    run_audit(AuditContext(env.ctx, Shares(runs=[list(items)])), now=when, max_lanes=1)
    with env.ctx.store.session() as s:
        return findings_mod.listing(s, findings_mod.list_findings(s))


def test_a_trust_sync_places_staff_pupils_and_courses_by_org_unit(trust):
    env, want = trust
    dom = env.domain
    maths_7c = next(c for c in dom.courses if c.name == "7C Maths")
    maths_7c.owner_id = next(u.id for u in dom.users if u.primary_email == dom.admin_email)  # no placed owner
    first = run_sync(env.ctx, now=NOW)
    placed = stored_schools(env.ctx)
    assert {e: placed[e] for e in want} == want
    assert {s for s in want.values()} == {NORTH, SOUTH, None}  # central accounts are in no school
    courses = course_schools(env.ctx)
    assert courses["7A English"] == NORTH
    assert courses["8B English"] == NORTH  # the owner's school, though its pupils are all at South
    assert courses["7C Maths"] == SOUTH  # owner unplaced: its teacher's school, not its North pupils'
    assert courses["8D Maths"] == SOUTH
    again = run_sync(env.ctx, now=NOW + timedelta(hours=4))
    assert (again.added, again.updated, again.removed) == (0, 0, 0)
    assert first.staff == again.staff and stored_schools(env.ctx) == placed

    listed = {r["email"] for r in list_roster(env.ctx.store) if r["role"] != "guardian"}
    rows = list_roster(env.ctx.store, school=SOUTH, tenants=env.ctx.settings.tenants)
    assert {r["email"] for r in rows if r["role"] != "guardian"} == {e for e in listed if want.get(e) == SOUTH}
    assert all(r["school"] == SOUTH for r in rows)
    south_guardians = {r["email"] for r in rows if r["role"] == "guardian"}
    north_guardians = {r["email"] for r in list_roster(env.ctx.store, "guardian", school=NORTH)}
    assert south_guardians and north_guardians  # a guardian is at their pupils' school
    every = {r["email"]: r["school"] for r in list_roster(env.ctx.store, "guardian", tenants=env.ctx.settings.tenants)}
    assert set(every) == south_guardians | north_guardians
    assert all(every[g] == NORTH for g in north_guardians)  # pupils at both: the first school in config order


def test_a_person_who_moves_school_is_re_placed_and_their_old_finding_stays_at_the_old_school(trust):
    env, want = trust
    dom = env.domain
    run_sync(env.ctx, now=NOW)
    teacher, _ = teacher_and_pupils(dom, "7A English")
    _, year8 = teacher_and_pupils(dom, "8B English")  # pupils at South whom the 7A teacher does not teach
    pupil = next(e for e, s in want.items() if s == NORTH and e.startswith("26")
                 and e not in teacher_and_pupils(dom, "7A English")[1])  # a North pupil outside 7A
    [before] = audit(env, share("f1", teacher, pupil))
    assert (before["rule"], before["schools"], before["school"]) == ("drive.direct_share_outside_course", [NORTH],
                                                                      NORTH)

    u = next(u for u in dom.users if u.primary_email == pupil)
    dom.move_user(pupil, u.org_unit_path.replace("/Schools/North/", "/Schools/South/"))
    moved = run_sync(env.ctx, now=NOW + timedelta(days=1))
    assert moved.updated >= 1 and stored_schools(env.ctx)[pupil] == SOUTH
    with env.ctx.store.session() as s:
        [kept] = findings_mod.listing(s, findings_mod.list_findings(s))
    assert kept["schools"] == [NORTH]  # the history stays where it happened

    later = audit(env, share("f2", teacher, pupil), when=NOW + timedelta(days=1, hours=1))
    new = next(f for f in later if f["evidence"]["file_id"] == "f2")
    assert new["schools"] == [NORTH, SOUTH] and new["school"] == NORTH  # the teacher's school comes first
    assert next(f for f in later if f["id"] == before["id"])["schools"] == [NORTH]


def test_a_north_teacher_sharing_with_a_south_pupil_is_one_finding_at_both_schools(trust):
    env, want = trust
    run_sync(env.ctx, now=NOW)
    teacher, _ = teacher_and_pupils(env.domain, "7A English")
    _, south_pupils = teacher_and_pupils(env.domain, "8B English")
    [f] = audit(env, share("f9", teacher, south_pupils[0]))
    assert (f["staff"], f["pupil"]) == (teacher, south_pupils[0])
    assert f["schools"] == [NORTH, SOUTH] and f["school"] == NORTH
    with env.ctx.store.session() as s:
        assert [x.id for x in findings_mod.list_findings(s, school=SOUTH)] == [f["id"]]
        assert [x.id for x in findings_mod.list_findings(s, school=NORTH)] == [f["id"]]
        assert s.scalar(select(Finding.id).where(Finding.id != f["id"])) is None
    again = audit(env, share("f9", teacher, south_pupils[0]), when=NOW + timedelta(hours=2))
    assert [x["schools"] for x in again] == [[NORTH, SOUTH]]  # re-read: nothing twice


def test_roster_and_findings_take_school_and_name_the_known_ids_for_a_bad_one(trust):
    env, want = trust
    assert cli(env, "sync", "--json").returncode == 0
    south = json.loads(cli(env, "roster", "--json", "--school", SOUTH, "--role", "pupil").stdout)
    assert south and {r["school"] for r in south} == {SOUTH}
    assert {r["email"] for r in south} == {e for e, s in want.items() if s == SOUTH and e.startswith("25")}
    everyone = json.loads(cli(env, "roster", "--json").stdout)
    assert all(list(r) == ["email", "name", "role", "org_unit", "school", "courses"] for r in everyone)
    assert {r["school"] for r in everyone if r["email"] == env.domain.admin_email} == {None}
    table = cli(env, "roster", "--school", NORTH)
    assert table.returncode == 0 and " north " in table.stdout and " south " not in table.stdout

    for command in ("roster", "findings"):
        bad = cli(env, command, "--json", "--school", "westfield")
        assert bad.returncode == 2, bad.stderr
        assert "'westfield'" in bad.stderr and "north, south" in bad.stderr and "Traceback" not in bad.stderr
        assert bad.stdout == ""
    listed = cli(env, "findings", "--json", "--school", SOUTH)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
