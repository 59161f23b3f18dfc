"""A two-school trust (issue 13): each school has its own round (its policy version, its form), asks
its own staff only, and escalates to its own DSLs plus [acknowledgement] escalate_to. Real HTTP to
the sandbox's Forms API, real SMTP. People's schools are set directly (the roster sync places them
in the tenancy tests)."""

from __future__ import annotations

import csv
import io
import json
import tomllib

import pytest
import tomli_w
from acks_env import DAY, ESCALATE, T0, make_trust
from sqlalchemy import select

from integration.__main__ import main
from integration.acknowledgement import run_acknowledgement
from integration.store.models_acks import AckRound
from integration.store.models_alerts import OutboxEmail
from sandbox.forms import submit_response

SCHOOLS = [
    {"id": "kingsmead", "name": "Kingsmead Primary", "org_units": ["/Kingsmead"], "dsl_emails": ["dsl.kingsmead"]},
    {"id": "riverside", "name": "Riverside Academy", "org_units": ["/Riverside"], "dsl_emails": ["dsl.riverside"],
     "policy_version": "2026-01"},
]


@pytest.fixture
def trust(acks_env):
    env = make_trust(acks_env(seed_roster=False), SCHOOLS)
    env.add_person("kate.king", "Kate King", org_unit="/Kingsmead/Staff", school="kingsmead")
    env.add_person("ken.knight", "Ken Knight", org_unit="/Kingsmead/Staff", school="kingsmead")
    env.add_person("rita.rivers", "Rita Rivers", org_unit="/Riverside/Staff", school="riverside")
    env.add_person("kim.pupil", "Kim Pupil", role="pupil", org_unit="/Kingsmead/Pupils", school="kingsmead")
    env.add_person("fin.central", "Fin Central", org_unit="/Central")  # trust central staff: in no school
    return env


def acks(env, *args) -> int:
    return main(["--config", str(env.config), "acks", *args])


def staff(doc) -> list[str]:
    return [s["email"].split("@")[0] for s in doc["staff"]]


def test_acks_json_is_one_document_per_school_in_config_order_each_inviting_its_own_staff(trust, capsys):
    env = trust
    assert acks(env, "--json") == 0
    docs = json.loads(capsys.readouterr().out)
    assert isinstance(docs, list) and [d["school"] for d in docs] == ["kingsmead", "riverside"]
    assert all(set(d) == {"school", "policy_version", "form_id", "acknowledged", "outstanding", "staff"}
               for d in docs)
    k, r = docs
    assert (k["policy_version"], r["policy_version"]) == ("2025-10", "2026-01")  # Kingsmead inherits
    assert k["form_id"] and r["form_id"] and k["form_id"] != r["form_id"]  # a form each
    assert staff(k) == ["kate.king", "ken.knight"] and staff(r) == ["rita.rivers"]
    assert (k["outstanding"], r["outstanding"]) == (2, 1)

    invited = sorted(rc for rcpts, _m in env.smtp.box.messages for rc in rcpts)
    assert invited == sorted(env.addr(x) for x in ("kate.king", "ken.knight", "rita.rivers"))
    [to_rita] = env.smtp.box.to(env.addr("rita.rivers"))
    assert to_rita["Subject"] == "Please read and acknowledge the Riverside Academy policy (version 2026-01)"
    with env.ctx.store.session() as s:
        assert sorted((r.school, r.policy_version) for r in s.scalars(select(AckRound))) == [
            ("kingsmead", "2025-10"), ("riverside", "2026-01")]
        assert {(o.recipients[0].split("@")[0], o.school) for o in s.scalars(select(OutboxEmail))} == {
            ("kate.king", "kingsmead"), ("ken.knight", "kingsmead"), ("rita.rivers", "riverside")}

    assert acks(env, "--json") == 0  # again: nobody invited twice
    capsys.readouterr()
    assert len(env.smtp.box.messages) == 3


