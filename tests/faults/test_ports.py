"""A taken port (another demo, another service) — defect 13: werkzeug exited with "Port 5000 is in
use" before the demo's fallback could run, which also failed the README's test command."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from faults_env import ENV, ROOT

from integration.errors import ConfigError
from integration.web.listen import listen

pytestmark = pytest.mark.faults


@pytest.fixture
def taken_port():
    with socket.socket() as other:  # another program listening there
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_a_taken_port_falls_back_only_where_asked(taken_port):
    sock, note = listen("127.0.0.1", taken_port, fallback=True)
    with sock:
        assert sock.getsockname()[1] != taken_port
        assert note == f"port {taken_port} is in use; listening on {sock.getsockname()[1]} instead"
    with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{taken_port}"):
        listen("127.0.0.1", taken_port)


def test_serve_on_a_taken_port_exits_2_naming_it(service, taken_port):
    run = service.run("serve", "--port", str(taken_port), timeout=60)
    assert run.code == 2
    assert f"error: cannot listen on 127.0.0.1:{taken_port}: Address already in use" in run.err


def test_demo_runs_while_its_usual_port_is_taken(tmp_path, taken_port):
    argv = [sys.executable, "-m", "integration", "demo", "--once", "--size", "tiny", "--no-browser",
            "--web-port", str(taken_port), "--dir", str(tmp_path / "demo")]
    done = subprocess.run(argv, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"demo: port {taken_port} is in use; listening on " in done.stdout
    assert "demo: audit:" in done.stdout
