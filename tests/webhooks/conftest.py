"""Webhook fixtures: the web helpers (tests/web/web_env.py) plus channel rows and push senders."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))

from web_env import FakeGoogle, make_app, make_context, write_config  # noqa: E402

from integration.store.models_web import WatchChannel  # noqa: E402


@pytest.fixture
def google():
    g = FakeGoogle().start()
    yield g
    g.stop()


@pytest.fixture
def ctx(tmp_path, database_url, google, store, crypto):
    return make_context(write_config(tmp_path, database_url, google, dev_login=False), store, crypto)


@pytest.fixture
def app(ctx):
    return make_app(ctx, bind_host=None)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def open_channel(store):
    """Factory: a live channel row as renew_all would have written it."""

    def make(source: str = "drive.changes", *, token: str = "a-channel-token-of-43-characters-xxxxxxxxxx",
             resource_id: str = "res-1", status: str = "active", expires_in: timedelta = timedelta(days=1),
             partition: str = "j.smith@northfield.sch.uk") -> WatchChannel:
        row = WatchChannel(source=source, partition=partition, kind="channel",
                           channel_id=f"chan-{source}-{datetime.now(UTC).timestamp()}", token=token,
                           resource_id=resource_id, address="https://safechannels.northfield.sch.uk/webhooks/x",
                           status=status, expires_at=datetime.now(UTC) + expires_in, last_error="")
        with store.session() as s:
            s.add(row)
        return row

    return make
