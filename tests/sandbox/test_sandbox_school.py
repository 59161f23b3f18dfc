"""Generated schools: deterministic, roughly the promised size, and their truth is self-consistent."""

from __future__ import annotations

import time
from dataclasses import asdict

import pytest

from sandbox.model import in_org_units
from sandbox.school import SIZES, classify, generate, truth


def _fingerprint(size: str, seed: int) -> list:
    d = generate(size, seed)
    return [asdict(u) for u in d.users] + [(c.id, c.name, c.student_ids) for c in d.courses] + \
        [asdict(g) for g in d.guardians] + sorted(d.personal_addresses.items())


def test_same_seed_gives_the_same_school_and_another_seed_a_different_one():
    assert _fingerprint("demo", 7) == _fingerprint("demo", 7)
    assert _fingerprint("demo", 7) != _fingerprint("demo", 8)


@pytest.mark.parametrize("size", ["tiny", "demo", "school"])
def test_sizes_are_roughly_as_promised(size):
    spec, counts = SIZES[size], truth(generate(size))
    assert spec.staff <= counts["staff"] <= spec.staff + 3  # + visiting teachers
    assert counts["pupils"] == spec.pupils
    assert counts["former_pupils"] >= 1
    assert spec.classes - 1 <= counts["courses"] <= spec.classes
    assert counts["guardians"] > spec.pupils * 0.6


def test_school_size_generates_fast():
    start = time.perf_counter()
    generate("school", 3)
    assert time.perf_counter() - start < 2


def test_every_person_has_the_role_the_classification_rule_gives():
    for size in ("tiny", "demo"):
        d = generate(size)
        roles = classify(d)
        for u in d.live_users():
            expected = "other" if u.role_truth == "admin" else u.role_truth
            assert roles[u.primary_email] == expected, u


def test_a_school_is_realistic():
    d = generate("demo")
    names = {u.full_name for u in d.users} | {u.family_name for u in d.users}
    assert any("'" in n for n in names) and any("-" in n for n in names)
    assert any(ch in "".join(names) for ch in "ëâéó")
    assert any(not u.family_name or not u.given_name for u in d.users)
    assert any(u.aliases for u in d.users if u.role_truth == "staff")
    leavers = [u for u in d.users if u.role_truth == "former_pupil"]
    assert leavers and all(u.suspended and u.org_unit_path == "/Pupils/Leavers" for u in leavers)
    by_id = d.user_by_id()
    visiting = [by_id[t] for c in d.courses for t in c.teacher_ids
                if not in_org_units(by_id[t].org_unit_path, d.staff_org_units)]
    assert visiting and all(u.org_unit_path == "/Visitors" for u in visiting)
    staff_emails = {u.primary_email for u in d.users if u.role_truth == "staff"}
    assert any(g.email in staff_emails for g in d.guardians)
    assert {g.email.split("@")[1] for g in d.guardians} & {"gmail.com", "outlook.com", "btinternet.com"}
    owners = set(d.personal_addresses)
    assert owners & staff_emails and any(o.startswith(("25", "26")) for o in owners)
    assert {c.course_state for c in d.courses} >= {"ACTIVE", "ARCHIVED", "DECLINED"}
    assert d.find_group("pupils@" + d.domain).members[0].type == "GROUP"


def test_a_trust_is_one_customer_with_per_school_org_units():
    d = generate("trust")
    assert len(d.schools) == 10 and len(d.staff_org_units) == 10
    assert all(p.startswith("/Schools/") and p.endswith("/Staff") for p in d.staff_org_units)
    counts = truth(d)
    assert counts["pupils"] == 15000 and counts["staff"] >= 1500
    assert len({u.primary_email for u in d.users}) == len(d.users)
