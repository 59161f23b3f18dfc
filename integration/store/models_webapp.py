"""Tables the web app adds: exceptions approved from a finding's page.

Why not rows of ``channel_exceptions``: that table is the imported exceptions register and
is replaced wholesale at every re-import of the CSV, which would silently drop an exception a
DSL recorded on screen. These rows live beside it and the audit's exception index reads both,
so an exception added on the page is honoured exactly like a register row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from integration.store.base import Base, Email, UTCDateTime, utcnow
from integration.store.models_audit import ExceptionColumns


class FindingException(ExceptionColumns, Base):
    """An exception (staff member + counterpart, approver, reason, expiry) recorded on a finding's page."""

    __tablename__ = "finding_exceptions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # EXC-… like the register's ids
    finding_id: Mapped[int] = mapped_column(Integer, index=True)  # where it was added (kept if purged)
    added_by: Mapped[str] = mapped_column(String(320), default="")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PersonView(Base):
    """Someone opened a person's page (/people/<email>, or the API's): written to the access log like a
    finding view, since the page gathers every finding about that staff member or pupil (UK GDPR
    accountability)."""

    __tablename__ = "person_views"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person: Mapped[str] = mapped_column(Email(), index=True)  # the address asked for, lower-cased
    actor: Mapped[str] = mapped_column(String(320), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
