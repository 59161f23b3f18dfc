"""Audit fixtures: the Northfield school (see audit_env.py) as in-memory identity and as seeded store."""

from __future__ import annotations

from datetime import timedelta

import pytest
from audit_env import (
    DOMAIN,
    GUARDIAN,
    LEAVER,
    NOW,
    PUPIL,
    PUPIL2,
    PUPIL_GMAIL,
    TEACHER,
    TEACHER2,
    TEACHER_GMAIL,
    SchoolSeeder,
    make_settings,
)

from integration.identity import Identity
from integration.rules.base import ChannelPolicy, RuleContext
from integration.rules.oauth import SocialApps
from integration.settings import Settings


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def identity(crypto) -> Identity:
    """The in-memory school for pure rule tests."""
    ident = Identity([DOMAIN], crypto)
    ident.add_person(TEACHER, "staff", "Tom Jones")
    ident.add_person(TEACHER2, "staff", "Mina Patel")
    ident.add_person(PUPIL, "pupil", "Amy Smith")
    ident.add_person(PUPIL2, "pupil", "Ben Khan")
    ident.add_person(LEAVER, "former_pupil", "Cara Old")
    ident.add_guardian(GUARDIAN, (PUPIL,))
    ident.add_personal(PUPIL_GMAIL, PUPIL)
    ident.add_personal(TEACHER_GMAIL, TEACHER)
    ident.course_group_emails[f"class-7b@{DOMAIN}"] = 1
    ident.add_enrolment(TEACHER, "teacher", 1)
    ident.add_enrolment(PUPIL, "student", 1)
    return ident


@pytest.fixture
def rctx(identity) -> RuleContext:
    return RuleContext(identity, ChannelPolicy(frozenset({DOMAIN})), SocialApps.load())


@pytest.fixture
def school(store) -> dict[str, int]:
    """Northfield: two teachers, two pupils, a recent leaver, a guardian, one class."""
    seed = SchoolSeeder(store)
    ids = {
        "teacher": seed.person(TEACHER, "staff", "Tom Jones", aliases=(f"tom.jones@{DOMAIN}",)),
        "teacher2": seed.person(TEACHER2, "staff", "Mina Patel"),
        "pupil": seed.person(PUPIL, "pupil", "Amy Smith"),
        "pupil2": seed.person(PUPIL2, "pupil", "Ben Khan"),
        "leaver": seed.person(LEAVER, "former_pupil", "Cara Old", status="suspended",
                              left_at=NOW - timedelta(days=100)),
    }
    seed.guardian(GUARDIAN, [ids["pupil"]])
    seed.course("7B", [ids["teacher"]], [ids["pupil"]], group=f"class-7b@{DOMAIN}")
    return ids
