"""`python -m integration serve` runs the app with werkzeug: a real process answering on its port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def test_serve_answers_health_and_shows_the_dev_banner(config, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "integration", "--config", str(config), "serve",
                             "--host", "127.0.0.1", "--port", "0"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url, deadline = "", time.monotonic() + 60
        while not url and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                break
            m = re.search(r"url=(http://127\.0\.0\.1:\d+)", line)
            url = m.group(1) if m else ""
        assert url, "serve did not report its address"
        assert requests.get(url + "/healthz", timeout=10).json() == {"status": "ok"}
        ready = requests.get(url + "/readyz", timeout=10)  # serve alone: no worker schedules the jobs
        assert ready.status_code == 503 and ready.json()["reason"].startswith("no worker running")
        login = requests.get(url + "/auth/login", timeout=10)
        assert "Development sign-in is on" in login.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_serve_refuses_dev_login_on_a_public_address(config, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "integration", "--config", str(config), "serve",
                           "--host", "0.0.0.0", "--port", "0"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "dev_login" in done.stderr
