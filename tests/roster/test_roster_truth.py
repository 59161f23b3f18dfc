"""A sync of a generated school reports exactly the school's truth, in every size and seed."""

from __future__ import annotations

import pytest
from roster_env import counts, expected

from integration.roster import JSON_KEYS, list_roster, run_sync
from sandbox import truth


@pytest.mark.parametrize("size,seed", [("tiny", 1), ("tiny", 2), ("demo", 1), ("demo", 7)])
def test_sync_counts_equal_the_generated_schools_truth(school, school_variant, size, seed):
    env = school(size, seed, school_variant)
    result = run_sync(env.ctx)
    assert counts(result) == expected(env.domain)
    assert result.status == "ok" and result.errors == {}
    assert list(result.as_json()) == list(JSON_KEYS)
    assert env.server.problems() == []


def test_every_persons_role_matches_the_reference_classification(school, school_variant):
    env = school("demo", 3, school_variant)
    run_sync(env.ctx)
    roles = truth(env.domain)["roles"]
    listed = {r["email"]: r["role"] for r in list_roster(env.ctx.store) if r["role"] != "guardian"}
    assert listed == roles


def test_a_school_sized_sync_matches_truth_within_its_call_budget(school, school_variant):
    env = school("school", 1, school_variant)
    result = run_sync(env.ctx)
    assert counts(result) == expected(env.domain)
    dom = env.domain
    users = sum(1 for u in dom.users if not u.deleted)
    courses = sum(1 for c in dom.courses if c.course_state != "DECLINED")
    # users, OUs, groups, members of the configured groups (+ nested levels), courses, rosters, guardians
    minimum = -(-users // 500) + 1 + 1 + _member_reads(dom) + 1 + 2 * courses + 1
    assert result.api_calls <= minimum * 1.05
    assert env.server.problems() == []


def _member_reads(dom) -> int:
    """One members page per nesting level of the configured staff/pupil groups (each level is one batch)."""
    level, seen, reads = [g.lower() for g in dom.staff_groups + dom.pupil_groups], set(), 0
    while level:
        reads += 1
        seen.update(level)
        groups = [dom.find_group(g) for g in level]
        level = [m.email.lower() for g in groups if g for m in g.members if m.type == "GROUP" and m.email.lower() not in seen]
    return reads


def test_roster_lists_people_with_their_course_names(school):
    env = school("tiny", 1)
    run_sync(env.ctx)
    rows = list_roster(env.ctx.store)
    assert all(set(r) == {"email", "name", "role", "org_unit", "school", "courses"} for r in rows)
    teacher = env.domain.find_course(env.domain.courses[0].id).teacher_ids[0]
    email = env.domain.user_by_id()[teacher].primary_email
    row = next(r for r in rows if r["email"] == email)
    assert row["role"] == "staff" and env.domain.courses[0].name in row["courses"]
    guardians = [r for r in rows if r["role"] == "guardian"]
    assert len(guardians) == expected(env.domain)["guardians"]
    assert [r["role"] for r in list_roster(env.ctx.store, "pupil")] == ["pupil"] * expected(env.domain)["pupils"]
