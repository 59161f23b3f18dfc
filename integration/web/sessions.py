"""Server-side sessions: the signed cookie holds only a random id; the ``web_sessions`` row makes it valid.

Why: a signed cookie alone stays valid until it expires, so a copy taken before sign-out kept
working for hours. Here signing out deletes the row, signing in elsewhere deletes the user's
other rows, and a row unused for ``[web] session_idle_minutes`` or older than
``[web] session_max_hours`` is refused and deleted. Only the id's sha256 is stored, so someone
who can read the database cannot mint a cookie from it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from integration.settings import Web
from integration.store import Store
from integration.store.models_privacy import WebSession

TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most once a minute per session


@dataclass(frozen=True)
class Signed:
    email: str
    name: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(store: Store, email: str, name: str, now: datetime | None = None) -> str:
    """A new session for ``email``; its other sessions end (sign-in elsewhere takes effect at once)."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    with store.session() as s:
        s.execute(delete(WebSession).where(WebSession.email == email))
        s.add(WebSession(token_hash=_hash(token), email=email, name=name[:255], created_at=now, last_seen_at=now))
    return token


def resolve(store: Store, token: object, web: Web, now: datetime | None = None) -> Signed | None:
    """Who holds ``token``, or None when it is unknown, idle too long or too old (then it is deleted)."""
    if not isinstance(token, str) or not token:
        return None
    now = now or datetime.now(UTC)
    with store.session() as s:
        row = s.scalar(select(WebSession).where(WebSession.token_hash == _hash(token)))
        if row is None:
            return None
        if now - row.last_seen_at > timedelta(minutes=web.session_idle_minutes) \
                or now - row.created_at > timedelta(hours=web.session_max_hours):
            s.delete(row)
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            row.last_seen_at = now
        return Signed(row.email, row.name)


def end(store: Store, token: object) -> None:
    if isinstance(token, str) and token:
        with store.session() as s:
            s.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))
