"""The benchmark's replay server answers a repeated read exactly as the sandbox did, without asking it,
and never replays one impersonated user's answers to another."""

from __future__ import annotations

import json
import threading

import pytest

from benchmarks.replay import Recording, ReplayServer
from connectors.google.auth import KeyFile
from connectors.google.roster import GoogleRosterSource
from connectors.google.transport import GoogleClient
from sandbox.token import TOKEN_PATH


@pytest.fixture
def replay(google, tmp_path):
    servers: list[ReplayServer] = []

    def start(g):
        server = ReplayServer(0, Recording(g.server.url), latency_ms=0)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        url = f"http://127.0.0.1:{server.server_address[1]}"
        info = json.loads(g.key.path.read_text())
        info["token_uri"] = url + TOKEN_PATH
        path = tmp_path / f"replay-key-{len(servers)}.json"
        path.write_text(json.dumps(info))
        return server, url, KeyFile(path)

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


def snapshot(client, admin):
    snap = GoogleRosterSource(client, admin=admin).fetch_roster()
    assert snap.errors == {}
    return {name: sorted(map(repr, getattr(snap, name))) for name in ("users", "courses", "enrolments", "guardians")}


def test_a_repeated_read_is_answered_from_the_recording(google, replay):
    g = google("tiny")
    server, url, key = replay(g)
    direct = snapshot(g.client(), g.admin)
    first = snapshot(GoogleClient(key, api_base_url=url, quotas={}), g.admin)
    logged, forwarded = len(g.server.log), server.recording.forwarded
    second = snapshot(GoogleClient(key, api_base_url=url, quotas={}), g.admin)
    assert first == direct and second == direct
    assert server.recording.replayed > 0
    # only the token exchanges reached the sandbox the second time
    assert server.recording.forwarded - forwarded == 2
    assert {e.method_id for e in g.server.log[logged:]} <= {"", "token"}
    assert g.server.problems() == []


def test_answers_are_kept_per_impersonated_user(google, replay):
    g = google("tiny")
    server, url, key = replay(g)
    client = GoogleClient(key, api_base_url=url, quotas={})
    scopes = ("https://www.googleapis.com/auth/admin.directory.user.readonly",)
    pupil = next(u for u in g.domain.users if not u.is_admin and not u.suspended and not u.deleted)

    def users_as(subject: str):
        req = client.resource("directory", "users").list(customer="my_customer", maxResults=5)
        return client.execute("directory", req, subject=subject, scopes=scopes)

    assert users_as(g.admin)["users"]
    with pytest.raises(Exception, match="(?i)not authori[sz]ed|forbidden|403"):
        users_as(pupil.primary_email)  # the sandbox refuses a non-admin: not the admin's recorded answer
