"""Acknowledgement fixtures (helpers in acks_env.py so test modules can import them by a unique name)."""

from __future__ import annotations

import pytest
from acks_env import AckEnv, SmtpServer, make_context, patch_config

from sandbox import generate
from sandbox.config_writer import write_config
from sandbox.forms import forms_state
from sandbox.server import SandboxServer


@pytest.fixture
def acks_env(tmp_path, database_url):
    """Factory: acks_env(**[acknowledgement] overrides) -> AckEnv with a seeded staff roster."""
    made: list[AckEnv] = []

    def build(seed_roster: bool = True, **ack) -> AckEnv:
        domain = generate("tiny", 1)
        forms_state(domain).default_email_collection = "DO_NOT_COLLECT"  # prove the service sets VERIFIED
        server = SandboxServer(domain).start()
        smtp = SmtpServer().start()
        config = write_config(domain, server.url, tmp_path / f"cfg{len(made)}")
        patch_config(config, database_url, smtp.url, **ack)
        sleeps: list[float] = []
        env = AckEnv(domain, server, smtp, config, make_context(config, sleeps), sleeps)
        made.append(env)
        if seed_roster:
            seed(env)
        return env

    yield build
    for env in made:
        if "store" in env.ctx.__dict__:
            env.ctx.store.dispose()
        env.server.stop()
        env.smtp.stop()


def seed(env: AckEnv) -> None:
    """Three staff (one with an alias), a governor, a pupil, a former pupil and the IT admin."""
    env.add_person("alice.adams", "Alice Adams")
    env.add_person("bob.brown", "Bob Brown", org_unit="/Staff/Science")
    env.add_person("carol.clark", "Carol Clark", aliases=(env.addr("c.clark"),))
    env.add_person("gus.governor", "Gus Governor", role="other", org_unit="/Governors")
    env.add_person("pat.pupil", "Pat Pupil", role="pupil", org_unit="/Pupils/Year 7")
    env.add_person("old.pupil", "Old Pupil", role="former_pupil", org_unit="/Pupils/Leavers", status="suspended")
    env.add_person("it.admin", "IT Admin", role="other", org_unit="/")


@pytest.fixture(autouse=True)
def _quick_in_run_retries(monkeypatch):
    """A deferring relay is retried within a delivery run after 1, 2 and 4 s; these tests' relay defers
    on purpose many times, so they retry at once (the delays themselves are tested in tests/faults)."""
    monkeypatch.setattr("integration.alerts.deliver.IN_RUN_RETRIES", (0.0, 0.0, 0.0))
