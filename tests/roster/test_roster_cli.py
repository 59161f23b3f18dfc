"""The operator contract over a real process: `sync --json`, `roster --json`, `doctor`, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from roster_env import expected

ROOT = Path(__file__).resolve().parents[2]


def cli(env, *args: str, **overrides: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "SAFECHANNELS__DATABASE__URL": env.ctx.settings.database.url, "PYTHONPATH": str(ROOT),
               **overrides}
    return subprocess.run([sys.executable, "-m", "integration", "--config", str(env.config), *args],
                          cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)


def test_sync_json_prints_exactly_the_contract_keys(school):
    env = school("tiny", 1)
    proc = cli(env, "sync", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert list(doc) == ["staff", "pupils", "former_pupils", "guardians", "courses", "added", "updated", "removed",
                         "api_calls"]
    assert {k: doc[k] for k in expected(env.domain)} == expected(env.domain)
    assert doc["api_calls"] > 0 and doc["added"] > 0
    again = json.loads(cli(env, "sync", "--json", "--full").stdout)
    assert (again["added"], again["updated"], again["removed"]) == (0, 0, 0)

    roster = cli(env, "roster", "--json", "--role", "staff")
    rows = json.loads(roster.stdout)
    assert len(rows) == expected(env.domain)["staff"]
    assert all(list(r) == ["email", "name", "role", "org_unit", "school", "courses"] for r in rows)
    assert {r["school"] for r in rows} == {env.domain.domain.split(".")[0]}  # one school: everyone is its


def test_sync_exits_3_naming_the_api_when_classroom_refuses(school):
    env = school("tiny", 1)
    env.server.fail_api("classroom", 403, "insufficientPermissions", "Request had insufficient authentication scopes.")
    proc = cli(env, "sync", "--json")
    assert proc.returncode == 3
    assert set(json.loads(proc.stdout)) >= {"staff", "api_calls"}  # still one JSON document
    assert "Google Classroom API" in proc.stderr and "classroom.rosters.readonly" in proc.stderr


def test_doctor_json_and_scopes(school):
    env = school("tiny", 1)
    proc = cli(env, "doctor", "--json")
    checks = json.loads(proc.stdout)["checks"]
    assert all(set(c) == {"name", "ok", "detail", "fix"} for c in checks)
    by_name = {c["name"]: c for c in checks}
    assert by_name["key file"]["ok"] and by_name["token: directory"]["ok"]
    assert by_name["api: directory users.list"]["ok"] and by_name["api: classroom courses.list"]["ok"]
    assert by_name["org unit /Staff"]["ok"] and by_name["org unit /Pupils"]["ok"]
    assert proc.returncode == (0 if all(c["ok"] for c in checks) else 3)

    scopes = cli(env, "doctor", "--scopes")
    assert scopes.returncode == 0
    assert "https://www.googleapis.com/auth/admin.directory.user.readonly,https://" in scopes.stdout
    assert "Client ID:" in scopes.stdout


def test_doctor_names_the_missing_scope_and_exits_3(school):
    env = school("tiny", 1)
    env.domain.revoke_scope("classroom.profile.emails")
    proc = cli(env, "doctor", "--json")
    assert proc.returncode == 3
    checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
    bad = checks["token: classroom"]
    assert not bad["ok"] and "classroom.profile.emails" in bad["detail"] and "Domain Wide Delegation" in bad["fix"]
    assert checks["token: directory"]["ok"]


def test_doctor_exits_2_for_an_org_unit_that_does_not_exist(school):
    env = school("tiny", 1)
    proc = cli(env, "doctor", SAFECHANNELS__ROSTER__PUPIL_ORG_UNITS="/Pupills")
    assert proc.returncode == 2, proc.stdout
    assert "FAIL org unit /Pupills" in proc.stdout


def test_demo_once_runs_the_whole_service_on_a_simulated_school(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "integration", "demo", "--size", "tiny", "--once", "--dir",
                           str(tmp_path / "demo")], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert "demo: roster: 6 staff, 20 pupils" in proc.stdout
    assert "findings" in proc.stdout and "acknowledgement:" in proc.stdout
    assert (tmp_path / "demo" / "safechannels.toml").exists()
    assert list((tmp_path / "demo" / "outbox").glob("*.eml")), "alerts and policy emails reach the outbox"
