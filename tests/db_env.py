"""The test PostgreSQL server: one empty schema per use, so tests never see each other's rows."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text

from integration.store import normalise_url

PG_URL = os.environ.get("SAFECHANNELS_TEST_DATABASE_URL", "")


@contextmanager
def pg_schema(url: str = "") -> Iterator[str]:
    """A new, empty schema on the test server (``url``, default SAFECHANNELS_TEST_DATABASE_URL),
    dropped afterwards: the URL that opens it."""
    url = url or PG_URL
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(normalise_url(url), pool_pre_ping=True)  # survives the fault suite restarting PG
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{normalise_url(url)}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
