"""Connector fixtures: a tiny generated school served by the sandbox over real HTTP, and a
GoogleClient on the key the sandbox trusts (its sleeps recorded instead of slept)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer

import pytest
from stub_env import StubGoogle

from connectors.google.auth import KeyFile
from connectors.google.transport import GoogleClient
from sandbox import generate
from sandbox.model import Domain
from sandbox.server import SandboxServer
from sandbox.token import service_account


@dataclass
class Google:
    domain: Domain
    server: SandboxServer
    key: KeyFile
    sleeps: list[float] = field(default_factory=list)

    def client(self, **kw) -> GoogleClient:
        kw.setdefault("sleep", self.sleeps.append)
        return GoogleClient(self.key, api_base_url=self.server.url, **kw)

    @property
    def admin(self) -> str:
        return self.domain.admin_email


@pytest.fixture
def google(tmp_path, request):
    """google(size="tiny", **server options) -> Google."""
    servers: list[SandboxServer] = []

    def build(size: str = "tiny", seed: int = 1, **server_kw) -> Google:
        dom = generate(size, seed)
        server = SandboxServer(dom, **server_kw).start()
        servers.append(server)
        path = tmp_path / f"key-{len(servers)}.json"
        path.write_text(json.dumps(service_account(dom).key_json(server.token_uri)))
        return Google(dom, server, KeyFile(path))

    yield build
    for s in servers:
        s.stop()


@pytest.fixture
def stub_google():
    """stub_google(handler class) -> base URL of a real HTTP server answering with that handler."""
    servers: list[ThreadingHTTPServer] = []

    def start(handler: type[StubGoogle]) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
