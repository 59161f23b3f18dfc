"""`python -m sandbox --workers 2`: any process answers any request with the same data.

The benchmarks serve the sandbox from several forked processes; this checks that an access
token and page tokens issued by one process are honoured by the others.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from google.oauth2 import service_account as ga_service_account
from googleapiclient.discovery import build

from sandbox.model import SERVICE_SCOPES

SCOPES = [s for s in SERVICE_SCOPES if "directory" in s]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_line(proc: subprocess.Popen[str], text: str, timeout: float) -> bool:
    found = threading.Event()

    def read() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            if text in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    return found.wait(timeout)


def _all_users(url: str, creds: Any) -> list[tuple[str, str]]:
    # A new client is a new HTTP connection, so the kernel may hand it to either process; small pages
    # make the page tokens travel between processes too.
    directory = build("admin", "directory_v1", credentials=creds, client_options={"api_endpoint": url})
    users, token = [], None
    while True:
        page = directory.users().list(customer="my_customer", maxResults=5, pageToken=token,
                                      orderBy="email").execute()
        users += [(u["id"], u["primaryEmail"]) for u in page.get("users", [])]
        token = page.get("nextPageToken")
        if not token:
            return users


def test_two_workers_serve_identical_data_with_shared_tokens(tmp_path: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--size", "tiny", "--workers", "2", "--port", str(port),
         "--write-config", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert _wait_for_line(proc, "worker processes", 10), "sandbox did not start"
        admin = next(line.split("=", 1)[1].strip().strip('"') for line in
                     (tmp_path / "safechannels.toml").read_text().splitlines() if line.startswith("admin_subject"))
        creds = ga_service_account.Credentials.from_service_account_file(
            str(tmp_path / "service-account.json"), scopes=SCOPES).with_subject(admin)
        url = f"http://127.0.0.1:{port}"
        first = _all_users(url, creds)
        assert len(first) > 10
        for _ in range(3):
            assert _all_users(url, creds) == first
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
