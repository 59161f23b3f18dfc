"""Who is in each Chat direct-message room, learnt across day windows and runs.

Real Reports `message_posted` events name only the poster (no member list), so one event never
shows a DM's two members. The rooms are remembered instead (integration/store/models_chat.py):

- every poster of a DM room (and any user an event names) is stored as a member of the room;
- where the source can list a space's members (the Chat API with admin access, optional),
  rooms where a staff member wrote and whose other member is still unknown after a stream are
  listed, each at most once a day;
- a DM message seen while its room has one known member is *held* (stored, not judged) and
  judged when the room's second member becomes known, in a later window or run.

A released message is judged as the event it was (same time, same message id), so its finding's
fingerprint and occurrence key are the ones it would have had if both members were known at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from integration.identity import Identity
from integration.logs import event
from integration.records import ChatEvent
from integration.store.models_chat import ChatRoom, ChatRoomMember, HeldChatMessage
from integration.store.models_roster import Person

log = logging.getLogger("safechannels.chat_rooms")

DIRECT = frozenset({"USER_TO_USER_DIRECT_MESSAGE", "DIRECT_MESSAGE"})
RELIST_AFTER = timedelta(days=1)  # a room listed through the Chat API is not listed again sooner
HOLD_FOR = timedelta(days=180)  # Reports keeps no older activity: a message held longer is dropped
USER_PREFIX = "users/"
_CHUNK = 500  # ids per IN (...) look-up

# source.chat_members(rooms) -> {room: member addresses or "users/<id>" names}; a room left out could not
# be listed (no scope, refused, gone), so its messages stay held.
Lister = Callable[[list[str]], Mapping[str, list[str]]]


def is_direct(ev: ChatEvent) -> bool:
    return ev.conversation_type.upper() in DIRECT and bool(ev.room_id)


class ChatRooms:
    """One audit run's view of the DM rooms; every method works inside the caller's transaction."""

    def __init__(self, identity: Identity):
        self.identity = identity
        self.address_hash = identity.address_hash
        self._ids: dict[str, str] = {}  # "users/<id>" -> school address (Directory id = Chat user id)

    # ------------------------------------------------------------------ per batch

    def absorb(self, session: Session, records: Iterable) -> list:
        """The records to judge now: DM messages get their room's members as participants (held
        messages of a room whose members became known are added back); a DM message whose room has
        one known member is held instead. Other records pass through unchanged."""
        records = list(records)
        dms = [r for r in records if isinstance(r, ChatEvent) and is_direct(r)]
        if not dms:
            return records
        out = [r for r in records if not (isinstance(r, ChatEvent) and is_direct(r))]
        rooms = {ev.room_id for ev in dms}
        members = self._members(session, rooms)
        stored = set(session.scalars(select(ChatRoom.room).where(ChatRoom.room.in_(rooms))))
        for ev in dms:
            if ev.room_id not in stored:
                stored.add(ev.room_id)
                session.add(ChatRoom(room=ev.room_id))
            for who in ev.participants:
                self._add(session, members, ev.room_id, who.lower(), "posted" if who == ev.actor else "event")
        known = {room for room in rooms if len(members[room]) >= 2}
        held = self._held(session, known)
        seen: set[str] = set()
        waiting = []
        for ev in [*held, *dms]:
            if ev.event_id in seen:
                continue
            seen.add(ev.event_id)
            if ev.room_id in known:
                out.append(replace(ev, participants=_ordered(ev.actor, members[ev.room_id])))
            else:
                waiting.append(ev)
        self._hold(session, waiting)
        if held:
            session.execute(delete(HeldChatMessage).where(HeldChatMessage.room.in_(known)))
            event(log, "chat.held_released", rooms=len({h.room_id for h in held}), messages=len(held))
        return out

    # ------------------------------------------------------------------ after a stream

    def waiting(self, session: Session, now: datetime) -> tuple[list[ChatEvent], list[str]]:
        """(held messages whose room is already known, to absorb; rooms to list now: a staff member's
        held messages, one known member, not listed within RELIST_AFTER).

        Only rooms where a staff member wrote are listed: that is the private channel the rule is about
        (a DM where only the staff member wrote); a pupil's unanswered DM waits for a staff reply, and
        the many one-sided DMs between pupils cost no calls."""
        session.execute(delete(HeldChatMessage).where(HeldChatMessage.time < now - HOLD_FOR))
        rows = session.execute(select(HeldChatMessage.room, HeldChatMessage.actor)).all()
        rooms = {room for room, _ in rows}
        members = self._members(session, rooms)
        known = {room for room in rooms if len(members[room]) >= 2}
        staff = {room for room, actor in rows if room not in known and self._is_staff(actor)}
        recent = set(session.scalars(select(ChatRoom.room).where(ChatRoom.room.in_(staff),
                                                                 ChatRoom.listed_at >= now - RELIST_AFTER)))
        return self._held(session, known), sorted(staff - recent)

    def _is_staff(self, address: str) -> bool:
        who = self.identity.resolve(address)
        return who.is_school and who.role == "staff"

    def listed(self, session: Session, lists: Mapping[str, list[str]], now: datetime) -> list[ChatEvent]:
        """Store the members a source listed; return the held messages of rooms now known (to absorb)."""
        members = self._members(session, set(lists))
        rows = {r.room: r for r in session.scalars(select(ChatRoom).where(ChatRoom.room.in_(list(lists))))}
        for room, names in lists.items():
            row = rows.get(room)
            if row is None:
                row = ChatRoom(room=room, first_seen=now)
                session.add(row)
            row.listed_at = now
            for name in names:
                self._add(session, members, room, self._address(session, name), "chat_api")
        known = {room for room in lists if len(members[room]) >= 2}
        return self._held(session, known)

    # ------------------------------------------------------------------ storage

    def _members(self, session: Session, rooms: set[str]) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {room: set() for room in rooms}
        if rooms:
            for row in session.scalars(select(ChatRoomMember).where(ChatRoomMember.room.in_(rooms))):
                found[row.room].add(row.member)
        return found

    def _add(self, session: Session, members: dict[str, set[str]], room: str, who: str, how: str) -> None:
        if not who or who in members[room]:
            return
        members[room].add(who)  # the room's own row is the caller's (one look-up per batch, not per member)
        # no flush per row (it cost most of the engine's time on a first audit): written at commit, and
        # `members` keeps this transaction from adding a row twice
        session.add(ChatRoomMember(room=room, member=who, member_hash=self.address_hash(who), known_from=how))

    def _held(self, session: Session, rooms: set[str]) -> list[ChatEvent]:
        if not rooms:
            return []
        rows = session.scalars(select(HeldChatMessage).where(HeldChatMessage.room.in_(rooms))
                               .order_by(HeldChatMessage.time))
        return [ChatEvent(r.event_id, r.time, r.actor, r.conversation_type, (r.actor,), r.room, r.message_id,
                          r.source) for r in rows]

    def _hold(self, session: Session, events: list[ChatEvent]) -> None:
        """Store messages to hold, skipping those already held (one look-up per chunk, not per message)."""
        ids = list(dict.fromkeys(ev.event_id for ev in events))
        stored: set[str] = set()
        for i in range(0, len(ids), _CHUNK):
            stored.update(session.scalars(select(HeldChatMessage.event_id)
                                          .where(HeldChatMessage.event_id.in_(ids[i:i + _CHUNK]))))
        for ev in events:
            if ev.event_id in stored:
                continue
            stored.add(ev.event_id)
            session.add(HeldChatMessage(event_id=ev.event_id, room=ev.room_id, time=ev.time, actor=ev.actor,
                                        conversation_type=ev.conversation_type, message_id=ev.message_id,
                                        source=ev.source))

    def _address(self, session: Session, name: str) -> str:
        """A Chat API member as an address: its email, or its Directory user id resolved by the roster."""
        name = name.strip()
        if not name.startswith(USER_PREFIX):
            return name.lower()
        if name not in self._ids:
            email = session.scalars(select(Person.email).where(Person.google_id == name[len(USER_PREFIX):])).first()
            self._ids[name] = (email or name).lower()
        return self._ids[name]


def _ordered(actor: str, members: set[str]) -> tuple[str, ...]:
    return (actor, *sorted(m for m in members if m != actor))
