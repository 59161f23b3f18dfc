"""Tables for alerting and the worker: the transactional outbox, which findings were alerted,
digest runs, job leases and requested (debounced) jobs.

The outbox is written in the same transaction as whatever caused the email (a finding, a
reminder), so an email exists exactly when its cause was committed; its unique ``key``
makes queueing idempotent. Bodies are encrypted at rest: they name pupils and staff.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from integration.store.base import Base, Encrypted, UTCDateTime, utcnow

OUTBOX_STATUSES = ("pending", "sent", "failed", "cancelled")


class OutboxEmail(Base):
    """One email to send. ``pending`` until sent; ``failed`` = the transport refused it permanently
    (kept, shown, retried daily or on operator request); never deleted before it is sent."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)  # e.g. finding:12:dsl@school
    kind: Mapped[str] = mapped_column(String(32), default="other")  # alert | escalation | digest | ack | other
    finding_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    school: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)  # None = trust-wide
    recipients: Mapped[list] = mapped_column(JSON, default=list)
    cc: Mapped[list] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(String(500), default="")
    body_text: Mapped[str] = mapped_column(Encrypted(), default="")
    body_html: Mapped[str] = mapped_column(Encrypted(), default="")
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    message_id: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    lease_owner: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


Index("ix_outbox_status_next", OutboxEmail.status, OutboxEmail.next_attempt_at)


class Digest(Base):
    """One digest run. ``run_key`` is the school-local date for scheduled digests (one a day,
    even with two workers) or ``manual:<iso time>`` for `alerts --digest`."""

    __tablename__ = "digests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_key: Mapped[str] = mapped_column(String(64), unique=True)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime())
    new_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AlertedFinding(Base):
    """A finding that has been routed to the DSL: once per finding, ever.

    ``route`` is immediate (high/medium) or digest (low); a digest-routed finding is pending
    until ``digest_id`` is set. ``reported_occurrences`` is what the DSL was last told, so a
    burst of new occurrences shows as one "updated" line in the next digest, not new alerts.
    """

    __tablename__ = "alerted_findings"
    finding_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    severity: Mapped[str] = mapped_column(String(16))
    route: Mapped[str] = mapped_column(String(16))  # immediate | digest
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reported_occurrences: Mapped[int] = mapped_column(Integer, default=1)
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("digests.id", ondelete="SET NULL"), nullable=True, index=True)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class JobLock(Base):
    """One row per job kind: a lease so only one run of a kind happens at a time, across processes."""

    __tablename__ = "job_locks"
    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), default="")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status: Mapped[str] = mapped_column(String(16), default="")
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive


class JobRequest(Base):
    """"Run this job soon" (from a webhook): picked up by the worker within seconds, debounced."""

    __tablename__ = "job_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(255), default="")
    debounce_key: Mapped[str] = mapped_column(String(255), default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    picked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


Index("ix_job_requests_kind_picked", JobRequest.kind, JobRequest.picked_at)
