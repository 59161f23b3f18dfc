"""End to end over real HTTP: renew_all opens Directory users.watch channels at the sandbox (Google's
wire format, through google-api-python-client), the sandbox's channel registry then drives a
Google-style sender that posts notifications to the running app, and the app asks for a roster
sync; renewing replaces the channels and stops the old ones at the sandbox (channels.stop)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import update
from web_env import LiveServer, job_requests, make_app

from connectors.google.auth import KeyFile
from connectors.google.transport import GoogleClient
from integration import settings as settings_mod
from integration.store.models_web import WatchChannel
from integration.watches import renew_all
from integration.wiring import Context
from sandbox.config_writer import write_config
from sandbox.school import generate
from sandbox.server import SandboxServer


def send(channel: dict, state: str) -> int:
    """What Google does for a channel: POST to its address with the X-Goog-* headers, numbers rising."""
    channel["message_number"] = channel.get("message_number", 0) + 1
    r = requests.post(channel["address"], timeout=10, headers={
        "X-Goog-Channel-ID": channel["id"], "X-Goog-Channel-Token": channel.get("token", ""),
        "X-Goog-Message-Number": str(channel["message_number"]), "X-Goog-Resource-ID": channel["resourceId"],
        "X-Goog-Resource-URI": channel["resourceUri"], "X-Goog-Resource-State": state})
    return r.status_code


@pytest.fixture
def sandbox_ctx(tmp_path, store, crypto):
    dom = generate("tiny", 1)
    with SandboxServer(dom) as server:
        settings = settings_mod.load(write_config(dom, server.url, tmp_path / "sandbox"), env={})
        settings.webhooks.pubsub_topic = ""
        ctx = Context(settings)
        ctx.__dict__.update(crypto=crypto, store=store)
        key = KeyFile(settings.resolve(settings.google.service_account_file))
        ctx.__dict__["google"] = GoogleClient(key, api_base_url=settings.google.api_base_url, sleep=lambda _s: None)
        yield ctx, dom, server


def test_sandbox_channels_push_to_the_running_app_and_renewal_stops_the_old_ones(sandbox_ctx, store):
    ctx, dom, server = sandbox_ctx
    with LiveServer(make_app(ctx)) as live:
        ctx.settings.webhooks.public_url = live.url
        summary = renew_all(ctx)
        directory = {cid: ch for cid, ch in dom.channels.items() if ch.get("api") == "directory"}
        assert sorted(ch["event"] for ch in directory.values()) == ["add", "delete", "undelete", "update"]
        assert all(ch["address"] == live.url + "/webhooks/directory" for ch in directory.values())
        assert summary["opened"] >= 4

        channel = next(iter(directory.values()))
        assert send(channel, "sync") == 204
        assert job_requests(store) == []
        assert send(channel, channel["event"]) == 204
        assert job_requests(store) == [("roster_sync", f"push directory.users {channel['event']}")]
        forged = {**channel, "token": "not-the-token"}
        assert send(forged, "update") == 403

        with store.session() as s:  # all four are close to expiry: renew_all replaces them
            s.execute(update(WatchChannel).where(WatchChannel.source == "directory.users")
                      .values(expires_at=datetime.now(UTC) + timedelta(minutes=30)))
        renew_all(ctx)
        now_open = {cid for cid, ch in dom.channels.items() if ch.get("api") == "directory"}
        assert len(now_open) == 4 and now_open.isdisjoint(directory)
        stops = server.requests("admin.channels.stop")
        assert len(stops) == 4
        assert send(channel, "update") == 403  # the stopped channel is no longer accepted
