"""Registers per school (issue 13): each trust school's personal-address and exceptions registers are
imported apart, their rows carry the school, and matching stays trust-wide (a pupil's personal
address is personal at every school; an exception covers its staff member wherever the finding is)."""

from __future__ import annotations

from audit_env import DOMAIN, GUARDIAN, NOW, PUPIL, PUPIL2, PUPIL_GMAIL, TEACHER, TEACHER2, make_settings
from sqlalchemy import select

from integration.identity import Identity
from integration.registers import ExceptionIndex, import_key, sync_registers
from integration.rules.base import Candidate
from integration.settings import Trust
from integration.store.models_audit import ChannelException, PersonalAddress, RegisterImport
from integration.tenancy import Tenant

EXC_HEADER = "staff,counterpart,reason,approved_by,expires\n"


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def trust_settings(tmp_path, **registers):
    """Kingsmead and Riverside; ``registers`` like k_personal=path, r_exceptions=path, personal=path (trust-wide)."""
    s = make_settings(personal_address_register=str(registers.get("personal", "")))
    s.trust = Trust(name="Oakfield Learning Trust")
    s.schools = [Tenant(id="kingsmead", org_units=["/Kingsmead"], dsl_emails=[f"dsl.k@{DOMAIN}"],
                        personal_address_register=str(registers.get("k_personal", "")),
                        exceptions_register=str(registers.get("k_exceptions", ""))),
                 Tenant(id="riverside", org_units=["/Riverside"], dsl_emails=[f"dsl.r@{DOMAIN}"],
                        personal_address_register=str(registers.get("r_personal", "")),
                        exceptions_register=str(registers.get("r_exceptions", "")))]
    return s


def sync(store, settings):
    with store.session() as s:
        return {r.register: r for r in sync_registers(s, settings, store.crypto, NOW)}


def rows(store, model) -> dict:
    with store.session() as s:
        if model is PersonalAddress:
            return {p.address: (p.owner_email, p.school) for p in s.scalars(select(PersonalAddress))}
        return {(e.staff, e.counterpart): e.school for e in s.scalars(select(ChannelException))}


def test_each_schools_registers_are_imported_under_their_own_key_into_rows_of_that_school(store, school, tmp_path):
    k = write(tmp_path / "k.csv", f"address,owner\n{PUPIL_GMAIL},{PUPIL}\n")
    r = write(tmp_path / "r.csv", f"address,owner\nben.k@yahoo.co.uk,{PUPIL2}\n")
    rex = write(tmp_path / "rex.csv", EXC_HEADER + f"{TEACHER2},{GUARDIAN},aunt,head,2026-12-31\n")
    settings = trust_settings(tmp_path, k_personal=k, r_personal=r, r_exceptions=rex)

    reports = sync(store, settings)

    assert {n: rep.loaded for n, rep in reports.items()} == {
        "personal:kingsmead": 1, "personal:riverside": 1, "exceptions:riverside": 1}
    assert rows(store, PersonalAddress) == {PUPIL_GMAIL: (PUPIL, "kingsmead"), "ben.k@yahoo.co.uk": (PUPIL2, "riverside")}
    assert rows(store, ChannelException) == {(TEACHER2, GUARDIAN): "riverside"}
    assert all(rep.unchanged for rep in sync(store, settings).values())  # idempotent

    write(r, "address,owner\n")  # Riverside empties its register: Kingsmead's rows stay
    assert sync(store, settings)["personal:riverside"].loaded == 0
    assert rows(store, PersonalAddress) == {PUPIL_GMAIL: (PUPIL, "kingsmead")}

    settings.schools[0].personal_address_register = ""  # Kingsmead switches its register off
    sync(store, settings)
    assert rows(store, PersonalAddress) == {}
    with store.session() as s:
        assert sorted(s.scalars(select(RegisterImport.register))) == ["exceptions:riverside", "personal:riverside"]


def test_an_address_in_two_schools_registers_loads_once_and_moves_when_the_first_drops_it(store, school, tmp_path):
    k = write(tmp_path / "k.csv", f"address,owner\n{PUPIL_GMAIL},{PUPIL}\n")
    r = write(tmp_path / "r.csv", f"address,owner\n{PUPIL_GMAIL},{PUPIL}\n")
    settings = trust_settings(tmp_path, k_personal=k, r_personal=r)

    reports = sync(store, settings)

    assert reports["personal:riverside"].problems == [
        "r.csv:2: address already in school kingsmead's register (it counts at every school)"]
    assert rows(store, PersonalAddress) == {PUPIL_GMAIL: (PUPIL, "kingsmead")}
    write(k, "address,owner\n")
    sync(store, settings)  # Riverside's register had a problem, so it is read again, and now takes the row
    assert rows(store, PersonalAddress) == {PUPIL_GMAIL: (PUPIL, "riverside")}


def test_matching_is_trust_wide(store, school, tmp_path):
    k = write(tmp_path / "k.csv", f"address,owner\n{PUPIL_GMAIL},{PUPIL}\n")
    kex = write(tmp_path / "kex.csv", EXC_HEADER + f"{TEACHER},{PUPIL},parent of the pupil,head,2026-12-31\n")
    settings = trust_settings(tmp_path, k_personal=k, k_exceptions=kex)
    sync(store, settings)

    with store.session() as s:
        identity = Identity.load(s, settings, store.crypto, NOW)
        exceptions = ExceptionIndex.load(s, identity, NOW.date())
    assert identity.resolve(PUPIL_GMAIL).person_email == PUPIL  # personal wherever the finding is
    c = Candidate("mail.staff_to_pupil_personal", staff=TEACHER, pupil=PUPIL, counterpart=PUPIL_GMAIL)
    assert exceptions.match(c) is not None and exceptions.match(c).startswith("EXC-")


def test_a_trusts_channels_registers_are_trust_wide_and_a_single_school_keeps_its_keys(store, school, tmp_path):
    wide = write(tmp_path / "wide.csv", f"address,owner\n{PUPIL_GMAIL},{PUPIL}\n")
    trust = trust_settings(tmp_path, personal=wide)
    assert sync(store, trust)["personal_addresses"].loaded == 1
    assert rows(store, PersonalAddress) == {PUPIL_GMAIL: (PUPIL, None)}

    single = make_settings(personal_address_register=str(wide))
    assert set(sync(store, single)) == {"personal_addresses"}
    assert rows(store, PersonalAddress) == {PUPIL_GMAIL: (PUPIL, None)}


def test_a_refused_schools_file_names_its_config_key_and_keeps_its_rows(store, school, tmp_path):
    k = write(tmp_path / "k.csv", f"address,owner\n{PUPIL_GMAIL},{PUPIL}\n")
    settings = trust_settings(tmp_path, k_personal=k)
    sync(store, settings)
    write(k, "email,person\nx@gmail.com,y\n")
    report = sync(store, settings)["personal:kingsmead"]
    assert report.status == "refused" and "[[schools]] kingsmead personal_address_register" in report.refused
    assert rows(store, PersonalAddress) == {PUPIL_GMAIL: (PUPIL, "kingsmead")}


def test_a_long_school_id_still_fits_the_import_key():
    key = import_key("personal_addresses", "a-very-long-school-identifier-of-the-trust")
    assert len(key) <= 32 and key.startswith("personal:a-very")
    assert import_key("exceptions", "kingsmead") == "exceptions:kingsmead"
