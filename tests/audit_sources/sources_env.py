"""Helpers for the audit-source tests: a generated school served by the sandbox over real HTTP, a
Context on the test database, and comparisons of stored findings with the sandbox's truth file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from connectors.google.auth import KeyFile
from connectors.google.transport import GoogleClient
from integration import settings as settings_mod
from integration.findings import as_json, list_findings
from integration.store.models_audit import Finding
from integration.wiring import Context
from sandbox.activity import audit_truth
from sandbox.model import Domain
from sandbox.server import SandboxServer


@dataclass
class AuditEnv:
    domain: Domain
    server: SandboxServer
    config: Path
    ctx: Context

    def findings(self) -> list[dict]:
        with self.ctx.store.session() as s:
            return [as_json(f) for f in list_findings(s)]

    def occurrences(self) -> dict[tuple, int]:
        with self.ctx.store.session() as s:
            return {key(as_json(f)): f.occurrences for f in s.scalars(select(Finding))}


def make_context(config: Path, database_url: str, *, max_attempts: int = 7) -> Context:
    """A Context on `config` with the test database and a Google client that never really sleeps."""
    settings = settings_mod.load(config, env={})
    settings.database.url = database_url
    ctx = Context(settings)
    key = KeyFile(settings.resolve(settings.google.service_account_file))
    ctx.__dict__["google"] = GoogleClient(key, api_base_url=settings.google.api_base_url, sleep=lambda _s: None,
                                          max_attempts=max_attempts)
    return ctx


def key(d: dict) -> tuple:
    """What identifies a finding for comparison: rule and people, plus the counterpart address
    (an OAuth finding's counterpart is the app, which the truth names by client id instead)."""
    counterpart = None if d["rule"] == "oauth.social_app_grant" else d.get("counterpart")
    return d["rule"], d.get("staff"), d.get("pupil"), d.get("guardian"), counterpart


def compare(found: list[dict], dom: Domain) -> list[str]:
    """Every difference between stored findings and the truth file (empty = exact match)."""
    truth = {key(t): t for t in audit_truth(dom)}
    got = {key(f): f for f in found}
    out = [f"missed {k}" for k in truth.keys() - got.keys()]
    out += [f"unexpected {k} evidence={got[k]['evidence']}" for k in got.keys() - truth.keys()]
    for k in truth.keys() & got.keys():
        want = (truth[k]["status"], truth[k]["confidence"])
        have = (got[k]["status"], got[k]["confidence"])
        if want != have:
            out.append(f"{k}: expected status/confidence {want}, got {have}")
    if len(found) != len(got):
        out.append(f"{len(found) - len(got)} duplicate findings")
    return out


FORBIDDEN = [
    (re.compile(r"(^|&)format=(full|raw)(&|$)"), "asks Gmail for a message body"),
    (re.compile(r"(^|&)alt=media(&|$)"), "downloads file contents"),
    (re.compile(r"(^|&)fields=[^&]*(body|snippet|raw|content)", re.I), "asks for bodies through a fields mask"),
]


def privacy_problems(server: SandboxServer) -> list[str]:
    """Requests that would read message bodies or file contents, or search mail with gmail.metadata."""
    out = []
    for e in server.requests():
        query = "&".join(f"{k}={v}" for k, vs in e.query.lists() for v in vs)
        for pattern, why in FORBIDDEN:
            if pattern.search(query):
                out.append(f"{e.method} {e.path}?{query}: {why}")
        if "/export" in e.path or e.path.endswith("/download"):
            out.append(f"{e.method} {e.path}: exports file contents")
        if e.method_id == "gmail.users.messages.list" and "q" in e.query:
            out.append(f"{e.path}: a search (q) — gmail.metadata forbids it")
        if e.method_id == "gmail.users.messages.get" and e.query.get("format") != "metadata":
            out.append(f"{e.path}: messages.get without format=metadata")
    return out
