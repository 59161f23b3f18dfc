"""Shared fixtures: a freshly migrated store on SQLite, or on PostgreSQL when
SAFECHANNELS_TEST_DATABASE_URL is set (CI runs the suite once on each).

The PostgreSQL run leaves out the tests that can never reach it (see `reaches_test_database`):
their outcome does not depend on the variable, and the SQLite run has just run them.
SAFECHANNELS_TEST_EVERYTHING=1 runs them on PostgreSQL too."""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

import pytest
from db_env import pg_schema

from integration.crypto import Crypto
from integration.store import Store
from sandbox.school import SHAPES

PG_URL = os.environ.get("SAFECHANNELS_TEST_DATABASE_URL", "")
# Ways other than the `database_url` fixture that a test file (or a fixture's file) reaches the test database.
_DATABASE_WORDS = ("SAFECHANNELS_TEST_DATABASE_URL", "module_database")


def reaches_test_database(item: pytest.Item) -> bool:
    """Whether a test can open the database that SAFECHANNELS_TEST_DATABASE_URL names: it uses the
    `database_url` fixture (directly or through another fixture, e.g. `store`), is marked `postgres`,
    or its module or one of its fixtures' files names the variable or `module_database`. Over-counting
    is the safe side: a file that merely mentions them keeps all its tests on PostgreSQL."""
    if "database_url" in item.fixturenames or item.get_closest_marker("postgres"):
        return True
    files = {str(item.path)} | {d.func.__code__.co_filename
                                for defs in item._fixtureinfo.name2fixturedefs.values() for d in defs}
    return any(_names_the_database(f) for f in files - {__file__})  # this file's own way is `database_url`


@functools.cache
def _names_the_database(path: str) -> bool:
    try:
        content = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return any(w in content for w in _DATABASE_WORDS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not PG_URL or os.environ.get("SAFECHANNELS_TEST_EVERYTHING") == "1":
        return
    keep, leave = [], []
    for item in items:
        (keep if reaches_test_database(item) else leave).append(item)
    if leave:
        config.hook.pytest_deselected(items=leave)
        items[:] = keep


@pytest.fixture(scope="session")
def crypto() -> Crypto:
    return Crypto([Crypto.new_key()])


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory, crypto) -> Path:
    """One SQLite file migrated from empty to the newest revision, once per session: `database_url`
    hands each test a copy, so the whole Alembic chain runs once, not once per test (it was most of
    a store test's setup). The copy is still upgraded by whoever opens it, as the service does."""
    path = tmp_path_factory.mktemp("migrated") / "schema.db"
    s = Store(f"sqlite:///{path}", crypto)
    s.migrate()
    with s.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the one file to copy
    s.dispose()
    return path


@pytest.fixture
def database_url(tmp_path, request):
    """A fresh database for one test with no rows: a temp SQLite file (a copy of `migrated_sqlite`,
    so it already has the newest schema), or a new, empty PostgreSQL schema."""
    if not PG_URL:
        path = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite"), path)
        yield f"sqlite:///{path}"
        return
    with pg_schema() as url:
        yield url


@pytest.fixture
def other_database(tmp_path):
    """A second empty database beside the test's own (a SQLite file, or another PostgreSQL schema)."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'serial.db'}"
        return
    with pg_schema() as url:
        yield url


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
