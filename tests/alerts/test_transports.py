"""Mail transports against real servers: STARTTLS + AUTH, implicit TLS, refusals, the .eml outbox."""

from __future__ import annotations

import ipaddress
import ssl
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from connectors.mail.outbox_dir import OutboxDirMailer
from connectors.mail.smtp import SmtpMailer, SmtpUrl
from integration.errors import ConfigError, SourceRefused, TransientError
from integration.protocols import RECIPIENT_REFUSED, OutgoingEmail

USER, PASSWORD = "alerts", "s3cret-p@ss"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made with `cryptography`."""
    d = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return d / "cert.pem", d / "key.pem"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode() and \
        auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def tls_smtp(tls_files, smtp_factory):
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    server = smtp_factory(tls_context=server_ctx, require_starttls=True, auth_required=True,
                          authenticator=_authenticator)
    server.start()
    return server


EMAIL = OutgoingEmail(to=["dsl@northfield.sch.uk"], subject="[SafeChannels] test", text="plain",
                      html="<p>html</p>", message_id="<x1.safechannels@northfield.sch.uk>")


def test_starttls_and_auth(tls_smtp, tls_files):
    url = f"smtp+starttls://{USER}:{PASSWORD.replace('@', '%40')}@127.0.0.1:{tls_smtp.port}?cafile={tls_files[0]}"
    SmtpMailer(url, "alerts@northfield.sch.uk").send(EMAIL)
    (msg,) = tls_smtp.handler.messages
    assert msg["Message-ID"] == "<x1.safechannels@northfield.sch.uk>"
    assert msg.get_body(("html",)).get_content().strip() == "<p>html</p>"


def test_wrong_password_is_a_refusal_that_names_no_secret(tls_smtp, tls_files):
    url = f"smtp+starttls://{USER}:wrong-pass@127.0.0.1:{tls_smtp.port}?cafile={tls_files[0]}"
    with pytest.raises(SourceRefused) as err:
        SmtpMailer(url, "alerts@northfield.sch.uk").send(EMAIL)
    assert err.value.reason == "auth" and err.value.exit_code == 3
    assert "wrong-pass" not in str(err.value) and "smtp_url" in err.value.fix


def test_an_untrusted_certificate_is_refused_not_retried(tls_smtp):
    url = f"smtp+starttls://{USER}:{PASSWORD}@127.0.0.1:{tls_smtp.port}"
    with pytest.raises(SourceRefused) as err:
        SmtpMailer(url, "alerts@northfield.sch.uk").send(EMAIL)
    assert err.value.reason == "tls"


def test_implicit_tls_smtps(tls_files, smtp_factory):
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    server = smtp_factory(ssl_context=server_ctx)
    server.start()
    SmtpMailer(f"smtps://127.0.0.1:{server.port}?cafile={cert}", "alerts@northfield.sch.uk").send(EMAIL)
    assert len(server.handler.messages) == 1


def test_replies_map_to_what_the_outbox_should_do(smtp):
    mailer = SmtpMailer(smtp.url, "alerts@northfield.sch.uk")
    smtp.handler.reply = "451 4.7.1 greylisted"
    with pytest.raises(TransientError):
        mailer.send(EMAIL)
    smtp.handler.reply = ""
    smtp.handler.refuse_rcpt["dsl@northfield.sch.uk"] = "550 5.1.1 unknown user"
    with pytest.raises(SourceRefused) as err:
        mailer.send(EMAIL)
    assert err.value.reason == RECIPIENT_REFUSED
    smtp.stop()
    with pytest.raises(TransientError):
        mailer.send(EMAIL)


def test_smtp_urls():
    assert SmtpUrl.parse("smtp://relay.local").port == 25
    u = SmtpUrl.parse("smtp+starttls://me%40school:p%3Ass@smtp-relay.gmail.com:587?timeout=7")
    assert (u.username, u.password, u.port, u.timeout) == ("me@school", "p:ss", 587, 7.0)
    assert "p:ss" not in repr(u)
    assert SmtpUrl.parse("smtps://u:p@h").port == 465
    for bad in ("http://h", "smtp://", "smtp://h:notaport"):
        with pytest.raises(ConfigError):
            SmtpUrl.parse(bad)


def test_outbox_directory_writes_one_eml_per_email_atomically(tmp_path):
    mailer = OutboxDirMailer(tmp_path / "outbox", "alerts@northfield.sch.uk")
    mailer.send(EMAIL)
    mailer.send(EMAIL)  # a resend of the same outbox row replaces its file
    files = list((tmp_path / "outbox").iterdir())
    assert len(files) == 1 and files[0].suffix == ".eml"
    msg = message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert msg["Subject"] == "[SafeChannels] test" and msg["To"] == "dsl@northfield.sch.uk"


def test_cli_exits_3_when_the_relay_refuses_the_login_and_keeps_the_alert(cli, tls_smtp, tls_files, findings, capsys):
    import json

    from integration.alerts import queue_finding_alerts
    from integration.settings import load

    url = f"smtp+starttls://{USER}:wrong@127.0.0.1:{tls_smtp.port}?cafile={tls_files[0]}"
    cli.write_config(transport="smtp", smtp_url=url)
    store = cli.store()
    with store.session() as s:
        queue_finding_alerts(s, [findings.add(s)], load(cli.config, env={}), datetime.now(UTC))
    assert cli.run("alerts", "--json") == 3
    captured = capsys.readouterr()
    assert json.loads(captured.out) == {"sent": 0, "failed": 1, "queued": 1, "pending_digest": 0}
    assert "refused the login" in captured.err and "wrong" not in captured.err
