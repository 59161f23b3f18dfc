"""The SMTP relay misbehaves under `python -m integration alerts` (real processes, real aiosmtpd relay).

Each ends with every alert delivered exactly once: one message per outbox row, no Message-ID twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from integration.alerts import queue_email
from integration.protocols import OutgoingEmail
from integration.store.models_alerts import OutboxEmail

DSL, DEPUTY = "dsl@northfield.sch.uk", "deputy@northfield.sch.uk"
pytestmark = pytest.mark.faults


def _queue_alerts(service, n: int) -> list[str]:
    """``n`` DSL alerts, queued as the audit queues them (an outbox row each); their Message-IDs."""
    store = service.store()
    with store.session() as s:
        for i in range(n):
            email = OutgoingEmail(to=[DSL if i % 2 else DEPUTY], subject=f"Safeguarding alert {i}",
                                  text="A finding needs review.")
            assert queue_email(s, email, f"fault-suite:{i}", kind="alert", domain="northfield.sch.uk",
                               now=datetime.now(UTC))
    with store.session() as s:
        return list(s.scalars(select(OutboxEmail.message_id).order_by(OutboxEmail.id)))


def _statuses(service) -> list[str]:
    with service.store().session() as s:
        return list(s.scalars(select(OutboxEmail.status).order_by(OutboxEmail.id)))


def _smtp(service, relay) -> None:
    service.set("alerts", transport="smtp", smtp_url=relay.url, from_address="alerts@northfield.sch.uk",
                dsl_emails=[DSL])


def test_a_greylisting_relay_gets_every_alert_in_one_explicit_run(service, relay):
    """Defect 12: a relay answering 451 to first attempts left alerts queued after two `alerts` runs."""
    _smtp(service, relay)
    relay.log.greylist = 2.5  # each (sender, recipient) pair is deferred for 2.5 s after its first try
    queued = _queue_alerts(service, 4)
    run = service.run("alerts", "--json")
    assert run.code == 0, run.err
    assert run.json() == {"sent": 4, "failed": 0, "queued": 0, "pending_digest": 0}
    assert relay.log.deferred >= 2  # both recipients were greylisted, and retried within the run
    assert sorted(relay.log.message_ids()) == sorted(queued)
    assert _statuses(service) == ["sent"] * 4


def test_a_relay_down_for_three_runs_then_up_delivers_everything_once(service, relay):
    _smtp(service, relay)
    queued = _queue_alerts(service, 3)
    relay.stop()
    for _ in range(3):
        run = service.run("alerts", "--json")
        assert run.code == 0, run.err  # not an operator error: the rows wait and are retried
        assert run.json() == {"sent": 0, "failed": 1, "queued": 3, "pending_digest": 0}  # stopped at once
        assert run.seconds < 30
    assert _statuses(service) == ["pending"] * 3
    relay.start()
    run = service.run("alerts", "--json")  # the backoff is not waited for: the operator asked now
    assert run.json() == {"sent": 3, "failed": 0, "queued": 0, "pending_digest": 0}
    assert sorted(relay.log.message_ids()) == sorted(queued)
    assert service.run("alerts", "--json").json()["sent"] == 0  # nothing twice
    assert len(relay.log.messages) == 3
