"""Gmail transport: send as ``[alerts] from_address`` through domain-wide delegation (``gmail.send``).

POST gmail/v1/users/me/messages/send with ``{"raw": base64url(RFC 2822)}``, through the shared
GoogleClient (credentials per subject, retries, error mapping). The subject must be a licensed
mailbox (or own a verified send-as alias) in the domain.
"""

from __future__ import annotations

import base64

from connectors.google.scopes import SCOPES
from connectors.mail.message import build_message
from integration.errors import ConfigError, NotFound, SourceError, SourceRefused, TransientError
from integration.protocols import RECIPIENT_REFUSED, Check, OutgoingEmail

SEND_SCOPES = SCOPES["gmail_send"]


class GmailSendMailer:
    name = "gmail"

    def __init__(self, google, from_address: str):
        if not from_address:
            raise ConfigError("[alerts] from_address must be set (a licensed mailbox) to send through Gmail")
        self.google = google
        self.from_address = from_address

    def send(self, email: OutgoingEmail) -> None:
        raw = base64.urlsafe_b64encode(build_message(email, self.from_address).as_bytes()).decode("ascii")
        svc = self.google.service("gmail")
        request = svc.users().messages().send(userId="me", body={"raw": raw})
        try:
            self.google.execute("gmail", request, subject=self.from_address, scopes=SEND_SCOPES)
        except (SourceRefused, TransientError):
            raise
        except NotFound as exc:  # the sending mailbox does not exist: the transport's problem
            raise SourceRefused(str(exc), api="gmail", reason="sender",
                                fix="set [alerts] from_address to a licensed mailbox in the domain") from None
        except SourceError as exc:  # 400 invalid recipient/header: this email only, not the transport
            raise SourceRefused(str(exc), api="gmail", status=400, reason=RECIPIENT_REFUSED) from None

    def check(self) -> list[Check]:
        try:
            self.google.check_token(self.from_address, SEND_SCOPES)
        except SourceRefused as exc:
            return [Check("alerts gmail send", False, str(exc), exc.fix or
                          f"delegate {SEND_SCOPES[0]} to the service account's client id in the Admin console")]
        return [Check("alerts gmail send", True, f"can send as {self.from_address}")]
