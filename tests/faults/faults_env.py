"""The fault suite's real components: a sandbox process, an SMTP relay that can go down, defer
(greylist) or come back on the same port, and the service's own commands run as processes.

Faults are injected from outside, as an operator's infrastructure would cause them: the relay is
stopped, a database file is locked by another connection, PostgreSQL is restarted, a worker is
SIGKILLed. Nothing here patches the service's code.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import tomli_w
from aiosmtpd.controller import Controller

from integration.crypto import Crypto, write_new_key_file
from integration.store import Store

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, seconds: float = 30.0, what: str = "condition", step: float = 0.1):
    """Poll ``predicate`` until it returns something truthy (returned) or ``seconds`` pass (fail)."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")
        time.sleep(step)


# ------------------------------------------------------------------ SMTP relay


@dataclass
class RelayLog:
    """What the relay accepted, and how it answers: ``greylist`` seconds of 451 per (sender, recipient)
    pair seen for the first time (RFC 6647 greylisting), ``deferred`` counts those answers."""

    messages: list[EmailMessage] = field(default_factory=list)
    greylist: float = 0.0
    delay: float = 0.0  # seconds before answering DATA (a slow relay)
    first_seen: dict[tuple[str, str], float] = field(default_factory=dict)
    deferred: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        pair = (envelope.mail_from or "", address)
        seen = self.first_seen.setdefault(pair, time.monotonic())
        if time.monotonic() - seen < self.greylist:
            self.deferred += 1
            return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]


class Relay:
    """A real SMTP server (aiosmtpd) on a fixed port: stop it and the port refuses connections."""

    def __init__(self) -> None:
        self.port = free_port()
        self.log = RelayLog()
        self._controller: Controller | None = None

    def start(self) -> Relay:
        self._controller = Controller(self.log, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=5"


# ------------------------------------------------------------------ the sandbox as a process


class SandboxProcess:
    """``python -m sandbox`` on a free port, with the config it writes for the service."""

    def __init__(self, directory: Path, *, size: str = "tiny", fault_rate: float = 0.0, seed: int = 1):
        self.directory = directory
        cmd = [sys.executable, "-m", "sandbox", "--size", size, "--seed", str(seed), "--port", "0",
               "--fault-rate", str(fault_rate), "--write-config", str(directory)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.url = ""
        for line in self.proc.stdout:  # the announcement ends with the config it wrote
            if " at http://" in line and not self.url:
                self.url = line.rsplit(" at ", 1)[1].strip()
            if line.startswith("sandbox: wrote"):
                break
        else:
            raise AssertionError(f"the sandbox did not start (exit {self.proc.wait()})")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        self.config = directory / "safechannels.toml"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ------------------------------------------------------------------ the service's commands


@dataclass
class Result:
    code: int
    out: str
    err: str
    seconds: float

    def json(self):
        return json.loads(self.out)


class Running:
    """A long-running command (``worker``, ``serve``) whose stderr is collected without ever blocking."""

    def __init__(self, argv: list[str]):
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return "".join(self.lines)

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as when the platform kills a process or the machine dies."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Service:
    """One installation: a config file on the test's database, and its commands as processes."""

    def __init__(self, directory: Path, database_url: str, base: dict | None = None):
        self.directory = directory
        self.config = directory / "safechannels.toml"
        self.data = base or {"school": {"name": "Northfield Academy", "domain": "northfield.sch.uk"}}
        self.key = directory / "safechannels.key"
        write_new_key_file(self.key)
        self.data.setdefault("privacy", {})["encryption_key_file"] = str(self.key)
        self.data["database"] = {"url": database_url}
        self.data.setdefault("alerts", {})
        self.write()
        self._stores: list[Store] = []

    def store(self) -> Store:
        """The service's database, migrated, as the test's own view of what the processes stored."""
        store = Store(self.data["database"]["url"], Crypto.from_file(self.key))
        store.migrate()
        self._stores.append(store)
        return store

    def close(self) -> None:
        for store in self._stores:
            store.dispose()

    def set(self, section: str, **values) -> Service:
        self.data.setdefault(section, {}).update(values)
        return self.write()

    def write(self) -> Service:
        self.config.write_text(tomli_w.dumps(self.data), encoding="utf-8")
        return self

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "integration", "--config", str(self.config), *args]

    def run(self, *args: str, timeout: float = 120) -> Result:
        started = time.monotonic()
        done = subprocess.run(self.argv(*args), cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout)
        return Result(done.returncode, done.stdout, done.stderr, time.monotonic() - started)

    def start(self, *args: str) -> Running:
        return Running(self.argv(*args))

    @classmethod
    def for_sandbox(cls, sandbox: SandboxProcess, directory: Path, database_url: str) -> Service:
        """The config the sandbox wrote, on this test's own database, key and outbox."""
        data = tomllib.loads(sandbox.config.read_text(encoding="utf-8"))
        data["alerts"]["outbox_dir"] = str(directory / "outbox")
        return cls(directory, database_url, data)
