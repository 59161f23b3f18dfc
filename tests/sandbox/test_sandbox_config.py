"""The written configuration loads as the service's settings and works with Google's own client."""

from __future__ import annotations

import csv
import subprocess
import sys
import tomllib
from pathlib import Path

from google.oauth2 import service_account
from googleapiclient.discovery import build

from integration.settings import load
from sandbox.config_writer import write_config
from sandbox.school import generate
from sandbox.server import SandboxServer


def _rows(path: str) -> list[dict[str, str]]:
    return list(csv.DictReader(Path(path).read_text(encoding="utf-8").splitlines()))


def test_written_config_is_complete_and_points_at_the_sandbox(server, tmp_path):
    path = write_config(server.domain, server.url, tmp_path / "cfg")
    settings = load(path, env={})
    d = server.domain
    assert settings.google.api_base_url == server.url and settings.google.admin_subject == d.admin_email
    assert settings.roster.staff_org_units == ["/Staff"] and settings.alerts.transport == "outbox"
    assert settings.database.url == f"sqlite:///{tmp_path / 'cfg' / 'safechannels.db'}"
    assert not (tmp_path / "cfg" / "safechannels.key").exists()
    rows = _rows(settings.channels.personal_address_register)
    known = sum(len(v) for v in d.personal_addresses.values())
    assert 0 < len(rows) < known
    exceptions = _rows(settings.channels.exceptions_register)
    assert sorted(r["expires"] for r in exceptions) == ["2025-07-31", "2027-08-31"]
    parent = exceptions[0] if exceptions[0]["expires"] == "2027-08-31" else exceptions[1]
    assert any(g.email == parent["staff"] for g in d.guardians)


def test_googles_client_works_unchanged_with_the_written_key(server, tmp_path):
    toml_path = write_config(server.domain, server.url, tmp_path)
    config = tomllib.loads(toml_path.read_text())
    creds = service_account.Credentials.from_service_account_file(
        config["google"]["service_account_file"],
        scopes=["https://www.googleapis.com/auth/admin.directory.user.readonly"],
    ).with_subject(config["google"]["admin_subject"])
    svc = build("admin", "directory_v1", credentials=creds, client_options={"api_endpoint": config["google"]["api_base_url"]})
    users = svc.users().list(customer="my_customer", maxResults=500).execute()["users"]
    assert len(users) == sum(1 for u in server.domain.users if not u.deleted)


def test_trust_config_lists_every_schools_org_units(tmp_path):
    d = generate("trust")
    with SandboxServer(d) as srv:
        settings = load(write_config(d, srv.url, tmp_path), env={})
    assert len(settings.roster.staff_org_units) == 20
    assert all(p.startswith("/Schools/") for p in settings.roster.pupil_org_units)


def test_python_m_sandbox_serves_and_writes_config(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--size", "tiny", "--port", "0", "--write-config",
                             str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert " at http://127.0.0.1:" in first
        for _ in range(3):
            proc.stdout.readline()
        assert (tmp_path / "safechannels.toml").exists() and (tmp_path / "service-account.json").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
