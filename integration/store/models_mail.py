"""Mail messages being assembled from their sightings (sender's event, each recipient's delivery, mailbox copies).

One row per RFC 2822 Message-ID (keyed by its sha256), kept while more sightings of it can still
arrive (Reports lag): a receipt waiting for its sender's event is ``held``; a judged message is kept
a little longer so a late delivery joins it instead of being judged alone. Sightings hold addresses,
some outside the school, so they are stored encrypted. Metadata only: never a subject or a body.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from integration.store.base import Base, Encrypted, UTCDateTime, utcnow


class MailMessage(Base):
    __tablename__ = "mail_messages"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the Message-ID
    time: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # the earliest sighting
    held: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    sightings: Mapped[str] = mapped_column(Encrypted())  # JSON list, see integration.mail_messages
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
