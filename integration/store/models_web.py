"""Tables for the web app and webhooks: push channels/watches we opened, and Pub/Sub messages seen.

Why in the database: several web workers receive notifications, so the replay guard
(highest message number per channel) and the Pub/Sub de-duplication key must be shared
and atomic. Channel tokens are secrets: encrypted at rest.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from integration.store.base import Base, Encrypted, UTCDateTime, utcnow

WATCH_STATUSES = ("active", "stopped", "failed")


class WatchChannel(Base):
    """One push channel (Drive/Directory/Reports) or Pub/Sub watch (Gmail, Forms) we created.

    ``source`` names what is watched (e.g. ``reports.drive``, ``drive.changes``), ``partition``
    the mailbox, Drive owner, form id or Directory event. A renewed channel is a new row; the
    old one stays ``active`` until it has been stopped, so notifications in the overlap count.
    """

    __tablename__ = "watch_channels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    partition: Mapped[str] = mapped_column(String(320), default="")
    kind: Mapped[str] = mapped_column(String(16), default="channel")  # channel | pubsub
    channel_id: Mapped[str] = mapped_column(String(128), unique=True)
    resource_id: Mapped[str] = mapped_column(String(255), default="")
    token: Mapped[str | None] = mapped_column(Encrypted(), nullable=True)
    address: Mapped[str] = mapped_column(String(1024), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_message_number: Mapped[int] = mapped_column(BigInteger, default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    messages: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    renewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")


Index("ix_watch_channels_source_status", WatchChannel.source, WatchChannel.status)


class PubSubMessage(Base):
    """A Pub/Sub push already accepted: the unique ``message_id`` makes redeliveries harmless."""

    __tablename__ = "pubsub_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    subscription: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(32), default="")  # gmail | forms | classroom | unknown
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
