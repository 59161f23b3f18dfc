"""Tables for policy acknowledgement: one round per policy version, the form responses read
for it, and every acknowledgement email queued for it.

Responses are stored raw (respondent address encrypted, with a keyed hash beside it) and
matched to the roster when a report is made, so an alias the roster learns later still
matches an old response. ``ack_notices`` is the durable record of what was sent: the
outbox may purge sent rows, but a (round, recipient, kind, day) is never queued twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from integration.store.base import Base, Email, Encrypted, UTCDateTime, utcnow

SETUP_STATES = ("creating", "claimed", "created", "ready")  # creating/claimed: no form yet (claimed: a run is
# creating it); created: the form exists but its setup batchUpdate has not succeeded yet
NOTICE_KINDS = ("invite", "new_starter", "reminder", "escalation")


class AckRound(Base):
    """One policy version's acknowledgement round. Closed (never deleted) when a newer version opens."""

    __tablename__ = "ack_rounds"
    __table_args__ = (UniqueConstraint("school", "policy_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    school: Mapped[str] = mapped_column(String(64), default="", index=True)  # "" = not yet placed (pre-0014)
    policy_version: Mapped[str] = mapped_column(String(64))
    form_id: Mapped[str] = mapped_column(String(128), default="")
    form_source: Mapped[str] = mapped_column(String(16), default="configured")  # configured | created
    setup_state: Mapped[str] = mapped_column(String(16), default="ready")
    responder_uri: Mapped[str] = mapped_column(String(1024), default="")
    form_title: Mapped[str] = mapped_column(String(500), default="")
    collects_email: Mapped[bool] = mapped_column(Boolean, default=True)
    email_collection_type: Mapped[str] = mapped_column(String(40), default="")
    confirmation_question_id: Mapped[str] = mapped_column(String(64), default="")
    counts_from: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    final_summary: Mapped[dict] = mapped_column(JSON, default=dict)


class AckResponse(Base):
    """One form response as read (deduplicated by response id; a resubmission updates it)."""

    __tablename__ = "ack_responses"
    __table_args__ = (UniqueConstraint("round_id", "form_id", "response_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("ack_rounds.id", ondelete="CASCADE"), index=True)
    form_id: Mapped[str] = mapped_column(String(128))
    response_id: Mapped[str] = mapped_column(String(128))
    respondent_email_hash: Mapped[str] = mapped_column(String(64), default="", index=True)
    respondent_email: Mapped[str] = mapped_column(Encrypted(), default="")
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed: Mapped[bool] = mapped_column(Boolean, default=True)
    resubmissions: Mapped[int] = mapped_column(Integer, default=0)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AckNotice(Base):
    """An acknowledgement email queued to one recipient: never twice for (round, recipient, kind, day)."""

    __tablename__ = "ack_notices"
    __table_args__ = (UniqueConstraint("round_id", "recipient", "kind", "day"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("ack_rounds.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(Email())
    person_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))
    day: Mapped[int] = mapped_column(Integer, default=0)
    outbox_key: Mapped[str] = mapped_column(String(255), default="", index=True)  # looked up at each delivery
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
