"""Reading form responses incrementally, without ever losing one.

Why this shape: the Forms API filters responses by timestamp only, and which timestamp it
compares (first or last submission) is not documented. So each run asks for everything at
or after the last watermark minus an hour's overlap, de-duplicates by response id (a
response seen again with a later submission time is a resubmission, counted once), and
stores the responses and the new watermark in one transaction. A read that fails part-way
stores nothing: the previous state and cursor stay as they were, and the next run reads again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.crypto import Crypto
from integration.protocols import AcknowledgementSource
from integration.records import FormResponseRecord
from integration.store import Store
from integration.store.models_acks import AckResponse, AckRound
from integration.store.models_ops import Cursor

OVERLAP = timedelta(hours=1)
SOURCE, STREAM = "forms", "responses"
STATE_VERSION = 1


@dataclass
class ReadResult:
    read: int = 0
    new: int = 0
    resubmitted: int = 0
    missing_email: int = 0  # responses without an address from a form that claims to collect them

    def as_json(self) -> dict:
        return {"read": self.read, "new": self.new, "resubmitted": self.resubmitted}


def partition(rnd: AckRound) -> str:
    """One cursor per (round, form): a form reused by a later version is read again for that round."""
    return f"{rnd.id}:{rnd.form_id}"


def _cursor(session: Session, rnd: AckRound) -> Cursor | None:
    return session.scalar(select(Cursor).where(Cursor.source == SOURCE, Cursor.stream == STREAM,
                                               Cursor.partition == partition(rnd)))


def watermark(store: Store, rnd: AckRound) -> datetime | None:
    with store.session() as s:
        cur = _cursor(s, rnd)
        if cur is None or cur.state_version != STATE_VERSION or not cur.cursor.get("watermark"):
            return None  # never read, or an old cursor shape: read everything
        return datetime.fromisoformat(cur.cursor["watermark"])


def read_responses(store: Store, crypto: Crypto, source: AcknowledgementSource, rnd: AckRound, now: datetime) -> ReadResult:
    """Read new responses of the round's form and store them with the cursor, in that order."""
    mark = watermark(store, rnd)
    since = mark - OVERLAP if mark is not None else None
    records: list[FormResponseRecord] = list(source.responses(rnd.form_id, since))  # all pages, or raise
    result = ReadResult(read=len(records))
    newest = mark
    with store.session() as s:
        existing = {r.response_id: r for r in s.scalars(select(AckResponse).where(
            AckResponse.round_id == rnd.id, AckResponse.form_id == rnd.form_id))}
        for rec in records:
            if rec.submitted > now + OVERLAP:
                continue  # a clock far ahead of ours: take it on a later run
            newest = rec.submitted if newest is None or rec.submitted > newest else newest
            row = existing.get(rec.response_id)
            if row is None:
                email = rec.respondent_email.lower()
                row = AckResponse(round_id=rnd.id, form_id=rnd.form_id, response_id=rec.response_id,
                                  respondent_email=email, respondent_email_hash=crypto.address_hash(email) if email
                                  else "", submitted_at=rec.submitted, created_at=rec.created or rec.submitted,
                                  confirmed=rec.confirmed, resubmissions=0, read_at=now)
                s.add(row)
                existing[rec.response_id] = row
                result.new += 1
                result.missing_email += 0 if email else 1
            elif rec.submitted > row.submitted_at:
                row.submitted_at, row.confirmed = rec.submitted, rec.confirmed
                row.resubmissions += 1
                result.resubmitted += 1
        cur = _cursor(s, rnd)
        if cur is None:
            cur = Cursor(source=SOURCE, stream=STREAM, partition=partition(rnd), cursor={})
            s.add(cur)
        if newest is not None:
            cur.cursor = {"watermark": newest.isoformat(), "form_id": rnd.form_id}
        cur.state_version, cur.updated_at = STATE_VERSION, now
    return result
