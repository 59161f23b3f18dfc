"""Tables for Chat direct messages: who is in each DM room, and messages waiting for the room's other member.

Reports `message_posted` events name only the poster, so a DM's two members are learnt over time
(each poster, and the Chat API's member list where granted) and remembered across day windows and
runs. Member addresses may be outside the school, so they are stored encrypted with a keyed hash.
Metadata only: no message text is ever stored.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from integration.store.base import Base, Encrypted, UTCDateTime, utcnow


class ChatRoom(Base):
    """A DM room seen in activity; `listed_at` is when the Chat API's member list was last read."""

    __tablename__ = "chat_rooms"
    room: Mapped[str] = mapped_column(String(255), primary_key=True)  # "spaces/<id>"
    listed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChatRoomMember(Base):
    """One member of a DM room and how we know it (posted | chat_api | event)."""

    __tablename__ = "chat_room_members"
    __table_args__ = (UniqueConstraint("room", "member_hash"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    room: Mapped[str] = mapped_column(String(255), index=True)
    member: Mapped[str] = mapped_column(Encrypted())  # an address, or "users/<id>" from the Chat API
    member_hash: Mapped[str] = mapped_column(String(64))
    known_from: Mapped[str] = mapped_column(String(16), default="posted")
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HeldChatMessage(Base):
    """A DM message seen before the room's other member was known: judged once it is."""

    __tablename__ = "chat_held_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    room: Mapped[str] = mapped_column(String(255), index=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(Encrypted())
    conversation_type: Mapped[str] = mapped_column(String(64), default="")
    message_id: Mapped[str] = mapped_column(String(255), default="")
    source: Mapped[str] = mapped_column(String(32), default="reports.chat")
    held_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
