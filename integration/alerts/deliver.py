"""Delivery: send due outbox rows, one claimed row at a time.

Guarantees and their reasons:

- Claim before send. A row is claimed with a lease (``UPDATE … WHERE status IN (pending, failed)
  AND next_attempt_at <= now AND lease expired``, checking rowcount), committed, then sent; two
  workers never send the same row, on SQLite and PostgreSQL alike. A worker that dies holding a
  lease frees the row when the lease (5 minutes) runs out — at once when the holder the lease
  names (``host:pid``) was a process on this host that no longer exists.
- Marked sent right after each send, in its own transaction. A crash between the send and that
  commit means one resend with the same Message-ID (at-least-once; never lost).
- Leases count from each claim's own time (the run's start plus the time the run has taken so
  far) and are renewed every minute or so while a row is being sent, so a delivery run of any
  length never has a row re-sent by a second delivery (another worker, or the alerts, digest
  and escalation jobs of one worker).
- One message in flight per process. The worker runs the alerts, digest, escalation and
  acknowledgement jobs in parallel threads, and each delivers; a process-wide lock around each
  claim-send-mark keeps them to one SMTP transaction at a time, so a killed worker leaves at most
  one message whose fate is unknown (resent once, same Message-ID), not one per thread.
- Nothing is dropped. A temporary failure is first retried within the run, after 1, 2 and 4
  seconds (a greylisting relay answers ``451`` to the first attempts; an unreachable server
  gets one retry after 1 s); if the server still defers, or cannot be reached at all, the row stays ``pending`` with exponential backoff +
  jitter (30 s, 60 s … capped at an hour). An unreachable server stops the run at once; a relay
  that defers two rows in a row stops it too. An operator's explicit ``alerts`` run
  (``retry_waiting``) tries every due pending row now, whatever its backoff. A permanent refusal of the recipient (5xx)
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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from integration.alerts.digest import pending_count
from integration.alerts.outbox import UNSENT, as_outgoing, queued_count
from integration.errors import SourceRefused
from integration.holders import lease_free, new_owner
from integration.logs import event, redact
from integration.periodic import Periodic
from integration.protocols import RECIPIENT_REFUSED
from integration.store.models_alerts import OutboxEmail

log = logging.getLogger("safechannels.alerts")

LEASE = timedelta(minutes=5)
BASE_DELAY = 30.0  # seconds before the first retry
MAX_DELAY = 3600.0  # cap of the exponential backoff
FAILED_RETRY = timedelta(hours=24)
STOP_AFTER_TRANSIENT = 2  # consecutive rows the relay deferred: it is not taking mail now, stop this run
IN_RUN_RETRIES = (1.0, 2.0, 4.0)  # seconds before each retry of a deferred row inside one run
_IN_FLIGHT = threading.Lock()  # one claimed-and-unmarked row per process: see the module docstring


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


def _claim(store, row_id: int, owner: str, now: datetime, *, retry_waiting: bool = False) -> bool:
    """Lease one row from ``now`` (the claim's own time). ``retry_waiting``: a pending row still in
    its backoff may be taken too (an operator asked for delivery now)."""
    ready = OutboxEmail.next_attempt_at <= now
    if retry_waiting:
        ready = ready | ((OutboxEmail.status == "pending") & (OutboxEmail.due_at <= now))
    with store.session() as s:
        holder = s.scalar(select(OutboxEmail.lease_owner).where(OutboxEmail.id == row_id))
        free = lease_free(OutboxEmail.lease_until, OutboxEmail.lease_owner, holder, now)  # a killed holder: at once
        res = s.execute(update(OutboxEmail).where(
            OutboxEmail.id == row_id, OutboxEmail.status.in_(UNSENT), ready, free,
        ).values(lease_until=now + LEASE, lease_owner=owner))
        return res.rowcount == 1


def _renew(store, row_id: int, owner: str, clock: Callable[[], datetime]) -> None:
    with store.session() as s:
        s.execute(update(OutboxEmail).where(OutboxEmail.id == row_id, OutboxEmail.lease_owner == owner)
                  .values(lease_until=clock() + LEASE))


def _unreachable(exc: BaseException) -> bool:
    """No answer at all (refused connection, timeout): every other row would fail the same way."""
    return not getattr(exc, "status", 0)


def _send(mailer, email, sleep: Callable[[float], None]) -> Exception | None:
    """Send, retrying a temporary failure after IN_RUN_RETRIES seconds; the last error, or None when sent.
    A refusal (SourceRefused) is raised at once: retrying cannot change it."""
    for tries, delay in enumerate((*IN_RUN_RETRIES, None), start=1):
        try:
            mailer.send(email)
            return None
        except SourceRefused:
            raise
        except Exception as exc:  # noqa: BLE001 - transient or unexpected: the caller keeps the row
            retry_after = getattr(exc, "retry_after", None) or 0
            if delay is None or retry_after > IN_RUN_RETRIES[-1] or (_unreachable(exc) and tries > 1):
                return exc  # an unreachable server gets one quick retry (a relay restarting), not four
            sleep(max(delay, retry_after))
    return None  # not reached: the last delay is None


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


def deliver_due(ctx, now: datetime | None = None, *, mailer=None, limit: int = 200, retry_waiting: bool = False,
                sleep: Callable[[float], None] = time.sleep, clock: Callable[[], datetime] | None = None
                ) -> DeliveryResult:
    """Send every due outbox row. ``ctx`` needs ``.store``, ``.settings`` (to re-check acknowledgement
    emails) and ``.mailer()`` (or pass ``mailer``). ``now`` says what is due; ``clock`` is the time of
    each claim (default: ``now`` plus the time this run has taken). ``retry_waiting``: also rows
    still in their retry backoff (the operator's `alerts` command)."""
    now = now or datetime.now(UTC)
    if clock is None:
        started = time.monotonic()
        clock = lambda: now + timedelta(seconds=time.monotonic() - started)  # noqa: E731
    store = ctx.store
    result = DeliveryResult()
    owner = new_owner()  # host:pid:nonce, so a killed sender's row is taken over without waiting
    ready = OutboxEmail.next_attempt_at <= now
    if retry_waiting:
        ready = ready | ((OutboxEmail.status == "pending") & (OutboxEmail.due_at <= now))
    with store.session() as s:
        due = list(s.scalars(select(OutboxEmail.id).where(OutboxEmail.status.in_(UNSENT), ready)
                            .order_by(OutboxEmail.next_attempt_at, OutboxEmail.id).limit(limit)))
    if due and mailer is None:
        mailer = ctx.mailer()
    deferred_run = 0
    for row_id in due:
        with _IN_FLIGHT:  # one message in flight per process (see the module docstring)
            if not _claim(store, row_id, owner, clock(), retry_waiting=retry_waiting):
                continue  # another worker has it, or it was sent meanwhile
            with store.session() as s:
                row = s.get(OutboxEmail, row_id)
                reason = cancel_reason(s, row, ctx)
                email, key, attempts = as_outgoing(row), row.key, row.attempts + 1
            if reason:
                _cancel(store, row_id, owner, reason, result)
                continue
            try:
                with Periodic(lambda rid=row_id: _renew(store, rid, owner, clock), LEASE.total_seconds() / 3,
                              f"lease-outbox-{row_id}"):
                    error = _send(mailer, email, sleep)
            except SourceRefused as exc:
                result.failed += 1
                if exc.reason == RECIPIENT_REFUSED:
                    _finish(store, row_id, owner, status="failed", attempts=attempts, last_error=safe_error(exc),
                            next_attempt_at=clock() + FAILED_RETRY)
                    event(log, "alerts.refused", logging.WARNING, key=key, error=safe_error(exc))
                    continue
                _finish(store, row_id, owner, attempts=attempts, last_error=safe_error(exc),
                        next_attempt_at=clock() + backoff(attempts))
                event(log, "alerts.transport_refused", logging.ERROR, transport=getattr(mailer, "name", ""),
                      error=safe_error(exc))
                result.refused = exc
                break
            if error is not None:
                result.failed += 1
                deferred_run += 1
                _finish(store, row_id, owner, attempts=attempts, last_error=safe_error(error),
                        next_attempt_at=clock() + backoff(attempts, getattr(error, "retry_after", None)))
                if deferred_run == 1:  # log the first failure, not every one
                    event(log, "alerts.send_failed", logging.WARNING, key=key, attempts=attempts,
                          error=safe_error(error))
                if _unreachable(error) or deferred_run >= STOP_AFTER_TRANSIENT:
                    break
                continue
            deferred_run = 0
            _finish(store, row_id, owner, status="sent", sent_at=clock(), attempts=attempts, last_error="")
            result.sent += 1
    with store.session() as s:
        result.queued = queued_count(s, now)
        result.pending_digest = pending_count(s)
    if due:
        event(log, "alerts.delivered", **result.as_json(), cancelled=result.cancelled)
    return result
