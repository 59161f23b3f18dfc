"""Fixtures for the sandbox's own tests: a tiny generated school served over real HTTP,
and Google's own client libraries pointed at it (no mocks)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from google.oauth2 import service_account as ga_service_account
from googleapiclient.discovery import build

from sandbox.model import SERVICE_SCOPES, Domain
from sandbox.school import generate
from sandbox.server import SandboxServer
from sandbox.token import service_account

ADMIN_SCOPES = [s for s in SERVICE_SCOPES if "directory" in s or "classroom" in s]


@pytest.fixture
def tiny_school() -> Domain:
    return generate("tiny", seed=1)


@pytest.fixture
def server(tiny_school: Domain) -> Iterator[SandboxServer]:
    with SandboxServer(tiny_school) as srv:
        yield srv


@pytest.fixture
def key_file(server: SandboxServer, tmp_path: Path) -> Path:
    path = tmp_path / "service-account.json"
    path.write_text(json.dumps(service_account(server.domain).key_json(server.token_uri)))
    return path


@pytest.fixture
def credentials(key_file: Path, server: SandboxServer) -> Callable[..., Any]:
    """credentials(scopes=..., subject=...) -> google-auth delegated credentials for the sandbox key."""

    def make(scopes: list[str] | None = None, subject: str | None = None) -> Any:
        base = ga_service_account.Credentials.from_service_account_file(str(key_file), scopes=scopes or ADMIN_SCOPES)
        return base.with_subject(subject or server.domain.admin_email)

    return make


@pytest.fixture
def directory(server: SandboxServer, credentials: Callable[..., Any]) -> Any:
    return build("admin", "directory_v1", credentials=credentials(), client_options={"api_endpoint": server.url})


@pytest.fixture
def classroom(server: SandboxServer, credentials: Callable[..., Any]) -> Any:
    return build("classroom", "v1", credentials=credentials(), client_options={"api_endpoint": server.url})
