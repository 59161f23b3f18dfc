"""DSL alerting: findings -> transactional outbox -> email (placeholder until the alerts work lands)."""

from __future__ import annotations

from datetime import datetime


def queue_finding_alerts(session, findings: list, settings, now: datetime) -> int:
    """Queue alerts for new (not suppressed) findings in the caller's transaction. Returns how many."""
    return 0
