"""Identity: who is behind an address, built from the roster tables and the personal register."""

from __future__ import annotations

from datetime import timedelta

from audit_env import (
    DOMAIN,
    GUARDIAN,
    LEAVER,
    NOW,
    PUPIL,
    PUPIL2,
    PUPIL_GMAIL,
    TEACHER,
    SchoolSeeder,
)

from integration.identity import Identity, normalise_name
from integration.store.models_audit import PersonalAddress


def load(store, settings, now=NOW) -> Identity:
    with store.session() as s:
        return Identity.load(s, settings, store.crypto, now)


def register(store, address: str, owner: str) -> None:
    with store.session() as s:
        s.add(PersonalAddress(address_hash=store.crypto.address_hash(address), address=address, owner_email=owner))


def test_school_addresses_and_aliases_resolve_to_the_person(store, school, settings):
    ident = load(store, settings)
    r = ident.resolve(TEACHER)
    assert (r.person_email, r.role, r.confidence, r.kind) == (TEACHER, "staff", "known", "school")
    alias = ident.resolve(f"Tom.Jones@{DOMAIN}")
    assert (alias.person_email, alias.kind) == (TEACHER, "alias")
    unknown = ident.resolve(f"office@{DOMAIN}")
    assert (unknown.person_email, unknown.role, unknown.kind) == (None, "other", "school")


def test_a_guardian_address_resolves_to_its_pupils(store, school, settings):
    r = load(store, settings).resolve(GUARDIAN.upper())
    assert (r.role, r.kind, r.guardian_of) == ("guardian", "guardian", (PUPIL,))


def test_the_personal_register_attributes_known(store, school, settings):
    register(store, PUPIL_GMAIL, PUPIL)
    r = load(store, settings).resolve(PUPIL_GMAIL)
    assert (r.person_email, r.role, r.confidence, r.kind) == (PUPIL, "pupil", "known", "personal_registered")


def test_display_names_attribute_suspected_with_accents_apostrophes_and_hyphens(store, settings):
    seed = SchoolSeeder(store)
    seed.person(f"s.obrien@{DOMAIN}", "staff", "Siobhán O'Brien-Kelly")
    r = load(store, settings).resolve("shiv@gmail.com", "  siobhan   OBrienKelly ")
    assert (r.person_email, r.confidence, r.kind) == (f"s.obrien@{DOMAIN}", "suspected", "personal_suspected")
    assert normalise_name("Zoë  D’Arcy") == "zoe darcy"


def test_ambiguous_and_single_word_names_attribute_nobody(store, school, settings):
    SchoolSeeder(store).person(f"amy.smith2@{DOMAIN}", "pupil", "Amy Smith")
    ident = load(store, settings)
    assert ident.resolve("a@gmail.com", "Amy Smith").kind == "external_unknown"
    assert ident.resolve("b@gmail.com", "Amy").kind == "external_unknown"


def test_former_pupils_are_protected_only_within_retention(store, school, settings):
    assert load(store, settings).resolve(LEAVER).role == "former_pupil"
    settings.roster.former_pupil_retention_days = 30
    assert load(store, settings).resolve(LEAVER).role == "other"


def test_a_pupil_who_left_is_a_former_pupil(store, settings):
    SchoolSeeder(store).person(f"gone@{DOMAIN}", "pupil", "Gone Pupil", status="suspended",
                               left_at=NOW - timedelta(days=3))
    assert load(store, settings).resolve(f"gone@{DOMAIN}").role == "former_pupil"


def test_shared_course_and_course_groups(store, school, settings):
    ident = load(store, settings)
    assert ident.shared_course(TEACHER, PUPIL)
    assert not ident.shared_course(TEACHER, PUPIL2)
    assert f"class-7b@{DOMAIN}" in ident.course_group_emails
    settings.channels.learning_platforms = ["moodle"]  # a course on a platform not approved is no channel
    assert not load(store, settings).shared_course(TEACHER, PUPIL)


def test_people_lists_active_staff_pupils_and_former_pupils(store, school, settings):
    people = dict(load(store, settings).people())
    assert people[TEACHER] == "staff" and people[PUPIL] == "pupil" and people[LEAVER] == "former_pupil"


def test_unknown_external_addresses(store, school, settings):
    r = load(store, settings).resolve("random@outlook.com")
    assert (r.person_email, r.confidence, r.kind) == (None, None, "external_unknown")
