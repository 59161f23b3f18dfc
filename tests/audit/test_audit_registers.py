"""Registers: row-by-row validation with line numbers, idempotent re-import, exceptions matching."""

from __future__ import annotations

import re
from datetime import date

import pytest
from audit_env import DOMAIN, GUARDIAN, NOW, PUPIL, PUPIL_GMAIL, TEACHER, TEACHER2, make_settings
from sqlalchemy import func, select

from integration.errors import ConfigError
from integration.identity import Identity
from integration.registers import ExceptionIndex, sync_registers
from integration.rules.base import Candidate
from integration.store.models_audit import ChannelException, PersonalAddress


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def sync(store, settings, now=NOW):
    with store.session() as s:
        return {r.register: r for r in sync_registers(s, settings, store.crypto, now)}


def count(store, model) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_a_personal_register_with_bad_rows_loads_the_good_ones(store, school, tmp_path):
    csv = write(tmp_path / "personal.csv", "\ufeffaddress,owner\n"
                f"{PUPIL_GMAIL},{PUPIL}\n"
                f"not-an-address,{PUPIL}\n"
                f"someone@gmail.com,nobody@{DOMAIN}\n"
                f"{PUPIL_GMAIL.upper()},{PUPIL}\n"
                ",\n"
                f"x@{DOMAIN},{PUPIL}\n"
                "extra@gmail.com,a,b\n"
                f"tj@hotmail.com,Tom.Jones@{DOMAIN}\n")
    report = sync(store, make_settings(personal_address_register=str(csv)))["personal_addresses"]
    assert report.loaded == 2
    problems = "\n".join(report.problems)
    assert "personal.csv:3: address 'not-an-address' is not an email address" in problems
    assert "personal.csv:4: unknown owner" in problems
    assert "personal.csv:5: duplicate address (first on line 2)" in problems
    assert "personal.csv:7: address is in an approved school domain" in problems
    assert "personal.csv:8: expected 2 fields, got 3" in problems
    with store.session() as s:
        rows = {p.address: p.owner_email for p in s.scalars(select(PersonalAddress))}
    assert rows == {PUPIL_GMAIL: PUPIL, "tj@hotmail.com": TEACHER}  # aliases resolve to the person


def test_re_import_is_idempotent_and_removals_stick(store, school, tmp_path):
    csv = write(tmp_path / "p.csv", f"address,owner\n{PUPIL_GMAIL},{PUPIL}\nb@gmail.com,{TEACHER}\n")
    settings = make_settings(personal_address_register=str(csv))
    sync(store, settings)
    assert sync(store, settings)["personal_addresses"].unchanged
    assert count(store, PersonalAddress) == 2
    write(csv, f"address,owner\n{PUPIL_GMAIL},{PUPIL}\n")
    assert sync(store, settings)["personal_addresses"].loaded == 1
    assert count(store, PersonalAddress) == 1
    sync(store, make_settings())  # register switched off: its rows go
    assert count(store, PersonalAddress) == 0


def test_a_wrong_header_is_refused_naming_the_file_and_an_unreadable_file_is_a_config_error(store, school,
                                                                                             tmp_path):
    bad = write(tmp_path / "wrong.csv", "email,person\na@gmail.com,x\n")
    report = sync(store, make_settings(personal_address_register=str(bad)))["personal_addresses"]
    assert re.search(r"wrong\.csv:1: .*address,owner", report.refused) and report.status == "refused"
    with pytest.raises(ConfigError, match=r"missing\.csv.*cannot be read"):
        sync(store, make_settings(exceptions_register=str(tmp_path / "missing.csv")))


def test_an_exceptions_register_with_bad_rows(store, school, tmp_path):
    csv = write(tmp_path / "exc.csv", "staff,counterpart,reason,approved_by,expires\n"
                f"{TEACHER},{PUPIL},parent of the pupil,head@{DOMAIN},2026-12-31\n"
                f"{PUPIL},{TEACHER},x,head,2026-12-31\n"
                f"{TEACHER2},{PUPIL},aunt,head,31/12/2026\n"
                f"{TEACHER2},{PUPIL},,head,2026-12-31\n"
                f"{TEACHER},{PUPIL},again,head,2027-01-01\n")
    report = sync(store, make_settings(exceptions_register=str(csv)))["exceptions"]
    assert report.loaded == 1
    problems = "\n".join(report.problems)
    assert f"exc.csv:3: staff '{PUPIL}' is not a staff member" in problems
    assert "exc.csv:4: expires '31/12/2026' is not an ISO date" in problems
    assert "exc.csv:5: missing reason" in problems
    assert "exc.csv:6: duplicate exception" in problems
    with store.session() as s:
        exc = s.scalars(select(ChannelException)).one()
    assert exc.id.startswith("EXC-") and exc.counterpart == PUPIL and exc.expires == date(2026, 12, 31)


def index(identity: Identity, today=date(2026, 3, 10)) -> ExceptionIndex:
    idx = ExceptionIndex(identity, today)
    idx.add("EXC-parent", TEACHER, PUPIL, date(2026, 12, 31))
    idx.add("EXC-old", TEACHER2, PUPIL, date(2026, 1, 1))
    idx.add("EXC-guardian", TEACHER2, GUARDIAN, date(2026, 12, 31))
    return idx


def test_an_exception_for_a_pupil_covers_their_attributed_personal_addresses(identity):
    idx = index(identity)
    c = Candidate("mail.staff_to_pupil_personal", staff=TEACHER, pupil=PUPIL, counterpart=PUPIL_GMAIL)
    assert idx.match(c) == "EXC-parent"


def test_an_expired_exception_suppresses_nothing(identity):
    c = Candidate("mail.staff_to_pupil_personal", staff=TEACHER2, pupil=PUPIL, counterpart=PUPIL_GMAIL)
    assert index(identity).match(c) is None


def test_an_exception_for_a_guardian_and_for_another_staff_member(identity):
    idx = index(identity)
    g = Candidate("mail.staff_personal_to_guardian", staff=TEACHER2, guardian=GUARDIAN, counterpart="t2@gmail.com")
    assert idx.match(g) == "EXC-guardian"
    other = Candidate("mail.staff_to_pupil_personal", staff=f"head@{DOMAIN}", pupil=PUPIL, counterpart=PUPIL_GMAIL)
    assert idx.match(other) is None


def test_re_importing_exceptions_keeps_their_ids(store, school, tmp_path):
    csv = write(tmp_path / "exc.csv", "staff,counterpart,reason,approved_by,expires\n"
                f"{TEACHER},{PUPIL},parent,head,2026-12-31\n")
    settings = make_settings(exceptions_register=str(csv))
    sync(store, settings)
    with store.session() as s:
        first = s.scalars(select(ChannelException)).one().id
    write(csv, "staff,counterpart,reason,approved_by,expires\n"
          f"{TEACHER},{PUPIL},parent (renewed),head,2027-12-31\n{TEACHER2},{GUARDIAN},aunt,head,2027-01-01\n")
    sync(store, settings)
    with store.session() as s:
        rows = {e.counterpart: (e.id, e.reason) for e in s.scalars(select(ChannelException))}
    assert rows[PUPIL] == (first, "parent (renewed)") and rows[GUARDIAN][0] != first
