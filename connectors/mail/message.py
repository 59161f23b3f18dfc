"""RFC 2822 messages from an :class:`OutgoingEmail`, shared by every transport."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from integration.protocols import OutgoingEmail

# CRLF line ends for the wire, and no folding below 998 characters: Python's folding of a Subject with a
# non-ASCII character (the em dash) adds a space when read back.
POLICY = policy.SMTP.clone(max_line_length=998)


def build_message(email: OutgoingEmail, from_address: str) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) with the outbox's stable Message-ID."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = from_address
    msg["To"] = ", ".join(email.to)
    if email.cc:
        msg["Cc"] = ", ".join(email.cc)
    msg["Subject"] = email.subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    domain = from_address.rpartition("@")[2] or None
    msg["Message-ID"] = email.message_id or make_msgid(domain=domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to alerts
    for name, value in email.headers.items():
        if name.lower() not in {"from", "to", "cc", "bcc", "subject", "date", "message-id"}:
            msg[name] = value
    msg.set_content(email.text)
    if email.html:
        msg.add_alternative(email.html, subtype="html")
    return msg


def envelope_recipients(email: OutgoingEmail) -> list[str]:
    return [a for a in [*email.to, *email.cc] if a]
