"""Tables that keep people's access and findings' removal honest: web sessions and purge tombstones.

Sessions live server-side so signing out, signing in elsewhere or an idle timeout end a session
at once: the cookie carries only a random id, and the row (keyed by the id's sha256, so a
database reader cannot replay a cookie) is what makes it valid.

A purged finding leaves its fingerprint as a tombstone: the audit honours it, so activity from
before the purge that Reports still returns never re-creates the finding or e-mails the DSL again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from integration.store.base import Base, Email, UTCDateTime, utcnow


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
