"""End to end over real HTTP with the sandbox pushing exactly as Google does: renew_all opens the
channels and the Forms watch at the sandbox (through google-api-python-client), the sandbox then
POSTs the sync messages, channel notifications and Pub/Sub pushes (RS256 OIDC tokens) to the
running app, and the app asks for the right incremental jobs. Renewing replaces channels and
stops the old ones at the sandbox (channels.stop)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from web_env import LiveServer, job_requests, make_app

from connectors.google.auth import KeyFile
from connectors.google.transport import GoogleClient
from integration import settings as settings_mod
from integration.store.models_web import WatchChannel
from integration.watches import push_status, renew_all
from integration.wiring import Context
from sandbox.config_writer import write_config
from sandbox.forms import seed_form, submit_response
from sandbox.school import generate
from sandbox.server import SandboxServer

TOPIC = "projects/northfield-safechannels/topics/safechannels"


@pytest.fixture
def school(tmp_path, store, crypto):
    """The sandbox school, a Context configured for push against it, and the app serving on a free port."""
    dom = generate("tiny", 1)
    with SandboxServer(dom) as server:
        settings = settings_mod.load(write_config(dom, server.url, tmp_path / "sandbox"), env={})
        settings.web.dev_login = False
        hooks = settings.webhooks
        hooks.pubsub_topic, hooks.pubsub_service_account = TOPIC, server.push_service_account
        hooks.google_certs_url, hooks.pubsub_audience = server.certs_url, ""
        settings.acknowledgement.form_id = seed_form(dom, settings.acknowledgement.form_owner)
        ctx = Context(settings)
        ctx.__dict__.update(crypto=crypto, store=store)
        key = KeyFile(settings.resolve(settings.google.service_account_file))
        ctx.__dict__["google"] = GoogleClient(key, api_base_url=settings.google.api_base_url, sleep=lambda _s: None)
        teacher = next(u for u in dom.live_users() if u.role_truth == "staff")
        with LiveServer(make_app(ctx, bind_host=None)) as live:
            hooks.public_url = live.url
            server.add_push_subscription(TOPIC, live.url + "/webhooks/pubsub")
            yield ctx, dom, server, teacher


def test_google_style_pushes_reach_the_app_and_request_the_right_jobs(school, store):
    ctx, dom, server, teacher = school
    summary = renew_all(ctx)
    assert summary["failed"] == 0, summary["errors"]
    assert server.flush_push(10)
    syncs = [r for r in server.push_log if r.headers.get("X-Goog-Resource-State") == "sync"]
    assert len(syncs) == 8 and {r.status for r in syncs} == {204}  # 4 Directory events + 4 Reports applications
    assert job_requests(store) == []
    modes = {source: mode for source, mode, _ in push_status(ctx)}
    assert modes["directory.users"] == modes["reports.drive"] == modes["forms"] == "push"

    pupil = next(u for u in dom.live_users() if u.role_truth == "pupil")
    dom.rename_user(pupil.primary_email, "Renamed", "Pupil")
    dom.notify("reports.activity", application="drive", event_name="change_user_access", activity=None)
    submit_response(dom, ctx.settings.acknowledgement.form_id, teacher.primary_email, datetime.now(UTC))
    assert server.flush_push(10)
    assert {r.status for r in server.push_log} == {204}
    assert Counter(kind for kind, _ in job_requests(store)) == {"roster_sync": 1, "audit": 1, "acknowledgement": 1}
    assert server.problems() == []  # every request we made matched the discovery documents


def test_renewal_replaces_channels_and_stops_the_old_ones_at_google(school, store):
    ctx, dom, server, _ = school
    renew_all(ctx)
    assert server.flush_push(10)
    old = {cid for cid, ch in dom.channels.items() if ch.get("api") == "directory"}
    with store.session() as s:
        s.execute(update(WatchChannel).where(WatchChannel.source == "directory.users")
                  .values(expires_at=datetime.now(UTC) + timedelta(minutes=30)))
    renew_all(ctx)
    new = {cid for cid, ch in dom.channels.items() if ch.get("api") == "directory"}
    assert len(new) == 4 and new.isdisjoint(old)
    assert len(server.requests("admin.channels.stop")) >= 4
    server.push.reset_log()
    dom.rename_user(next(u for u in dom.live_users() if u.role_truth == "pupil").primary_email, "A", "B")
    assert server.flush_push(10)
    updates = [r for r in server.push_log if r.headers.get("X-Goog-Resource-State") == "update"]
    assert len(updates) == 1 and updates[0].status == 204
    assert server.problems() == []
