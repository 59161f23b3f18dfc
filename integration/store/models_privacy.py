"""Tables that keep people's access and findings' removal honest: web sessions and purge tombstones.

Sessions live server-side so signing out, signing in elsewhere or an idle timeout end a session
at once: the cookie carries only a random id, and the row (keyed by the id's sha256, so a
database reader cannot replay a cookie) is what makes it valid.

A purged finding leaves its fingerprint as a tombstone: the audit honours it, so activity from
before the purge that Reports still returns never re-creates the finding or e-mails the DSL again.
A fingerprint embeds keyed hashes of personal addresses and a tombstone keeps no address to
recompute it from, so `rotate-key` keeps the HMAC key the tombstones were made under
(``retired_hash_keys``, encrypted with the current key like every secret): the audit matches
tombstones under it too, and a purged finding stays purged after a key rotation.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from integration.store.base import Base, Email, Encrypted, UTCDateTime, utcnow


class WebSession(Base):
    """One signed-in browser. Deleted at sign-out, at sign-in elsewhere, and when found expired."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(Email())
    name: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


Index("ix_web_sessions_email", WebSession.email)


class FindingTombstone(Base):
    """The fingerprint of a finding removed by retention, and when, so it is never re-created."""

    __tablename__ = "finding_tombstones"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    rule: Mapped[str] = mapped_column(String(64), default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    purged_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RetiredHashKey(Base):
    """An HMAC key of an earlier encryption key (base64, encrypted at rest), kept by `rotate-key` so
    tombstones made under it still match. ``key_id``: a non-secret digest naming it."""

    __tablename__ = "retired_hash_keys"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    secret: Mapped[str] = mapped_column(Encrypted())
    retired_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
