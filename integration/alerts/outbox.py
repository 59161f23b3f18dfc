"""The transactional outbox: queue an email in the caller's transaction, under a unique key.

Why: an email must exist exactly when its cause (a finding, a reminder) was committed, and
must never be sent twice. Queueing is idempotent on ``key``; delivery (deliver.py) claims
rows with a lease, so at most one worker sends a row at a time. A row whose email must no
longer go (an acknowledgement request to someone who has left) ends ``cancelled``, with the
reason in ``last_error``; it is never sent and, like a sent row, purged after retention.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integration.alerts.guard import school_only
from integration.protocols import OutgoingEmail
from integration.store.models_alerts import OutboxEmail

MAX_KEY = 255
UNSENT = ("pending", "failed")  # may still be sent; "sent" and "cancelled" are terminal


def message_id_for(key: str, domain: str) -> str:
    """A Message-ID derived from the outbox key: the same on every retry, so a resend after a crash
    (sent, then killed before marking it sent) can be recognised downstream."""
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<{digest}.safechannels@{domain or 'safechannels.invalid'}>"


def queue_email(session: Session, email: OutgoingEmail, key: str, *, now: datetime | None = None,
                kind: str = "other", finding_id: int | None = None, domain: str = "",
                due_at: datetime | None = None, school_domains: Iterable[str] = (), school: str | None = None) -> bool:
    """Queue one email in ``session``'s transaction; True if queued, False if ``key`` was already queued.

    ``key`` is the email's identity for ever (e.g. ``ack:2025-10:reminder:alice@school:2026-11-20``):
    queueing the same key again is a no-op, even after the first one was sent. Every email passes
    `guard.school_only` for ``domain`` and ``school_domains``: recipients outside them are refused
    (OutsideSchool), other outside addresses in it are masked. ``school`` is the one school the email
    concerns (None: several, or trust-wide).
    """
    if not key or len(key) > MAX_KEY:
        raise ValueError(f"outbox key must be 1..{MAX_KEY} characters, got {len(key)}")
    if not email.to:
        raise ValueError("an outbox email needs at least one recipient")
    email = school_only(email, [domain, *school_domains])
    now = now or datetime.now(UTC)
    if session.scalar(select(OutboxEmail.id).where(OutboxEmail.key == key)) is not None:
        return False
    row = OutboxEmail(
        key=key, kind=kind, finding_id=finding_id, school=school, recipients=[a.strip() for a in email.to],
        cc=list(email.cc), subject=email.subject, body_text=email.text, body_html=email.html,
        headers=dict(email.headers), message_id=email.message_id or message_id_for(key, domain),
        status="pending", attempts=0, last_error="", due_at=due_at or now,
        next_attempt_at=due_at or now, lease_owner="", created_at=now,
    )
    try:
        with session.begin_nested():  # a concurrent writer with the same key loses quietly
            session.add(row)
            session.flush()
    except IntegrityError:
        return False
    return True


def send_email(ctx, email: OutgoingEmail, key: str, *, now: datetime | None = None, kind: str = "other") -> bool:
    """Queue an email in its own transaction (for callers without one). The worker sends it within
    seconds (an ``alerts`` job is requested); `python -m integration alerts` sends it at once."""
    from integration.jobs import request_job

    with ctx.store.session() as session:
        queued = queue_email(session, email, key, now=now, kind=kind, domain=ctx.settings.school.domain,
                             school_domains=ctx.settings.approved_domains)
        if queued:
            request_job(session, "alerts", f"{kind} email queued")
    return queued


def as_outgoing(row: OutboxEmail) -> OutgoingEmail:
    headers = dict(row.headers or {})
    headers.setdefault("X-SafeChannels-Ref", row.key[:120])
    return OutgoingEmail(to=list(row.recipients), cc=list(row.cc or []), subject=row.subject,
                         text=row.body_text, html=row.body_html, message_id=row.message_id, headers=headers)


def queued_count(session: Session, now: datetime) -> int:
    """Due but not delivered: pending (retrying) and failed (refused; waiting for an operator) rows."""
    return session.scalar(select(func.count()).select_from(OutboxEmail).where(
        OutboxEmail.status.in_(UNSENT), OutboxEmail.due_at <= now)) or 0


def retry_failed(session: Session, now: datetime) -> int:
    """Operator action: try every refused (failed) email again now. Returns how many."""
    res = session.execute(update(OutboxEmail).where(OutboxEmail.status == "failed").values(
        status="pending", next_attempt_at=now, lease_until=None, lease_owner=""))
    return res.rowcount or 0


def cancel_queued(session: Session, row_id: int, reason: str, now: datetime) -> bool:
    """Cancel an unsent row that no worker holds; False if it was sent, cancelled or is being sent
    (a worker holding the lease re-checks the row itself before sending)."""
    res = session.execute(update(OutboxEmail).where(
        OutboxEmail.id == row_id, OutboxEmail.status.in_(UNSENT),
        (OutboxEmail.lease_until.is_(None)) | (OutboxEmail.lease_until < now),
    ).values(status="cancelled", last_error=reason[:500], lease_until=None, lease_owner=""))
    return res.rowcount == 1


def purge_sent(session: Session, before: datetime) -> int:
    """Delete sent/cancelled emails older than ``before`` (they hold names; the finding keeps the record)."""
    res = session.execute(delete(OutboxEmail).where(
        OutboxEmail.status.in_(("sent", "cancelled")), OutboxEmail.created_at < before))
    return res.rowcount or 0
