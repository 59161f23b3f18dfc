"""SMTP transport: ``smtp://host:port``, ``smtp+starttls://user:pass@host:587``, ``smtps://user:pass@host:465``.

Errors say what the outbox should do: 4xx replies and connection problems are transient
(retry with backoff); a 5xx refusal of the recipient or message is permanent for that email
only (``reason=recipient_refused``); refused credentials, sender or TLS are the transport's
problem (SourceRefused: a human must fix ``[alerts] smtp_url``/``from_address``).
Passwords never appear in errors or logs.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from connectors.mail.message import build_message, envelope_recipients
from integration.errors import ConfigError, SourceRefused, TransientError
from integration.logs import event
from integration.protocols import RECIPIENT_REFUSED, Check, OutgoingEmail

log = logging.getLogger("safechannels.mail")

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
API = "smtp"
FIX = "check [alerts] smtp_url (host, port, user, password) and from_address with your mail relay's settings"


@dataclass(frozen=True)
class SmtpUrl:
    scheme: str
    host: str
    port: int
    username: str = ""
    password: str = ""
    timeout: float = 30.0
    cafile: str = ""

    @classmethod
    def parse(cls, url: str) -> SmtpUrl:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ConfigError(f"[alerts] smtp_url must look like smtp://host:port, smtp+starttls://user:pass@host:587 "
                              f"or smtps://user:pass@host:465 (got scheme {scheme!r})")
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError:
            raise ConfigError("[alerts] smtp_url has an invalid port") from None
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        try:
            timeout = float(query.get("timeout", 30))
        except ValueError:
            raise ConfigError("[alerts] smtp_url ?timeout= must be a number of seconds") from None
        return cls(scheme, parts.hostname, port, unquote(parts.username or ""), unquote(parts.password or ""),
                   timeout, query.get("cafile", ""))

    def __repr__(self) -> str:
        return f"SmtpUrl({self.scheme}://{self.username + ':***@' if self.username else ''}{self.host}:{self.port})"


def _code(exc: smtplib.SMTPResponseException) -> int:
    return int(getattr(exc, "smtp_code", 0) or 0)


class SmtpMailer:
    """Sends each email over its own SMTP session (alert volumes are small; no stale connections)."""

    name = "smtp"

    def __init__(self, url: str, from_address: str, *, ssl_context: ssl.SSLContext | None = None):
        self.url = SmtpUrl.parse(url)
        if not from_address:
            raise ConfigError("[alerts] from_address must be set to send mail")
        self.from_address = from_address
        self._ssl = ssl_context or ssl.create_default_context(cafile=self.url.cafile or None)

    def _connect(self) -> smtplib.SMTP:
        u = self.url
        if u.scheme == "smtps":
            conn: smtplib.SMTP = smtplib.SMTP_SSL(u.host, u.port, timeout=u.timeout, context=self._ssl)
        else:
            conn = smtplib.SMTP(u.host, u.port, timeout=u.timeout)
        try:
            conn.ehlo()
            if u.scheme == "smtp+starttls":
                conn.starttls(context=self._ssl)
                conn.ehlo()
            if u.username:
                conn.login(u.username, u.password)
        except BaseException:
            conn.close()
            raise
        return conn

    def send(self, email: OutgoingEmail) -> None:
        msg = build_message(email, self.from_address)
        try:
            conn = self._connect()
            try:
                refused = conn.send_message(msg, from_addr=self.from_address, to_addrs=envelope_recipients(email))
            finally:
                try:
                    conn.quit()
                except (smtplib.SMTPException, OSError):
                    conn.close()
        except Exception as exc:  # noqa: BLE001 - mapped to the error tree right here
            raise self._map(exc) from None
        if refused:  # some recipients accepted, so it counts as sent (a retry would duplicate it for them)
            event(log, "smtp.partly_refused", logging.WARNING, refused=len(refused),
                  codes=sorted({c for c, _m in refused.values()}))

    def _map(self, exc: Exception) -> Exception:
        where = f"{self.url.host}:{self.url.port}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return SourceRefused(f"smtp: {where} refused the login ({_code(exc)})", api=API, fix=FIX,
                                 status=_code(exc), reason="auth")
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return SourceRefused(f"smtp: {where} does not support {exc}", api=API, fix=FIX, reason="unsupported")
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = sorted({c for c, _m in exc.recipients.values()})
            if any(400 <= c < 500 for c in codes):
                return TransientError(f"smtp: recipient deferred ({codes})", api=API, status=codes[0])
            return SourceRefused(f"smtp: recipient refused ({codes})", api=API, status=codes[0] if codes else 0,
                                 reason=RECIPIENT_REFUSED)
        if isinstance(exc, smtplib.SMTPSenderRefused):
            if 400 <= _code(exc) < 500:
                return TransientError(f"smtp: sender deferred ({_code(exc)})", api=API, status=_code(exc))
            return SourceRefused(f"smtp: {where} refused the sender {self.from_address} ({_code(exc)})", api=API,
                                 fix=FIX, status=_code(exc), reason="sender")
        if isinstance(exc, smtplib.SMTPResponseException):
            code = _code(exc)
            if 400 <= code < 500 or isinstance(exc, smtplib.SMTPConnectError):
                return TransientError(f"smtp: {where} answered {code}", api=API, status=code)
            reason = RECIPIENT_REFUSED if isinstance(exc, smtplib.SMTPDataError) else "refused"
            return SourceRefused(f"smtp: {where} refused ({code})", api=API, fix=FIX, status=code, reason=reason)
        if isinstance(exc, ssl.SSLCertVerificationError):
            return SourceRefused(f"smtp: the TLS certificate of {where} could not be verified", api=API,
                                 fix="use the relay's proper host name, or add ?cafile=/path/ca.pem to smtp_url",
                                 reason="tls")
        if isinstance(exc, smtplib.SMTPException | OSError | socket.timeout):
            return TransientError(f"smtp: cannot reach {where}: {type(exc).__name__}", api=API)
        return TransientError(f"smtp: unexpected error talking to {where}: {type(exc).__name__}", api=API)

    def check(self) -> list[Check]:
        """For doctor: connect, STARTTLS and log in without sending anything."""
        try:
            conn = self._connect()
            conn.quit()
        except Exception as exc:  # noqa: BLE001
            err = self._map(exc)
            return [Check("alerts smtp", False, str(err), getattr(err, "fix", "") or FIX)]
        return [Check("alerts smtp", True, f"{self.url.host}:{self.url.port} accepted the connection")]
