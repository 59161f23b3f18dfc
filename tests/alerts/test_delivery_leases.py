"""Row leases hold for as long as a delivery takes (issue 11 defect 2), through a real SMTP server.

A lease counted from the run's start ran out while later rows of a long run were still being
sent, so a second delivery (another worker, or the alerts/digest/escalation jobs of one worker)
sent them again. The lease is shortened here so a "long" run takes seconds, not minutes.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from connectors.mail.smtp import SmtpMailer
from integration.alerts import deliver, deliver_due, queue_finding_alerts
from integration.store.models_alerts import OutboxEmail


class SlowMailer:
    """The real SMTP mailer, taking ``seconds`` per email (a slow relay); tells when a send begins."""

    def __init__(self, url: str, sender: str, seconds: float):
        self.inner, self.seconds = SmtpMailer(url, sender), seconds
        self.started: list[str] = []
        self.name = "smtp"

    def send(self, email) -> None:
        self.started.append(email.message_id)
        time.sleep(self.seconds)
        self.inner.send(email)


def _queue(store, settings, findings, n: int) -> None:
    with store.session() as s:
        queue_finding_alerts(s, [findings.add(s) for _ in range(n)], settings, datetime.now(UTC))


def _wait(predicate, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def _second_delivery_during(ctx, first_mailer: SlowMailer, sends: int, then_wait: float = 0.0):
    """Start a delivery; once its ``sends``-th send has begun (plus ``then_wait`` s), run a second
    delivery on the real clock, as another worker would. Both results."""
    results = {}
    runner = threading.Thread(target=lambda: results.setdefault("first", deliver_due(ctx, mailer=first_mailer)))
    runner.start()
    _wait(lambda: len(first_mailer.started) >= sends)
    time.sleep(then_wait)
    results["second"] = deliver_due(ctx, mailer=SmtpMailer(ctx.settings.alerts.smtp_url,
                                                           ctx.settings.alerts.from_address))
    runner.join(30)
    return results["first"], results["second"]


def test_rows_claimed_late_in_a_long_run_are_not_sent_twice(store, ctx, smtp, findings, monkeypatch):
    monkeypatch.setattr(deliver, "LEASE", timedelta(seconds=1.5))
    _queue(store, ctx.settings, findings, 3)  # one DSL: three alerts, sent one after another
    slow = SlowMailer(smtp.url, ctx.settings.alerts.from_address, 0.8)
    first, second = _second_delivery_during(ctx, slow, sends=3)  # row 3 is claimed >= 1.6 s into the run
    assert (first.sent, second.sent) == (3, 0)
    ids = [m["Message-ID"] for m in smtp.handler.messages]
    assert len(ids) == 3 and len(set(ids)) == 3


def test_a_send_slower_than_the_lease_keeps_its_row(store, ctx, smtp, findings, monkeypatch):
    monkeypatch.setattr(deliver, "LEASE", timedelta(seconds=1.5))  # renewed every 0.5 s while sending
    _queue(store, ctx.settings, findings, 1)
    slow = SlowMailer(smtp.url, ctx.settings.alerts.from_address, 3.5)
    first, second = _second_delivery_during(ctx, slow, sends=1, then_wait=2.0)
    assert (first.sent, second.sent) == (1, 0)
    assert len(smtp.handler.messages) == 1
    with store.session() as s:
        row = s.scalars(select(OutboxEmail)).one()
        assert row.status == "sent" and row.lease_owner == "" and row.lease_until is None
