"""Registers broken as a whole (issue 11 defects 4 and 13): an unbalanced quote or an oversized field
refuses the file naming the line where the quote opened, the previous register stays in force, the
`audit` command exits 2 and says so; row problems are summarised, not logged one line per row per run;
a header error stored in `runs.error` masks personal addresses; a NUL byte in an address is named."""

from __future__ import annotations

import argparse
import json
import logging

import pytest
from audit_env import DOMAIN, NOW, PUPIL, PUPIL_GMAIL, TEACHER, FakeContext, ListSource, make_settings
from sqlalchemy import select

from integration.audit import run_audit
from integration.cli import audit as audit_cli
from integration.registers import sync_registers
from integration.store.models_audit import ChannelException, PersonalAddress
from integration.store.models_ops import Run

GOOD = f"address,owner\n{PUPIL_GMAIL},{PUPIL}\ntj@hotmail.com,{TEACHER}\n"


def addresses(store) -> set[str]:
    with store.session() as s:
        return {p.address for p in s.scalars(select(PersonalAddress))}


def audit(store, settings, capsys, monkeypatch) -> tuple[int, dict, str]:
    ctx = FakeContext(store, settings, [ListSource("gmail", {"mail": []})])
    monkeypatch.setattr(audit_cli, "context_from_args", lambda args: ctx)
    code = audit_cli.run(argparse.Namespace(full=False, json=True))
    out = capsys.readouterr()
    return code, json.loads(out.out), out.err


def last_run(store) -> Run:
    with store.session() as s:
        return s.scalars(select(Run).order_by(Run.id.desc())).first()


@pytest.mark.parametrize(("broken", "line", "says"), [
    (f'address,owner\n{PUPIL_GMAIL},{PUPIL}\n"new@gmail.com,{TEACHER}\nx@gmail.com,{TEACHER}\n', 3,
     "opened on this line is never closed"),
    (f'address,owner\n{PUPIL_GMAIL},{PUPIL}\n"' + "x" * 140_000 + "\n", 3, "longer than 131072"),
    (f'address,owner\n{PUPIL_GMAIL},{PUPIL}\n"new@gmail.com"junk,{TEACHER}\n', 3, "not a valid CSV"),
])
def test_a_structurally_broken_register_is_refused_and_the_previous_one_stays(store, school, tmp_path, capsys,
                                                                            monkeypatch, broken, line, says):
    path = tmp_path / "personal.csv"
    path.write_text(GOOD, encoding="utf-8")
    settings = make_settings(personal_address_register=str(path))
    assert audit(store, settings, capsys, monkeypatch)[0] == 0
    assert addresses(store) == {PUPIL_GMAIL, "tj@hotmail.com"}

    path.write_text(broken, encoding="utf-8")
    code, doc, err = audit(store, settings, capsys, monkeypatch)
    assert code == 2
    entry = doc["registers"]["personal_addresses"]
    assert entry["status"] == "refused" and f"personal.csv:{line}: " in entry["refused"] and says in entry["refused"]
    assert f"personal.csv:{line}" in err and "previous one stays in force" in err
    assert addresses(store) == {PUPIL_GMAIL, "tj@hotmail.com"}  # still in force
    run = last_run(store)
    assert run.status == "partial" and "personal_addresses refused" in run.error

    path.write_text(GOOD + f"new@gmail.com,{TEACHER}\n", encoding="utf-8")  # fixed: loaded at the next audit
    code, doc, _ = audit(store, settings, capsys, monkeypatch)
    assert code == 0 and doc["registers"]["personal_addresses"]["loaded"] == 3
    assert "new@gmail.com" in addresses(store)


def test_row_problems_are_summarised_once_not_logged_per_row_per_run(store, school, tmp_path, capsys,
                                                                    monkeypatch, caplog):
    path = tmp_path / "personal.csv"
    bad_rows = "".join(f"nobody{i}@gmail.com,ghost{i}@{DOMAIN}\n" for i in range(40))
    path.write_text(GOOD + bad_rows, encoding="utf-8")
    settings = make_settings(personal_address_register=str(path))
    caplog.set_level(logging.INFO, logger="safechannels.registers")
    for _ in range(3):
        code, doc, err = audit(store, settings, capsys, monkeypatch)
        entry = doc["registers"]["personal_addresses"]
        assert code == 0 and entry["loaded"] == 2 and entry["problems"] == 40 and len(entry["first_problems"]) == 5
        assert entry["first_problems"][0].startswith("personal.csv:4: unknown owner")
        assert "40 row(s) skipped" in err and "and 35 more" in err
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1  # one summary line, for the first import only: the problems did not change
    summary = last_run(store).summary["registers"]["personal_addresses"]
    assert summary["problems"] == 40 and "nobody" not in json.dumps(summary)  # addresses masked for admins


def test_a_header_error_stores_no_personal_address_in_runs_error(store, school, tmp_path):
    path = tmp_path / "personal.csv"
    path.write_text(f"{PUPIL_GMAIL},{PUPIL}\n", encoding="utf-8")  # the header line forgotten
    run_audit(FakeContext(store, make_settings(personal_address_register=str(path)), []))
    run = last_run(store)
    text = json.dumps(run.summary) + run.error
    assert PUPIL_GMAIL not in text and "***@gmail.com" in text and PUPIL in text  # school address kept


def test_an_address_with_a_nul_byte_is_refused_with_a_clear_error(store, school, tmp_path):
    personal = tmp_path / "personal.csv"
    personal.write_text(f"address,owner\nam\x00y@gmail.com,{PUPIL}\n{PUPIL_GMAIL},{PUPIL}\n", encoding="utf-8")
    exceptions = tmp_path / "exceptions.csv"
    exceptions.write_text("staff,counterpart,reason,approved_by,expires\n"
                          f"{TEACHER},mum\x00@yahoo.co.uk,parent,head@{DOMAIN},2030-01-01\n", encoding="utf-8")
    settings = make_settings(personal_address_register=str(personal), exceptions_register=str(exceptions))
    with store.session() as s:
        reports = {r.register: r for r in sync_registers(s, settings, store.crypto, NOW)}
    assert reports["personal_addresses"].problems == ["personal.csv:2: address contains a NUL byte "
                                                      "(re-export the file as plain UTF-8 CSV)"]
    assert reports["exceptions"].problems == ["exceptions.csv:2: counterpart contains a NUL byte "
                                              "(re-export the file as plain UTF-8 CSV)"]
    assert addresses(store) == {PUPIL_GMAIL}
    with store.session() as s:
        assert list(s.scalars(select(ChannelException))) == []
