"""Web fixtures: a fake Google (certs + token endpoint), a Northfield config, a Context and the app."""

from __future__ import annotations

import pytest
from web_env import FakeGoogle, make_app, make_context, write_config


@pytest.fixture
def google():
    g = FakeGoogle().start()
    yield g
    g.stop()


@pytest.fixture
def config(tmp_path, database_url, google):
    return write_config(tmp_path, database_url, google)


@pytest.fixture
def ctx(config, store, crypto):
    return make_context(config, store, crypto)


@pytest.fixture
def app(ctx):
    return make_app(ctx)


@pytest.fixture
def client(app):
    return app.test_client()
