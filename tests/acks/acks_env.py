"""Helpers for acknowledgement tests: the sandbox (Forms API) over real HTTP, a real SMTP server
(aiosmtpd), a written config pointing at both, a Context on the test database, and a small
roster seeded through the models (the roster sync is tested elsewhere)."""

from __future__ import annotations

import socket
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import tomli_w
from aiosmtpd.controller import Controller

from connectors.google.auth import KeyFile
from connectors.google.transport import GoogleClient
from integration import settings as settings_mod
from integration.store.models_roster import Person, PersonAlias
from integration.wiring import Context
from sandbox.forms import forms_state
from sandbox.model import Domain
from sandbox.server import SandboxServer

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # a Monday: the round opens
DAY = timedelta(days=1)
ESCALATE = "head@{d}"
POLICY_URL = "https://www.example.sch.uk/policies/social-networking-2025-10.pdf"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mailbox:
    """An aiosmtpd handler keeping every accepted message with its envelope."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    reply: str = ""  # forces an answer to DATA, e.g. "451 ..." while the relay is "down"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.reply:
            return self.reply
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]

    def kinds(self, address: str) -> list[str]:
        return [str(m["X-SafeChannels-Kind"]) for m in self.to(address)]

    @staticmethod
    def text(msg: EmailMessage) -> str:
        return msg.get_body(("plain",)).get_content()


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.box = Mailbox()
        self.controller = Controller(self.box, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?timeout=5"


def patch_config(path: Path, database_url: str, smtp_url: str, **ack) -> None:
    """Point the written config at the test database and SMTP server; set [acknowledgement] keys."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data["database"]["url"] = database_url
    data["alerts"].update(transport="smtp", smtp_url=smtp_url)
    dom = data["school"]["domain"]
    data["acknowledgement"].update(policy_version="2025-10", form_id="", policy_url=POLICY_URL,
                                   deadline_days=14, reminder_days=[3, 7, 12], escalate_to=[ESCALATE.format(d=dom)],
                                   include_org_units=["/Governors"])
    data["acknowledgement"].update(ack)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")


def make_context(config: Path, sleeps: list[float]) -> Context:
    settings = settings_mod.load(config, env={})
    ctx = Context(settings)
    key = KeyFile(settings.resolve(settings.google.service_account_file))
    ctx.__dict__["google"] = GoogleClient(key, api_base_url=settings.google.api_base_url, sleep=sleeps.append)
    return ctx


@dataclass
class AckEnv:
    domain: Domain
    server: SandboxServer
    smtp: SmtpServer
    config: Path
    ctx: Context
    sleeps: list[float]

    @property
    def dom(self) -> str:
        return self.domain.domain

    def addr(self, local: str) -> str:
        return f"{local}@{self.dom}"

    def set_clock(self, t: datetime) -> None:
        forms_state(self.domain).clock = lambda: t

    def add_person(self, local: str, name: str, *, role: str = "staff", org_unit: str = "/Staff",
                   first_seen: datetime = T0 - 30 * DAY, aliases: tuple[str, ...] = (), status: str = "active",
                   school: str | None = None) -> int:
        """``school``: the person's school, as the roster sync places them (None: as adopt() leaves it)."""
        with self.ctx.store.session() as s:
            p = Person(email=self.addr(local), name=name, role=role, org_unit=org_unit, status=status,
                       aliases=list(aliases), first_seen=first_seen, updated_at=first_seen, school=school)
            s.add(p)
            s.flush()
            s.add(PersonAlias(address=p.email, person_id=p.id))
            for a in aliases:
                s.add(PersonAlias(address=a, person_id=p.id))
            return p.id

    def leave(self, local: str, when: datetime) -> None:
        from sqlalchemy import select

        with self.ctx.store.session() as s:
            p = s.scalar(select(Person).where(Person.email == self.addr(local)))
            p.status, p.left_at = "left", when


def make_trust(env: AckEnv, schools: list[dict], **trust) -> AckEnv:
    """Turn the env's config into a trust's: ``[trust]`` and ``[[schools]]`` (each school's
    dsl_emails given as local parts), and a fresh context reading it."""
    data = tomllib.loads(env.config.read_text(encoding="utf-8"))
    data["trust"] = {"name": "Oakfield Learning Trust", **trust}
    data["schools"] = [{**sc, "dsl_emails": [env.addr(x) for x in sc.get("dsl_emails", [])]} for sc in schools]
    env.config.write_text(tomli_w.dumps(data), encoding="utf-8")
    if "store" in env.ctx.__dict__:
        env.ctx.store.dispose()
    env.ctx = make_context(env.config, env.sleeps)
    return env


def set_ack_config(path: Path, **ack) -> None:
    """Change [acknowledgement] keys in the written config (for CLI runs)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data["acknowledgement"].update(ack)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
