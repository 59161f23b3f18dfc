"""Second and later syncs: idempotence, leavers, retention, aliases, guardians, enrolments, runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from roster_env import counts, expected
from sqlalchemy import select

from integration.roster import run_sync
from integration.store.models_ops import Run
from integration.store.models_roster import Person, PersonAlias

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def person(ctx, email: str) -> Person:
    with ctx.store.session() as s:
        return s.scalars(select(Person).where(Person.email == email)).one()


def a_pupil(dom, n: int = 0):
    return [u for u in dom.users if u.role_truth == "pupil" and not u.deleted][n]


def test_a_second_sync_with_no_changes_changes_nothing(school):
    env = school("tiny", 1)
    first = run_sync(env.ctx, now=NOW)
    assert first.added > 0
    again = run_sync(env.ctx, now=NOW + timedelta(hours=4))
    assert (again.added, again.updated, again.removed) == (0, 0, 0)
    assert counts(again) == counts(first)
    with env.ctx.store.session() as s:
        runs = s.scalars(select(Run).where(Run.job == "sync").order_by(Run.id)).all()
    assert [r.status for r in runs] == ["ok", "ok"]
    assert runs[-1].summary["added"] == 0 and runs[-1].finished_at is not None


def test_leavers_become_former_pupils_and_are_never_deleted(school):
    env = school("tiny", 1)
    dom = env.domain
    run_sync(env.ctx, now=NOW)
    suspended, deleted, moved = a_pupil(dom, 0), a_pupil(dom, 1), a_pupil(dom, 2)
    dom.suspend_user(suspended.primary_email)
    dom.remove_user(deleted.primary_email)
    dom.move_user(moved.primary_email, "/Alumni")
    for c in dom.courses:  # a class list still naming them would keep them a pupil (rule 4)
        dom.unenrol(c.id, moved.primary_email)
    later = NOW + timedelta(days=1)
    result = run_sync(env.ctx, now=later)
    assert result.removed >= 3
    for u, status in ((suspended, "suspended"), (deleted, "deleted"), (moved, "left")):
        p = person(env.ctx, u.primary_email)
        assert (p.role, p.status, p.left_at) == ("former_pupil", status, later)
    assert result.former_pupils == expected(dom)["former_pupils"] + 2  # truth forgets deleted/moved; we keep them
    again = run_sync(env.ctx, now=later + timedelta(days=1))
    assert (again.added, again.updated, again.removed) == (0, 0, 0)
    assert person(env.ctx, moved.primary_email).left_at == later  # left_at is when they left, not the last sync


def test_former_pupils_become_other_after_the_retention_period(school):
    env = school("tiny", 1)
    leaver = a_pupil(env.domain)
    run_sync(env.ctx, now=NOW)
    env.domain.suspend_user(leaver.primary_email)
    run_sync(env.ctx, now=NOW)
    retention = env.ctx.settings.roster.former_pupil_retention_days
    result = run_sync(env.ctx, now=NOW + timedelta(days=retention + 1))
    p = person(env.ctx, leaver.primary_email)
    assert p.role == "other" and p.left_at == NOW
    assert result.former_pupils == 0  # the generated leavers' retention ran out too
    again = run_sync(env.ctx, now=NOW + timedelta(days=retention + 2))
    assert person(env.ctx, leaver.primary_email).role == "other" and again.removed == 0


def test_a_pupil_who_returns_is_a_pupil_again(school):
    env = school("tiny", 1)
    pupil = a_pupil(env.domain)
    run_sync(env.ctx, now=NOW)
    env.domain.suspend_user(pupil.primary_email)
    run_sync(env.ctx, now=NOW)
    env.domain.unsuspend_user(pupil.primary_email)
    result = run_sync(env.ctx, now=NOW)
    p = person(env.ctx, pupil.primary_email)
    assert (p.role, p.status, p.left_at) == ("pupil", "active", None)
    assert result.updated == 1


def test_new_staff_renames_aliases_and_enrolments_are_picked_up(school):
    env = school("tiny", 1)
    dom = env.domain
    run_sync(env.ctx, now=NOW)
    newbie = dom.add_user(f"new.teacher@{dom.domain}", "New", "Teacher", "/Staff/Teaching", role_truth="staff")
    pupil = a_pupil(dom)
    dom.rename_user(pupil.primary_email, "Renamed", "Pupil")
    pupil.aliases.append(f"alias.pupil@{dom.domain}")
    course = dom.courses[0]
    dom.enrol(course.id, newbie.primary_email, "teacher")
    result = run_sync(env.ctx, now=NOW)
    assert result.added == 1  # the new teacher
    assert result.updated == 2  # the renamed pupil, the course whose roster changed
    assert counts(result) == expected(dom)
    assert person(env.ctx, pupil.primary_email).name == "Renamed Pupil"
    with env.ctx.store.session() as s:
        alias = s.get(PersonAlias, f"alias.pupil@{dom.domain}")
        assert alias is not None and alias.person_id == person(env.ctx, pupil.primary_email).id


def test_guardian_changes_are_applied(school):
    env = school("tiny", 1)
    dom = env.domain
    run_sync(env.ctx, now=NOW)
    pupil = a_pupil(dom, 3)
    dom.add_guardian(pupil.primary_email, "new.parent@example.com", "New", "Parent")
    first = run_sync(env.ctx, now=NOW)
    assert first.added == 1 and first.guardians == expected(dom)["guardians"]
    dom.remove_guardian(pupil.primary_email, "new.parent@example.com")
    second = run_sync(env.ctx, now=NOW)
    assert second.removed == 1 and second.guardians == expected(dom)["guardians"]


def test_guardian_addresses_are_stored_encrypted(school):
    env = school("tiny", 1)
    run_sync(env.ctx, now=NOW)
    address = env.domain.guardians[0].email
    with env.ctx.store.engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT email, email_hash FROM guardians").all()
    assert raw and all(address not in row[0] for row in raw)
    assert env.ctx.crypto.address_hash(address) in {row[1] for row in raw}
