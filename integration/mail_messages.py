"""Mail judged as whole messages: every sighting of one RFC 2822 Message-ID merged into one message.

A message is seen several times: the sender's Reports event (type 1, every destination), each
recipient mailbox's own delivery (type 2, that mailbox only, sometimes with an empty source) and
mailbox copies read through the Gmail API (full From/To/Cc headers). Judged one sighting at a time,
a late message to a whole class looks like many one-to-one messages, and co-recipients (a staff
member's personal address beside a guardian) are never related. So the engine hands the rules one
merged MailEvent per message: the sender, and every other participant as recipients.

Reports logs deliveries with a lag, so a receipt can be read before its sender's event. A receipt
that expects one (its sender is a school address, or unknown) is *held*: stored in ``mail_messages``
in the batch's own transaction, and judged when the sender's event or a mailbox copy arrives, or
alone once the hold window (``[audit] mail_hold_hours``, default 2 h) has passed. A judged message is
kept while late sightings can still come (the hold window plus the engine's re-read overlap) so that
they join it; older ones are judged again if re-read, which only repeats occurrences. A message is
judged under the same people whatever sightings it had, so its findings' fingerprints do not change.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from integration.logs import event
from integration.records import MailEvent
from integration.store.models_mail import MailMessage

log = logging.getLogger("safechannels.mail_messages")

RECENT = 20_000  # messages judged this run kept in memory: a later page's sighting joins them unstored
_CHUNK = 500
REPORTS = "reports.gmail"


def message_key(message_id: str) -> str:
    """The Message-ID's identity: angle brackets and case do not matter."""
    return hashlib.sha256(message_id.strip().strip("<>").strip().lower().encode()).hexdigest()


def merge(sightings: Iterable[MailEvent]) -> MailEvent:
    """One message from its sightings: the sender's event (or a mailbox copy) leads; every address any
    sighting names is a participant; one sighting alone comes back as it was."""
    ordered = sorted(sightings, key=lambda e: (e.time, e.event_id))
    head = next((e for e in ordered if e.direction == "sent"), None) or \
        next((e for e in ordered if e.source != REPORTS), ordered[0])
    sender = head.sender or next((e.sender for e in ordered if e.sender), "")
    recipients = dict.fromkeys(r for e in ordered for r in e.recipients if r and r != sender)
    names = dict.fromkeys(pair for e in ordered for pair in e.display_names)
    return MailEvent(head.event_id, ordered[0].time, head.mailbox, head.direction, sender, tuple(recipients),
                     head.message_id or next((e.message_id for e in ordered if e.message_id), ""), head.subject,
                     tuple(names), head.source, tuple(e.event_id for e in ordered))


