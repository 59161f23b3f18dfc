"""`init` writes a starter config that loads and a new key, and never overwrites either."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from integration import settings

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "integration", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env=env)


def test_init_writes_a_loadable_config_and_a_key_once(tmp_path):
    first = run_cli("init", "--dir", str(tmp_path), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    config, key = tmp_path / "config" / "safechannels.toml", tmp_path / "secrets" / "safechannels.key"
    assert settings.load(config, env={}).school.domain == "northfield.sch.uk"
    before = (config.read_text(), key.read_text())
    again = run_cli("init", "--dir", str(tmp_path), cwd=tmp_path)
    assert again.returncode == 0 and "kept existing" in again.stdout
    assert (config.read_text(), key.read_text()) == before


def test_bad_config_exits_2_naming_file_and_key_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[school]\ndomain = "x.sch.uk"\n[audit]\ninitial_lookback_days = "soon"\n', encoding="utf-8")
    result = run_cli("--config", str(bad), "sync", "--json", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert str(bad) in result.stderr and "initial_lookback_days" in result.stderr
    assert "Traceback" not in result.stderr
