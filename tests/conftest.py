"""Shared fixtures: a freshly migrated store on SQLite, or on PostgreSQL when
SAFECHANNELS_TEST_DATABASE_URL is set (CI runs the suite once on each)."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text

from integration.crypto import Crypto
from integration.store import Store, normalise_url
from sandbox.school import SHAPES

PG_URL = os.environ.get("SAFECHANNELS_TEST_DATABASE_URL", "")


@pytest.fixture(scope="session")
def crypto() -> Crypto:
    return Crypto([Crypto.new_key()])


@pytest.fixture
def database_url(tmp_path):
    """A fresh, empty database for one test: a temp SQLite file, or a new PostgreSQL schema."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(normalise_url(PG_URL), pool_pre_ping=True)  # survives the fault suite restarting PG
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{normalise_url(PG_URL)}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def store(database_url, crypto) -> Store:
    s = Store(database_url, crypto)
    s.migrate()
    yield s
    s.dispose()


@pytest.fixture(params=SHAPES)
def school_variant(request) -> str:
    """Each structurally different generated school (sandbox.school.SHAPES): tests taking it run on both,
    so nothing may assume one school's OU names, depths, groups or working hours."""
    return request.param