def test_school_picks_one_schools_document_and_an_unknown_id_exits_2_naming_the_known_ones(trust, capsys):
    env = trust
    assert acks(env, "--school", "riverside", "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert isinstance(doc, dict) and doc["school"] == "riverside" and staff(doc) == ["rita.rivers"]
    assert [rc for rcpts, _m in env.smtp.box.messages for rc in rcpts] == [env.addr("rita.rivers")]  # only hers

    assert acks(env, "--school", "northbrook", "--json") == 2
    out = capsys.readouterr()
    assert out.out == "" and "--school 'northbrook' is not a school of this config" in out.err
    assert "(known school ids: kingsmead, riverside)" in out.err

    assert acks(env) == 0  # human output names each school
    human = capsys.readouterr().out
    assert "kingsmead: policy 2025-10" in human and "riverside: policy 2026-01" in human


def test_a_response_counts_only_in_the_responders_own_schools_round(trust, capsys):
    env = trust
    env.set_clock(T0)
    first = run_acknowledgement(env.ctx, T0, send=False)
    k_form, r_form = (d["form_id"] for d in first.docs)
    submit_response(env.domain, k_form, env.addr("kate.king"), T0 + DAY)
    submit_response(env.domain, k_form, env.addr("rita.rivers"), T0 + DAY)  # Rita answered the wrong school's form
    env.set_clock(T0 + 2 * DAY)
    assert acks(env, "--report", "json") == 0
    k_report, r_report = json.loads(capsys.readouterr().out)
    assert (k_report["school"], k_report["totals"]["acknowledged"]) == ("kingsmead", 1)
    assert [r["status"] for r in k_report["responses"]["not_counted"]] == ["not_expected"]
    assert (r_report["school"], r_report["totals"]["outstanding"]) == ("riverside", 1)

    assert acks(env, "--report", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    totals = {r["school"]: r["acknowledged"] for r in rows if r["org_unit"] == "(all)"}
    assert totals == {"kingsmead": "1", "riverside": "0"}


def test_overdue_staff_escalate_to_their_own_schools_dsl_and_escalate_to(trust):
    env = trust
    head = ESCALATE.format(d=env.dom)
    for day in (0, 14):
        env.set_clock(T0 + day * DAY)
        result = run_acknowledgement(env.ctx, T0 + day * DAY)
    assert [r.queued.counts["escalation"] for r in result.runs] == [2, 2]

    box = env.smtp.box
    [to_k] = box.to(env.addr("dsl.kingsmead"))
    [to_r] = box.to(env.addr("dsl.riverside"))
    assert "Kate King" in box.text(to_k) and "Rita Rivers" not in box.text(to_k)
    assert "Rita Rivers" in box.text(to_r) and "Kate King" not in box.text(to_r)
    assert sorted(m["Subject"] for m in box.to(head)) == [
        "Policy acknowledgement overdue: 1 outstanding (version 2026-01, day 14)",
        "Policy acknowledgement overdue: 2 outstanding (version 2025-10, day 14)"]
    assert box.to(env.addr("fin.central")) == []  # in no school: no school's round asks them

    again = run_acknowledgement(env.ctx, T0 + 14 * DAY)
    assert [r.queued.total for r in again.runs] == [0, 0]
    assert len(box.to(head)) == 2


def test_a_request_to_someone_who_moved_school_is_cancelled_and_the_new_school_asks_them(trust):
    env = trust
    from integration.store.models_roster import Person

    env.smtp.box.reply = "451 4.3.0 try again later"  # the relay defers: the invitations stay queued
    env.set_clock(T0)
    run_acknowledgement(env.ctx, T0, send=False, invite=True)
    with env.ctx.store.session() as s:
        ken = s.scalar(select(Person).where(Person.email == env.addr("ken.knight")))
        ken.school, ken.org_unit = "riverside", "/Riverside/Staff"
    env.smtp.box.reply = ""
    result = run_acknowledgement(env.ctx, T0 + DAY / 2, send=False, invite=True)

    assert [r.cancelled for r in result.runs] == [1, 0]
    assert staff(result.docs[1]) == ["ken.knight", "rita.rivers"]
    [to_ken] = env.smtp.box.to(env.addr("ken.knight"))
    assert "Riverside Academy" in to_ken["Subject"]


def test_a_school_whose_form_cannot_be_read_does_not_stop_the_others(trust, capsys):
    env = trust
    data = tomllib.loads(env.config.read_text(encoding="utf-8"))
    data["schools"][1]["form_id"] = "no-such-form"  # Riverside names a form that does not exist
    env.config.write_text(tomli_w.dumps(data), encoding="utf-8")

    assert acks(env, "--json") == 3
    out = capsys.readouterr()
    assert out.out == "" and "error: school riverside: Google Forms API: not found" in out.err
    invited = sorted(rc for rcpts, _m in env.smtp.box.messages for rc in rcpts)
    assert invited == sorted(env.addr(x) for x in ("kate.king", "ken.knight"))  # Kingsmead's went


def test_doctor_checks_each_schools_form(trust):
    from integration.acknowledgement import checks

    env = trust
    before = {c.name: c for c in checks(env.ctx)}
    assert before["acknowledgement: form (kingsmead)"].ok and "no form yet" in before["acknowledgement: form (riverside)"].detail
    run_acknowledgement(env.ctx, T0, send=False)
    after = {c.name: c for c in checks(env.ctx)}
    for school in ("kingsmead", "riverside"):
        assert after[f"acknowledgement: form collects verified emails ({school})"].ok  # the service set VERIFIED
        assert f"acknowledgement: respondents restricted to the school ({school})" in after
