"""A taken port (another demo, another service) — defect 13: werkzeug exited with "Port 5000 is in
use" before the demo's fallback could run, which also failed the README's test command."""

from __future__ import annotations

import re
import signal
import socket
import sys

import pytest
import requests
from faults_env import Running, wait_for

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


def test_demo_runs_while_its_usual_port_is_taken_and_gets_ready(tmp_path, taken_port):
    """Also: /readyz is not ready until a worker has a heartbeat; the demo starts one, so it gets ready."""
    demo = Running([sys.executable, "-m", "integration", "demo", "--size", "tiny", "--no-browser",
                    "--web-port", str(taken_port), "--dir", str(tmp_path / "demo")])
    try:
        wait_for(lambda: "demo: Ctrl-C stops the demo" in demo.text() or demo.proc.poll() is not None, 300,
                 "the demo to start")
        out = demo.text()
        assert f"demo: port {taken_port} is in use; listening on " in out, out[-2000:]
        assert "demo: audit:" in out
        url = re.search(r"demo: dashboard (http://\S+)/ ", out).group(1)
        wait_for(lambda: requests.get(url + "/readyz", timeout=10).status_code == 200, 60, "/readyz to be ready")
        demo.proc.send_signal(signal.SIGINT)
        assert demo.proc.wait(60) == 0, demo.text()[-2000:]
    finally:
        demo.stop()