class MailMessages:
    """One audit run's message assembly; `absorb` and `release` work inside the caller's transaction."""

    def __init__(self, is_school: Callable[[str], bool], hold: timedelta, keep: timedelta, *,
                 rejudge: bool = False):
        self.is_school, self.hold, self.keep, self.rejudge = is_school, hold, max(keep, hold), rejudge
        self._recent: OrderedDict[str, dict[str, MailEvent]] = OrderedDict()
        self._empty: bool | None = None  # whether mail_messages has no row (None: not asked yet)

    # ------------------------------------------------------------------ per batch

    def absorb(self, session: Session, records: Iterable, now: datetime) -> list:
        """The records to judge now, mail merged into whole messages; receipts that wait for their
        sender's event are held instead. Other records pass through unchanged."""
        out, groups = [], {}
        for r in records:
            if isinstance(r, MailEvent) and r.message_id:
                groups.setdefault(message_key(r.message_id), []).append(r)
            else:
                out.append(r)  # no Message-ID: nothing to merge it with
        if not groups:
            return out
        rows = self._rows(session, list(groups))
        recent_edge = now - self.keep
        for key, evs in groups.items():
            row = rows.get(key)
            if row is None and len(evs) == 1 and key not in self._recent and not self._waits(evs):
                e = evs[0]  # most mail: one sighting, nothing stored, complete: judged as it is
                out.append(e)
                self._remember(key, {e.event_id: e})
                if e.time >= recent_edge:
                    self._store(session, None, key, {e.event_id: e}, now, held=False)
                continue
            known = dict(self._recent.get(key) or {})
            stored = _load(row.sightings) if row is not None else {}
            known.update(stored)
            new = [e for e in evs if e.event_id not in known]
            if row is not None and not new and not self.rejudge:
                continue  # every sighting was already held or judged
            for e in evs:
                known.setdefault(e.event_id, e)
            if self._waits(known.values()):
                self._store(session, row, key, known, now, held=True)
                continue
            out.append(merge(known.values()))
            self._remember(key, known)
            if row is not None or min(e.time for e in known.values()) >= recent_edge:
                self._store(session, row, key, known, now, held=False)
        return out

    # ------------------------------------------------------------------ after a stream

    def release(self, session: Session, now: datetime, limit: int = 1000) -> list[MailEvent]:
        """Held messages whose hold window has passed, judged with the sightings they have (at most
        `limit`; call again while it returns that many). Judged messages past keeping are forgotten."""
        session.execute(delete(MailMessage).where(MailMessage.held.is_(False), MailMessage.time < now - self.keep))
        rows = list(session.scalars(select(MailMessage).where(MailMessage.held.is_(True),
                                                              MailMessage.time < now - self.hold)
                                    .order_by(MailMessage.time).limit(limit)))
        out = []
        for row in rows:
            known = _load(row.sightings)
            row.held, row.updated_at = False, now
            out.append(merge(known.values()))
        if rows:
            event(log, "mail.held_released", messages=len(rows))
        return out

    # ------------------------------------------------------------------ internals

    def _waits(self, sightings: Iterable[MailEvent]) -> bool:
        """Only receipts, whose sender's event can still come (a school sender, or none named)."""
        for e in sightings:
            if e.direction == "sent" or e.source != REPORTS or (e.sender and not self.is_school(e.sender)):
                return False
        return True

    def _rows(self, session: Session, keys: list[str]) -> dict[str, MailMessage]:
        found: dict[str, MailMessage] = {}
        if self._empty is None:
            self._empty = session.scalars(select(MailMessage.key).limit(1)).first() is None
        if self._empty:
            return found  # nothing stored yet (a first audit): no look-up per batch
        for i in range(0, len(keys), _CHUNK):
            found.update((r.key, r) for r in session.scalars(
                select(MailMessage).where(MailMessage.key.in_(keys[i:i + _CHUNK]))))
        return found

    def _store(self, session: Session, row: MailMessage | None, key: str, known: dict[str, MailEvent],
               now: datetime, *, held: bool) -> None:
        first = min(e.time for e in known.values())
        if row is None:
            row = MailMessage(key=key)
            session.add(row)
        row.time, row.held, row.sightings, row.updated_at = first, held, _dump(known.values()), now
        self._empty = False  # no flush per row: written at commit (keys are unique within a batch)

    def _remember(self, key: str, known: dict[str, MailEvent]) -> None:
        self._recent[key] = known
        self._recent.move_to_end(key)
        while len(self._recent) > RECENT:
            self._recent.popitem(last=False)


def _dump(sightings: Iterable[MailEvent]) -> str:
    return json.dumps([{"id": e.event_id, "t": e.time.isoformat(), "mb": e.mailbox, "d": e.direction,
                        "s": e.sender, "r": list(e.recipients), "mid": e.message_id,
                        "n": [list(p) for p in e.display_names], "src": e.source} for e in sightings],
                      separators=(",", ":"))


def _load(text: str) -> dict[str, MailEvent]:
    out = {}
    for d in json.loads(text or "[]"):
        out[d["id"]] = MailEvent(d["id"], datetime.fromisoformat(d["t"]), d["mb"], d["d"], d["s"], tuple(d["r"]),
                                 d.get("mid", ""), "", tuple(tuple(p) for p in d.get("n", [])), d.get("src", REPORTS))
    return out
