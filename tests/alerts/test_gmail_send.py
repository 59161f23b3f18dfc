"""The Gmail transport against the sandbox: messages.send as the delegated from_address, over real HTTP."""

from __future__ import annotations

import json
from email import message_from_bytes, policy

import pytest

from connectors.google.auth import KeyFile
from connectors.google.transport import GoogleClient
from connectors.mail.gmail_send import GmailSendMailer
from integration.alerts import deliver_due, queue_finding_alerts
from integration.errors import SourceRefused
from integration.protocols import RECIPIENT_REFUSED, OutgoingEmail
from sandbox import generate
from sandbox.server import SandboxServer
from sandbox.token import service_account


@pytest.fixture
def gmail(tmp_path):
    dom = generate("tiny", 1)
    server = SandboxServer(dom).start()
    key = tmp_path / "sa.json"
    key.write_text(json.dumps(service_account(dom).key_json(server.token_uri)))
    client = GoogleClient(KeyFile(key), api_base_url=server.url, sleep=lambda _s: None)
    yield dom, client
    server.stop()


def _sent(dom) -> list:
    return [message_from_bytes(m["raw"], policy=policy.default) for m in dom.state("gmail_sent", list)]


def test_sends_raw_rfc2822_as_the_from_address(gmail):
    dom, client = gmail
    email = OutgoingEmail(to=["dsl@example.org"], subject="[SafeChannels] High: x — ref F-1", text="t",
                          html="<p>t</p>", message_id="<k1.safechannels@example.org>")
    GmailSendMailer(client, dom.admin_email).send(email)
    (msg,) = _sent(dom)
    assert msg["Subject"] == "[SafeChannels] High: x — ref F-1"
    assert msg["Message-ID"] == "<k1.safechannels@example.org>" and msg["From"] == dom.admin_email
    assert dom.state("gmail_sent", list)[0]["from"] == dom.admin_email


def test_the_outbox_delivers_through_gmail(gmail, store, ctx, findings):
    dom, client = gmail
    with store.session() as s:
        queue_finding_alerts(s, [findings.add(s)], ctx.settings, findings.T0)
    result = deliver_due(ctx, findings.T0, mailer=GmailSendMailer(client, dom.admin_email))
    assert (result.sent, result.failed) == (1, 0) and len(_sent(dom)) == 1


def test_a_sender_that_is_not_a_mailbox_refuses_the_transport(gmail):
    dom, client = gmail
    with pytest.raises(SourceRefused) as err:
        GmailSendMailer(client, f"no.such.mailbox@{dom.admin_email.split('@')[1]}").send(
            OutgoingEmail(to=["dsl@example.org"], subject="s", text="t"))
    assert err.value.reason != RECIPIENT_REFUSED and err.value.exit_code == 3
