"""Roster tables: people, org units, groups, courses, enrolments, guardian links.

School accounts (staff, pupils) are keyed by their school address in clear: they are
the school's own directory. Guardian addresses are personal: stored encrypted and
looked up by keyed hash.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from integration.store.base import Base, Email, Encrypted, UTCDateTime, utcnow

ROLES = ("staff", "pupil", "former_pupil", "guardian", "other")


class OrgUnit(Base):
    __tablename__ = "org_units"
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    parent_path: Mapped[str] = mapped_column(String(1024), default="")
    org_unit_id: Mapped[str] = mapped_column(String(64), default="")


class Person(Base):
    """A school account (staff, pupil, former pupil, other) from the Directory."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(Email(), unique=True)
    google_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    role: Mapped[str] = mapped_column(String(20), index=True)
    org_unit: Mapped[str] = mapped_column(String(1024), default="/")
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | suspended | left | deleted
    aliases: Mapped[list] = mapped_column(JSON, default=list)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    school: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)  # tenancy.Tenants.school_for
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PersonAlias(Base):
    """Every address (primary and alias) that reaches a school account, for identity look-ups."""

    __tablename__ = "person_aliases"
    address: Mapped[str] = mapped_column(Email(), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)


class Guardian(Base):
    """A guardian address (personal): encrypted, found by keyed hash."""

    __tablename__ = "guardians"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(Encrypted())
    name: Mapped[str] = mapped_column(Encrypted(), default="")
    google_id: Mapped[str] = mapped_column(String(64), default="")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class GuardianLink(Base):
    __tablename__ = "guardian_links"
    __table_args__ = (UniqueConstraint("guardian_id", "pupil_id", "platform"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guardian_id: Mapped[int] = mapped_column(ForeignKey("guardians.id", ondelete="CASCADE"), index=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(20), default="ACTIVE")
    platform: Mapped[str] = mapped_column(String(32), default="classroom")


class Group(Base):
    __tablename__ = "groups"
    email: Mapped[str] = mapped_column(Email(), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    google_id: Mapped[str] = mapped_column(String(64), default="")


class GroupMember(Base):
    __tablename__ = "group_members"
    group_email: Mapped[str] = mapped_column(ForeignKey("groups.email", ondelete="CASCADE"), primary_key=True)
    member_email: Mapped[str] = mapped_column(Email(), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), default="MEMBER")
    type: Mapped[str] = mapped_column(String(16), default="USER")


class Course(Base):
    __tablename__ = "courses"
    __table_args__ = (UniqueConstraint("platform", "course_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    course_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255), default="")
    section: Mapped[str] = mapped_column(String(255), default="")
    state: Mapped[str] = mapped_column(String(20), default="ACTIVE")
    owner_id: Mapped[str] = mapped_column(String(64), default="")
    teacher_group_email: Mapped[str] = mapped_column(Email(), default="")
    course_group_email: Mapped[str] = mapped_column(Email(), default="")
    link: Mapped[str] = mapped_column(String(1024), default="")
    school: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)  # its owner's school


class Enrolment(Base):
    __tablename__ = "enrolments"
    course_pk: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), primary_key=True)  # teacher | student


Index("ix_enrolments_person", Enrolment.person_id)
