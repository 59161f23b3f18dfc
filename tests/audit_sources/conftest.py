"""Audit-source fixtures (helpers live in sources_env.py so test modules can import them by a unique name)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sources_env import AuditEnv, make_context

from integration.roster import run_sync
from sandbox import generate
from sandbox.activity import activity, set_reports_gmail
from sandbox.config_writer import write_config
from sandbox.server import SandboxServer


@pytest.fixture
def school(tmp_path, database_url):
    """Factory: school(size, seed, shape=..., reports_gmail=True, **server options) -> AuditEnv with the roster synced.
    Every school shares the test database unless given its own (``database=``)."""
    envs: list[AuditEnv] = []

    def build(size: str = "tiny", seed: int = 1, *, shape: str = "classic", reports_gmail: bool = True,
              mail_source: str = "auto", max_attempts: int = 7, database: str = "", now: datetime | None = None,
              **server_kw) -> AuditEnv:
        """`now`: the time the school's activity is generated at (default: the real clock)."""
        dom = generate(size, seed, shape)
        if now is not None:
            activity(dom, now)
        set_reports_gmail(dom, reports_gmail)
        server = SandboxServer(dom, **server_kw).start()
        config = write_config(dom, server.url, tmp_path / f"{shape}-{size}-{seed}-{len(envs)}")
        ctx = make_context(config, database or database_url, max_attempts=max_attempts)
        ctx.settings.audit.mail_source = mail_source
        env = AuditEnv(dom, server, config, ctx)
        envs.append(env)
        assert run_sync(ctx).status == "ok"
        return env

    yield build
    for env in envs:
        if "store" in env.ctx.__dict__:
            env.ctx.store.dispose()
        env.server.stop()
