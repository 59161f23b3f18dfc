"""Roster test fixtures (helpers live in roster_env.py so test modules can import them by a unique name)."""

from __future__ import annotations

import pytest
from roster_env import Context, SandboxServer, SchoolEnv, make_context

from sandbox import generate
from sandbox.config_writer import write_config


@pytest.fixture
def school(tmp_path, database_url):
    """Factory: school(size, gen_seed, shape=..., **server options) -> SchoolEnv (servers stopped after the test)."""
    servers: list[SandboxServer] = []
    contexts: list[Context] = []

    def build(size: str = "tiny", gen_seed: int = 1, shape: str = "classic", **server_kw) -> SchoolEnv:
        dom = generate(size, gen_seed, shape)
        server = SandboxServer(dom, **server_kw).start()
        servers.append(server)
        config = write_config(dom, server.url, tmp_path / f"{shape}-{size}-{gen_seed}-{len(servers)}")
        sleeps: list[float] = []
        ctx = make_context(config, database_url, sleeps)
        contexts.append(ctx)
        return SchoolEnv(dom, server, config, ctx, sleeps)

    yield build
    for ctx in contexts:
        if "store" in ctx.__dict__:
            ctx.store.dispose()
    for server in servers:
        server.stop()


