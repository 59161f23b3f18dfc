"""A simulated school behind the web app: the sandbox (Google's wire format and its OpenID provider),
a config written for it, roster sync, audit and the acknowledgement round run for real, then the app on
a live server. Sign-in goes through the sandbox's "Sign in with Google" (authorization-code flow)."""

from __future__ import annotations

import html
import re
import tomllib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import requests
import tomli_w
from web_env import LiveServer

from integration import settings as settings_mod
from integration.wiring import Context
from sandbox import generate
from sandbox.config_writer import write_config
from sandbox.server import SandboxServer


@dataclass
class School:
    domain: object
    server: SandboxServer
    config: Path
    ctx: Context

    @property
    def dsl(self) -> str:
        return self.ctx.settings.web.dsl_users[0]

    @property
    def admin(self) -> str:
        return self.ctx.settings.web.admin_users[0]

    @property
    def viewer(self) -> str:
        return self.ctx.settings.web.viewer_users[0]


def build_school(tmp_path: Path, database_url: str, size: str = "tiny", seed: int = 1) -> School:
    from integration.acknowledgement import run_acknowledgement
    from integration.audit import run_audit
    from integration.roster import run_sync

    domain = generate(size, seed)
    server = SandboxServer(domain).start()
    config = write_config(domain, server.url, tmp_path / "school")
    data = tomllib.loads(config.read_text(encoding="utf-8"))
    data["database"]["url"] = database_url
    config.write_text(tomli_w.dumps(data), encoding="utf-8")
    ctx = Context(settings_mod.load(config, env={}))
    run_sync(ctx)
    run_audit(ctx)
    run_acknowledgement(ctx)
    return School(domain, server, config, ctx)


@contextmanager
def module_database(tmp_path_factory):
    """A database for a module's tests (like the ``database_url`` fixture, but shared by a module)."""
    import os

    from db_env import pg_schema

    if not os.environ.get("SAFECHANNELS_TEST_DATABASE_URL"):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    with pg_schema() as url:
        yield url


def app_for(school: School):
    from integration.app import create_app

    app = create_app(ctx=school.ctx, bind_host="127.0.0.1")
    app.config["TESTING"] = True
    return app


def google_sign_in(http: requests.Session, base: str, email: str) -> requests.Response:
    """The whole flow over HTTP: our /auth/google → the provider's chooser → choose → our callback."""
    start = http.get(base + "/auth/google", allow_redirects=False)
    assert start.status_code == 302, start.text
    chooser = http.get(start.headers["Location"])
    assert chooser.status_code == 200 and "Choose an account" in chooser.text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', chooser.text))
    fields = {k: html.unescape(v) for k, v in fields.items()} | {"email": email}
    chosen = http.post(urljoin(start.headers["Location"], "/o/oauth2/v2/auth"), data=fields, allow_redirects=False)
    assert chosen.status_code == 302
    return http.get(chosen.headers["Location"], allow_redirects=True)


__all__ = ["LiveServer", "School", "app_for", "build_school", "google_sign_in", "module_database"]
