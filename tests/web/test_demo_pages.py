"""`python -m integration demo` end to end, as a new user tries it: two demos at once (the second
starts while the first holds its port), each signs in its demo users through the simulated school's
Google sign-in, and every page a role can open is filled from the simulated school — no page shows
its "nothing yet" state."""

from __future__ import annotations

import csv
import io
import os
import queue
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from school_env import google_sign_in

ROOT = Path(__file__).resolve().parents[2]
STARTED = "demo: Ctrl-C stops the demo"
EMPTY = ("No findings yet", "No acknowledgement round yet", "No job has run yet", "No evidence recorded",
         "No findings match", "No findings name this person", "No findings in these weeks",
         "have not been run from here yet", "not configured ([channels]")


class Demo:
    """One `demo` process (its sandbox, web app and worker) and what it printed."""

    def __init__(self, directory: Path, web_port: int = 0):
        argv = [sys.executable, "-m", "integration", "demo", "--size", "tiny", "--no-browser",
                "--web-port", str(web_port), "--dir", str(directory)]
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines: list[str] = []
        self._q: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._q.put(line.rstrip("\n"))

    def wait_started(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while STARTED not in self.lines:
            try:
                self.lines.append(self._q.get(timeout=1))
            except queue.Empty:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the demo did not start:\n" + "\n".join(self.lines[-40:]))

    @property
    def url(self) -> str:
        return next(re.search(r"demo: dashboard (http://\S+?)/? ", ln).group(1) for ln in self.lines
                    if ln.startswith("demo: dashboard "))

    def user(self, role: str) -> str:
        return next(ln.split()[-1] for ln in self.lines if re.match(rf"demo:\s+{re.escape(role)}\s+\S+@", ln))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def demos(tmp_path):
    first = Demo(tmp_path / "one")
    started: list[Demo] = [first]
    try:
        first.wait_started()
        port = int(first.url.rsplit(":", 1)[1])
        second = Demo(tmp_path / "two", web_port=port)  # another demo, asking for the first one's port
        started.append(second)
        second.wait_started()
        yield first, second
    finally:
        for d in started:
            d.stop()


def filled(http: requests.Session, url: str) -> str:
    r = http.get(url)
    assert r.status_code == 200, (url, r.status_code)
    empty = [e for e in EMPTY if e in r.text]
    assert not empty, f"{url} shows {empty}"
    return r.text


def signed_in(demo: Demo, role: str) -> requests.Session:
    http = requests.Session()
    page = google_sign_in(http, demo.url, demo.user(role))
    assert page.status_code == 200 and "Sign out" in page.text, role
    return http


@pytest.mark.skipif(bool(os.environ.get("SAFECHANNELS_TEST_DATABASE_URL")),
                    reason="the demo keeps its own SQLite database: the PostgreSQL run would repeat it as is")
def test_two_demos_at_once_each_with_every_page_filled_for_every_role(demos):
    first, second = demos
    assert f"port {first.url.rsplit(':', 1)[1]} is in use; listening on" in "\n".join(second.lines)
    assert first.url != second.url

    for demo in (first, second):
        dsl = signed_in(demo, "DSL")
        filled(dsl, demo.url + "/")
        inbox = filled(dsl, demo.url + "/findings")
        ids = re.findall(r'href="/findings/(\d+)"', inbox)
        assert ids, "the inbox lists the simulated school's findings"
        finding = filled(dsl, f"{demo.url}/findings/{ids[0]}")
        person = re.search(r'href="(/people/[^"]+)"', finding).group(1)
        filled(dsl, demo.url + person)
        acks = filled(dsl, demo.url + "/acks")
        assert "% acknowledged" in acks or "acknowledged" in acks
        assert "<svg" in filled(dsl, demo.url + "/reports")
        assert len(list(csv.reader(io.StringIO(dsl.get(demo.url + "/findings.csv").text)))) == len(
            list(csv.reader(io.StringIO(dsl.get(demo.url + "/findings.csv?per_page=500").text)))) > 1
        assert len(list(csv.reader(io.StringIO(dsl.get(demo.url + "/acks.csv").text)))) > 1
        assert f"finding #{ids[0]}" in dsl.get(f"{demo.url}/findings/{ids[0]}/evidence.txt").text
        assert dsl.get(demo.url + "/api/findings").json()["total"] >= len(ids)

        admin = signed_in(demo, "IT admin")
        setup = admin.get(demo.url + "/admin/setup").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', setup).group(1)
        admin.post(demo.url + "/admin/setup/doctor", data={"csrf_token": token})  # the checks, run from the page
        filled(admin, demo.url + "/admin/setup")
        assert "<td" in filled(admin, demo.url + "/admin/roster")
        filled(admin, demo.url + "/admin/registers")
        log = filled(admin, demo.url + "/admin/access-log")
        assert demo.user("DSL").split("@")[0] in log  # the DSL's views just now
        filled(admin, demo.url + "/admin/config")

        viewer = signed_in(demo, "viewer (governor)")
        filled(viewer, demo.url + "/")
        filled(viewer, demo.url + "/reports")
        assert viewer.get(demo.url + "/findings").status_code == 403
