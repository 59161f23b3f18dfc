"""Fault-suite fixtures: real processes (helpers in faults_env.py, importable by a unique name)."""

from __future__ import annotations

import logging

import pytest
from faults_env import Relay, SandboxProcess, Service


@pytest.fixture(autouse=True)
def _quiet_relay_logs():
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection at INFO


@pytest.fixture
def relay():
    server = Relay().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    """One simulated school per test module (the service only reads it, so tests can share it)."""
    proc = SandboxProcess(tmp_path_factory.mktemp("sandbox"))
    yield proc
    proc.stop()


@pytest.fixture
def service(tmp_path, database_url):
    """An installation on this test's database with its own key; ``service.store()`` opens the store."""
    svc = Service(tmp_path, database_url)
    yield svc
    svc.close()


@pytest.fixture
def sandboxed(sandbox, tmp_path, database_url):
    """An installation pointed at the sandbox process (the config it wrote), on this test's database."""
    svc = Service.for_sandbox(sandbox, tmp_path, database_url)
    yield svc
    svc.close()
