"""DSL alerting through a transactional outbox.

Findings -> routing (in the audit's transaction) -> ``outbox`` rows -> delivery by the worker
or `python -m integration alerts`. Every email has a unique outbox key, so nothing is sent
twice, and a failing transport only delays it.

API for other modules:

- ``queue_finding_alerts(session, findings, settings, now, hold=False) -> int`` — the audit engine
  calls it in the transaction that creates findings. high/medium: an email now to every DSL of the
  finding's schools (``[alerts] dsl_emails`` for a single school; each ``[[schools]]`` dsl_emails in
  a trust, ``[trust] safeguarding_leads`` for a finding in no school: audience.py), or one email per
  DSL listing their findings when more than ``burst_threshold`` arrive within
  ``burst_window_minutes``; low: the next daily digest (per DSL, their schools' findings only). Idempotent per finding. ``hold``
  (the audit, batch by batch) keeps high/medium until ``release_held(session, settings, now)`` at
  the end of the run, so a run's findings are counted together.
- ``queue_email(session, email, key, *, now=None, kind="other", domain="") -> bool`` — queue any
  :class:`~integration.protocols.OutgoingEmail` in the caller's transaction under a unique ``key``
  (e.g. ``ack:2025-10:reminder:alice@school:2026-11-20``); False if that key was ever queued.
  Pass ``domain=settings.school.domain`` for a tidy Message-ID. Use one key per recipient.
- ``send_email(ctx, email, key, *, now=None, kind="other") -> bool`` — the same in its own
  transaction; also asks the worker to deliver within seconds.
- ``deliver_due(ctx, now=None) -> DeliveryResult(sent, failed, queued, pending_digest, cancelled)``;
  an acknowledgement request whose recipient has left is cancelled (status ``cancelled``), not sent.
- ``run_digest(session, settings, now, force=False)``, ``run_escalation(session, settings, now)``.
"""

from __future__ import annotations

from integration.alerts.deliver import DeliveryResult, deliver_due
from integration.alerts.digest import pending_count, run_digest
from integration.alerts.escalation import run_escalation
from integration.alerts.outbox import queue_email, retry_failed, send_email
from integration.alerts.routing import queue_finding_alerts, release_held

__all__ = [
    "DeliveryResult", "deliver_due", "pending_count", "queue_email", "queue_finding_alerts", "release_held",
    "retry_failed",
    "run_digest", "run_escalation", "send_email",
]
