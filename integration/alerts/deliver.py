"""Delivery: send due outbox rows, one claimed row at a time.

Guarantees and their reasons:

- Claim before send. A row is claimed with a lease (``UPDATE … WHERE status IN (pending, failed)
  AND next_attempt_at <= now AND lease expired``, checking rowcount), committed, then sent; two
  workers never send the same row, on SQLite and PostgreSQL alike. A worker that dies holding a
  lease frees the row when the lease (5 minutes) runs out.
- Marked sent right after each send, in its own transaction. A crash between the send and that
  commit means one resend with the same Message-ID (at-least-once; never lost).
- Nothing is dropped. A transient failure (4xx, connection) keeps the row ``pending`` with
  exponential backoff + jitter, capped at an hour. A permanent refusal of the recipient (5xx)
  marks it ``failed``: shown in ``failed``/``queued``, retried once a day, or at once after an
  operator runs ``alerts --retry-failed``. A refusal of the transport itself (bad credentials,
  sender not allowed) stops the run and is reported (exit 3); the row stays pending.
- Re-checked under the lease, just before sending. An acknowledgement request whose recipient
  has left since it was queued (suspended, deleted, out of scope) is marked ``cancelled``, with
  the reason in ``last_error``, and never sent. Only ``ack`` rows are checked: a DSL alert,
  escalation or digest is always delivered, whoever it is about.
"""

from __future__ import annotations

import logging
import random
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from integration.alerts.digest import pending_count
from integration.alerts.outbox import UNSENT, as_outgoing, queued_count
from integration.errors import SourceRefused
from integration.logs import event, redact
from integration.protocols import RECIPIENT_REFUSED
from integration.store.models_alerts import OutboxEmail

log = logging.getLogger("safechannels.alerts")

LEASE = timedelta(minutes=5)
BASE_DELAY = 30.0  # seconds before the first retry
MAX_DELAY = 3600.0  # cap of the exponential backoff
FAILED_RETRY = timedelta(hours=24)
STOP_AFTER_TRANSIENT = 2  # consecutive transient failures: the transport is down, stop this run


@dataclass
class DeliveryResult:
    sent: int = 0
    failed: int = 0
    queued: int = 0
    pending_digest: int = 0
    refused: SourceRefused | None = None  # the transport refused (auth): exit 3
    cancelled: int = 0  # not sent: the recipient left (not in as_json: that is the `alerts --json` contract)

    def as_json(self) -> dict:
        return {"sent": self.sent, "failed": self.failed, "queued": self.queued, "pending_digest": self.pending_digest}


def backoff(attempts: int, retry_after: float | None = None, rng: random.Random | None = None) -> timedelta:
    """Truncated exponential backoff with ±20% jitter: 30 s, 60 s, 120 s … capped at 1 h."""
    delay = min(BASE_DELAY * 2 ** max(attempts - 1, 0), MAX_DELAY)
    delay *= (rng or random).uniform(0.8, 1.2)
    if retry_after:
        delay = max(delay, retry_after)
    return timedelta(seconds=min(delay, MAX_DELAY * 1.2))


_URL_CREDENTIALS = re.compile(r"(\w+://)[^/@\s]+@")


def safe_error(exc: BaseException) -> str:
    """An error message fit to store and show: no credentials, tokens or personal addresses."""
    text = f"{type(exc).__name__}: {exc}"
    return redact(_URL_CREDENTIALS.sub(r"\1***@", text))[:500]


def _claim(store, row_id: int, owner: str, now: datetime) -> bool:
    with store.session() as s:
        res = s.execute(update(OutboxEmail).where(
            OutboxEmail.id == row_id, OutboxEmail.status.in_(UNSENT),
            OutboxEmail.next_attempt_at <= now,
            (OutboxEmail.lease_until.is_(None)) | (OutboxEmail.lease_until < now),
        ).values(lease_until=now + LEASE, lease_owner=owner))
        return res.rowcount == 1


