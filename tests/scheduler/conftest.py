"""Fixtures for the worker: a context on the test store whose mail goes to .eml files."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from connectors.mail.outbox_dir import OutboxDirMailer
from integration.settings import Alerts, School, Settings


@pytest.fixture
def ctx(store, tmp_path):
    settings = Settings(school=School(name="Northfield Academy", domain="northfield.sch.uk"),
                        alerts=Alerts(dsl_emails=["dsl@northfield.sch.uk"], transport="outbox",
                                      outbox_dir=str(tmp_path / "outbox"), from_address="alerts@northfield.sch.uk"))
    return SimpleNamespace(store=store, settings=settings,
                           mailer=lambda: OutboxDirMailer(tmp_path / "outbox", settings.alerts.from_address))
