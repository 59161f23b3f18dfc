"""Helpers for roster tests: a generated school served by the sandbox over real HTTP, its written
config, and a Context whose store is the test database (SQLite or PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from connectors.google.auth import KeyFile
from connectors.google.transport import GoogleClient
from integration import settings as settings_mod
from integration.wiring import Context
from sandbox.school import Domain
from sandbox.server import SandboxServer


@dataclass
class SchoolEnv:
    domain: Domain
    server: SandboxServer
    config: Path
    ctx: Context
    sleeps: list[float]


def make_context(config: Path, database_url: str, sleeps: list[float]) -> Context:
    """A Context on `config` with the test database and a Google client that never really sleeps."""
    settings = settings_mod.load(config, env={})
    settings.database.url = database_url
    ctx = Context(settings)
    key = KeyFile(settings.resolve(settings.google.service_account_file))
    ctx.__dict__["google"] = GoogleClient(key, api_base_url=settings.google.api_base_url, sleep=sleeps.append)
    return ctx


def expected(dom: Domain) -> dict:
    from sandbox import truth

    t = truth(dom)
    return {k: t[k] for k in ("staff", "pupils", "former_pupils", "guardians", "courses")}


def counts(result) -> dict:
    doc = result.as_json()
    return {k: doc[k] for k in ("staff", "pupils", "former_pupils", "guardians", "courses")}
