"""The worker's heartbeat: proof, in the database, that jobs are still being scheduled.

Why in the database: `/readyz` runs in the web process, which cannot see the worker's threads.
The worker's 2-second tick (an APScheduler job, so it beats only while the scheduler loop is
alive) stores ``beat_at``; a stale beat means nothing is being scheduled.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from integration.store.base import Base, UTCDateTime, utcnow


class WorkerHeartbeat(Base):
    """One row per running worker process (``host:pid``); removed when it stops gracefully."""

    __tablename__ = "worker_heartbeats"
    worker: Mapped[str] = mapped_column(String(128), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
