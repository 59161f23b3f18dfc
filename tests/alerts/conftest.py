"""Fixtures for alerting: a real in-process SMTP server (aiosmtpd), settings, a context and a
factory for findings (through the findings engine when a test needs occurrences)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller

from connectors.mail.smtp import SmtpMailer
from integration.settings import Alerts, School, Settings
from integration.store.models_audit import Finding, FindingEvent

DOMAIN = "northfield.sch.uk"
DSL = f"dsl@{DOMAIN}"
DSL2 = f"dsl2@{DOMAIN}"
DEPUTY = f"deputy@{DOMAIN}"
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Recorder:
    """An SMTP handler keeping every accepted message; `reply` forces an answer (e.g. '451 ...')."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    reply: str = ""
    refuse_rcpt: dict[str, str] = field(default_factory=dict)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.reply:
            return self.reply
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m, (_f, rcpts) in zip(self.messages, self.envelopes, strict=True) if address in rcpts]


class SmtpServer:
    def __init__(self, **kwargs):
        self.port = free_port()
        self.handler = Recorder()
        self.kwargs = kwargs
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **self.kwargs)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=5"


@pytest.fixture(autouse=True)
def _quiet_smtp_server_logs():
    import logging

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection at INFO


@pytest.fixture
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def make_settings(smtp_url: str = "smtp://127.0.0.1:25", **alerts) -> Settings:
    base = dict(dsl_emails=[DSL], deputy_emails=[DEPUTY], escalate_after_hours=24, transport="smtp",
                smtp_url=smtp_url, from_address=f"safeguarding-alerts@{DOMAIN}", digest_time="07:30",
                base_url="https://safechannels.northfield.sch.uk")
    base.update(alerts)
    return Settings(school=School(name="Northfield Academy", domain=DOMAIN, timezone="Europe/London"),
                    alerts=Alerts(**base))


@pytest.fixture
def settings(smtp) -> Settings:
    return make_settings(smtp.url)


@pytest.fixture
def ctx(store, settings):
    return SimpleNamespace(store=store, settings=settings,
                           mailer=lambda: SmtpMailer(settings.alerts.smtp_url, settings.alerts.from_address))


_seq = iter(range(1, 10**9))


def add_finding(session, *, rule="mail.staff_personal_to_pupil", severity="high", status="new",
                staff=f"mr.jones@{DOMAIN}", pupil=f"amy.pupil@{DOMAIN}", when=T0, occurrences=1,
                evidence=None, policy=("002 §43", "004"), **kw) -> Finding:
    n = next(_seq)
    f = Finding(fingerprint=f"fp-{n}-{rule}", rule=rule, severity=severity, status=status, staff=staff, pupil=pupil,
                guardian=kw.pop("guardian", None), counterpart=kw.pop("counterpart", "amy.secret@gmail.com"),
                counterpart_hash="h", confidence=kw.pop("confidence", "known"), source="reports.gmail",
                evidence=evidence if evidence is not None else {"message_id": f"<m{n}@gmail.com>",
                                                                "subject": "Homework help"},
                policy=list(policy), first_seen=when, last_seen=when, occurrences=occurrences,
                created_at=when, updated_at=when, **kw)
    session.add(f)
    session.flush()
    return f


def log_event(session, finding_id: int, action: str, at: datetime, **kw) -> None:
    session.add(FindingEvent(finding_id=finding_id, action=action, actor=kw.pop("actor", DSL), at=at, **kw))
    session.flush()


@pytest.fixture
def findings():
    """Factories for findings and triage-log entries (as the findings engine writes them)."""
    return SimpleNamespace(add=add_finding, log=log_event, T0=T0, DSL=DSL, DSL2=DSL2, DEPUTY=DEPUTY, DOMAIN=DOMAIN,
                           settings=make_settings)


@pytest.fixture
def cli(tmp_path, database_url, monkeypatch):
    """Run `python -m integration …` in-process against a config file on the test database.

    Only this feature's commands are registered (the other command modules are not this test's
    concern). Returns an object with .write_config(**alerts), .store() and .run(*argv) -> (code, stdout).
    """
    import json as _json

    from integration import __main__ as cli_main
    from integration.crypto import Crypto, write_new_key_file
    from integration.store import Store

    monkeypatch.setattr(cli_main, "COMMANDS", {k: v for k, v in cli_main.COMMANDS.items()
                                               if k in ("alerts", "worker")})
    key = tmp_path / "secrets" / "safechannels.key"
    write_new_key_file(key)
    cfg = tmp_path / "safechannels.toml"

    def write_config(**alerts) -> None:
        a = {"dsl_emails": [DSL], "deputy_emails": [DEPUTY], "from_address": f"alerts@{DOMAIN}",
             "base_url": "https://sc.example", **alerts}
        lines = ["[school]", f'domain = "{DOMAIN}"', "[privacy]", f'encryption_key_file = "{key}"',
                 "[database]", f"url = {_json.dumps(database_url)}", "[alerts]"]
        lines += [f"{k} = {_json.dumps(v)}" for k, v in a.items()]
        cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")

    stores: list[Store] = []

    def store() -> Store:
        s = Store(database_url, Crypto.from_file(key))
        s.migrate()
        stores.append(s)
        return s

    def run(*argv: str, capsys=None) -> int:
        return cli_main.main(["--config", str(cfg), *argv])

    yield SimpleNamespace(write_config=write_config, store=store, run=run, config=cfg)
    for s in stores:
        s.dispose()
    import logging

    root = logging.getLogger()  # main() logged to this test's captured stderr, which is now closed
    for h in list(root.handlers):
        if getattr(h, "_safechannels", False):
            root.removeHandler(h)


@pytest.fixture
def smtp_factory():
    """Build another SMTP server (TLS, AUTH …): ``smtp_factory(**Controller kwargs)``; stopped after the test."""
    servers: list[SmtpServer] = []

    def make(**kwargs) -> SmtpServer:
        server = SmtpServer(**kwargs)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(autouse=True)
def _quick_in_run_retries(monkeypatch):
    """A deferring relay is retried within a delivery run after 1, 2 and 4 s; these tests' relay defers
    on purpose, so they retry at once (the delays themselves are tested in tests/faults)."""
    monkeypatch.setattr("integration.alerts.deliver.IN_RUN_RETRIES", (0.0, 0.0, 0.0))
