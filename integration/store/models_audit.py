"""Tables for the audit: imported registers, findings, their occurrences and triage log.

Personal (non-school) addresses are stored encrypted with a keyed hash beside them for
look-ups; school addresses are the school's own directory and stay in clear.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from integration.store.base import Base, Email, Encrypted, UTCDateTime, utcnow

FINDING_STATUSES = ("new", "reviewing", "resolved", "false_positive", "suppressed")


class PersonalAddress(Base):
    """The personal-address register: a personal address attributed to a school account."""

    __tablename__ = "personal_addresses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address_hash: Mapped[str] = mapped_column(String(64), unique=True)
    address: Mapped[str] = mapped_column(Encrypted())
    owner_email: Mapped[str] = mapped_column(Email(), index=True)
    school: Mapped[str | None] = mapped_column(String(64), nullable=True)  # whose register it came from
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ExceptionColumns:
    """What an approved exception says, wherever it was recorded (the imported register here, a
    finding's page in models_webapp.FindingException): the audit's exception index reads both alike."""

    staff: Mapped[str] = mapped_column(Email())
    counterpart: Mapped[str] = mapped_column(Encrypted())
    counterpart_hash: Mapped[str] = mapped_column(String(64), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    approved_by: Mapped[str] = mapped_column(String(320), default="")
    expires: Mapped[date] = mapped_column(Date())


class ChannelException(ExceptionColumns, Base):
    """A Headteacher-approved exception (e.g. a member of staff who is the pupil's parent)."""

    __tablename__ = "channel_exceptions"
    __table_args__ = (UniqueConstraint("staff", "counterpart_hash"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # stable across re-imports
    school: Mapped[str | None] = mapped_column(String(64), nullable=True)  # whose register it came from
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RegisterImport(Base):
    """The last import of each register file: its sha256 decides whether to import again."""

    __tablename__ = "register_imports"
    register: Mapped[str] = mapped_column(String(32), primary_key=True)  # personal_addresses | exceptions
    path: Mapped[str] = mapped_column(String(1024), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    rows: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[list] = mapped_column(JSON, default=list)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Finding(Base):
    """One breach of a channel rule between given people about one object, keyed by fingerprint."""

    __tablename__ = "findings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    severity: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), index=True, default="new")
    staff: Mapped[str | None] = mapped_column(Email(), nullable=True, index=True)
    pupil: Mapped[str | None] = mapped_column(Email(), nullable=True, index=True)
    guardian: Mapped[str | None] = mapped_column(Encrypted(), nullable=True)
    counterpart: Mapped[str | None] = mapped_column(Encrypted(), nullable=True)
    counterpart_hash: Mapped[str] = mapped_column(String(64), default="")
    confidence: Mapped[str] = mapped_column(String(12), default="known")
    source: Mapped[str] = mapped_column(String(64), default="")
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)
    policy: Mapped[list] = mapped_column(JSON, default=list)
    exception_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    object_key: Mapped[str] = mapped_column(String(255), default="")  # with key_fields: the fingerprint's
    key_fields: Mapped[str] = mapped_column(String(64), default="")  # inputs, to recompute it after rekey
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    occurrences: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class FindingSchool(Base):
    """A school a finding belongs to: every school of the people it relates (a teacher at school A
    sharing with a pupil at school B is a finding at both). Scoping and alert routing read this."""

    __tablename__ = "finding_schools"
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), primary_key=True)
    school: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class FindingOccurrence(Base):
    """One distinct event behind a finding: the unique key makes re-reading an event harmless."""

    __tablename__ = "finding_occurrences"
    __table_args__ = (UniqueConstraint("finding_id", "event_key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"))
    event_key: Mapped[str] = mapped_column(String(255))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class FindingEvent(Base):
    """The triage log: every status change and every view, with who and when."""

    __tablename__ = "finding_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("findings.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # status | viewed | recurred
    actor: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    from_status: Mapped[str] = mapped_column(String(16), default="")
    to_status: Mapped[str] = mapped_column(String(16), default="")
    note: Mapped[str] = mapped_column(Text, default="")


Index("ix_findings_status_rule", Finding.status, Finding.rule)
