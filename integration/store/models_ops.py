"""Operational tables: source cursors and runs of every job."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from integration.store.base import Base, UTCDateTime, utcnow


class Cursor(Base):
    """Where a source stream got to. Written only after the data it covers is stored."""

    __tablename__ = "cursors"
    __table_args__ = (UniqueConstraint("source", "stream", "partition"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(64))
    partition: Mapped[str] = mapped_column(String(320), default="")
    cursor: Mapped[dict] = mapped_column(JSON, default=dict)
    state_version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Run(Base):
    """One run of a job (sync, audit, acks, alerts, ...): for status pages, /readyz and doctor."""

    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | ok | partial | failed
    summary: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")


class AuditLane(Base):
    """One lane of one audit run in queue mode (integration/audit_spread.py): claimed by one process
    at a time through its holder and lease, so each lane runs once; a lane whose holder died is
    claimed again. ``result`` is what the lane found (counts, failed streams, timings), which the
    run's coordinator adds up when every lane is ``done``."""

    __tablename__ = "audit_lanes"
    __table_args__ = (UniqueConstraint("run_id", "lane"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer, index=True)  # the audit's ``runs`` row
    lane: Mapped[int] = mapped_column(Integer)  # its place in the run's plan
    streams: Mapped[list] = mapped_column(JSON, default=list)  # ["source/stream", ...] in declared order
    status: Mapped[str] = mapped_column(String(16), default="ready")  # ready | running | done | stopped
    holder: Mapped[str] = mapped_column(String(64), default="")  # host:pid:nonce of the process running it
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    ready_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)  # waiting for a taker since
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    result: Mapped[dict] = mapped_column(JSON, default=dict)