def _finish(store, row_id: int, owner: str, **values) -> None:
    with store.session() as s:
        s.execute(update(OutboxEmail).where(OutboxEmail.id == row_id, OutboxEmail.lease_owner == owner)
                  .values(lease_until=None, lease_owner="", **values))


def cancel_reason(session, row: OutboxEmail, ctx) -> str:
    """Why a claimed row must not be sent any more ('' = send it). Asked of the acknowledgement
    package, whose rule says who is chased; every other kind always goes."""
    if row.kind != "ack":
        return ""
    from integration.acknowledgement.leavers import cancel_reason as ack_reason  # it imports the outbox

    return ack_reason(session, row.key, ctx.settings)


def _cancel(store, row_id: int, owner: str, reason: str, result: DeliveryResult) -> None:
    _finish(store, row_id, owner, status="cancelled", last_error=reason[:500])
    result.cancelled += 1
    event(log, "alerts.cancelled", outbox_id=row_id, reason=reason)  # the id, never the key: it holds the address


def deliver_due(ctx, now: datetime | None = None, *, mailer=None, limit: int = 200) -> DeliveryResult:
    """Send every due outbox row. ``ctx`` needs ``.store``, ``.settings`` (to re-check acknowledgement
    emails) and ``.mailer()`` (or pass ``mailer``)."""
    now = now or datetime.now(UTC)
    store = ctx.store
    result = DeliveryResult()
    owner = uuid.uuid4().hex
    with store.session() as s:
        due = list(s.scalars(select(OutboxEmail.id).where(
            OutboxEmail.status.in_(UNSENT), OutboxEmail.next_attempt_at <= now)
            .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id).limit(limit)))
    if due and mailer is None:
        mailer = ctx.mailer()
    transient_run = 0
    for row_id in due:
        if not _claim(store, row_id, owner, now):
            continue  # another worker has it, or it was sent meanwhile
        with store.session() as s:
            row = s.get(OutboxEmail, row_id)
            reason = cancel_reason(s, row, ctx)
            email, key, attempts = as_outgoing(row), row.key, row.attempts + 1
        if reason:
            _cancel(store, row_id, owner, reason, result)
            continue
        try:
            mailer.send(email)
        except SourceRefused as exc:
            result.failed += 1
            if exc.reason == RECIPIENT_REFUSED:
                _finish(store, row_id, owner, status="failed", attempts=attempts, last_error=safe_error(exc),
                        next_attempt_at=now + FAILED_RETRY)
                event(log, "alerts.refused", logging.WARNING, key=key, error=safe_error(exc))
                continue
            _finish(store, row_id, owner, attempts=attempts, last_error=safe_error(exc),
                    next_attempt_at=now + backoff(attempts))
            event(log, "alerts.transport_refused", logging.ERROR, transport=getattr(mailer, "name", ""),
                  error=safe_error(exc))
            result.refused = exc
            break
        except Exception as exc:  # noqa: BLE001 - transient or unexpected: keep the row, retry later
            result.failed += 1
            transient_run += 1
            _finish(store, row_id, owner, attempts=attempts, last_error=safe_error(exc),
                    next_attempt_at=now + backoff(attempts, getattr(exc, "retry_after", None)))
            if transient_run == 1:  # log the first failure, not every one
                event(log, "alerts.send_failed", logging.WARNING, key=key, attempts=attempts, error=safe_error(exc))
            if transient_run >= STOP_AFTER_TRANSIENT:
                break
        else:
            transient_run = 0
            _finish(store, row_id, owner, status="sent", sent_at=now, attempts=attempts, last_error="")
            result.sent += 1
    with store.session() as s:
        result.queued = queued_count(s, now)
        result.pending_digest = pending_count(s)
    if due:
        event(log, "alerts.delivered", **result.as_json(), cancelled=result.cancelled)
    return result
