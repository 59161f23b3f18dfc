"""Gmail API as each mailbox: message headers (when Reports has no gmail events) and forwarding settings.

Headers only: ``messages.list`` (no ``q`` — the ``gmail.metadata`` scope forbids it) then
``messages.get(format=metadata, metadataHeaders=From/To/Cc/Bcc/Date/Message-ID/Subject)``
in Gmail batches of 50 (Google's recommendation; the cap is 100). Never ``full``/``raw``,
never bodies or snippets. The list is newest first, so reading stops at the first batch that
reaches back past the window (an incremental run usually costs one list and one batch of 10 per mailbox).
Forwarding: ``getAutoForwarding`` + ``forwardingAddresses.list`` + ``filters.list`` in one batch per
mailbox with ``gmail.settings.basic`` (which grants no mail access); only *accepted*
forwarding addresses count, since a pending one cannot receive mail, and only filters that forward.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.utils import getaddresses

from connectors.google.scopes import SCOPES
from connectors.google.transport import GoogleClient
from integration.errors import NotFound, SourceError
from integration.logs import event
from integration.records import ForwardingSetting, MailEvent, MailFilter

log = logging.getLogger("safechannels.google.gmail")

HEADERS = ["From", "To", "Cc", "Bcc", "Date", "Message-ID", "Subject"]
GET_FIELDS = "id,internalDate,labelIds,payload/headers"
LIST_PAGE = 500
BATCH = 50
FIRST_BATCH = 10  # a small first batch: an incremental run usually needs only the newest few


def mail_event(mailbox: str, msg: dict) -> MailEvent | None:
    """A MailEvent from a metadata-format message; None (logged) when it has no sender or recipients.

    A draft (label ``DRAFT``) was never sent nor received: None, silently. ``messages.list`` returns
    drafts too, and ``gmail.metadata`` forbids the ``q`` that could leave them out.
    """
    labels = msg.get("labelIds") or []
    if "DRAFT" in labels:
        return None
    headers: dict[str, list[str]] = {}
    for hdr in (msg.get("payload") or {}).get("headers") or []:
        headers.setdefault(str(hdr.get("name", "")).lower(), []).append(str(hdr.get("value", "")))
    senders = getaddresses(headers.get("from", []))
    rcpts = getaddresses(headers.get("to", []) + headers.get("cc", []) + headers.get("bcc", []))
    names = tuple((a.lower(), _decoded(n)) for n, a in senders + rcpts if n and a)
    sender = next((a.lower() for _, a in senders if a), "")
    recipients = tuple(dict.fromkeys(a.lower() for _, a in rcpts if a))
    if "SENT" not in labels and recipients and mailbox.lower() not in recipients and mailbox.lower() != sender:
        recipients += (mailbox.lower(),)  # delivered here through a group or Bcc: this mailbox took part
    if not sender or not recipients or not msg.get("internalDate"):
        event(log, "gmail.message_skipped", logging.WARNING, mailbox=mailbox, id=msg.get("id", ""),
              why="no sender, recipients or date")
        return None
    when = datetime.fromtimestamp(int(msg["internalDate"]) / 1000, UTC)
    direction = "sent" if "SENT" in labels else "received"
    return MailEvent(f"gmail:{mailbox}:{msg['id']}", when, mailbox, direction, sender, recipients,
                     (headers.get("message-id") or [""])[0], (headers.get("subject") or [""])[0], names,
                     "gmail.messages")


def _decoded(name: str) -> str:
    """A display name with RFC 2047 encoded words ("=?utf-8?q?Zo=C3=AB?=") decoded, as people read it."""
    if "=?" not in name:
        return name
    try:
        return str(make_header(decode_header(name)))
    except (ValueError, LookupError):
        return name


class GmailReader:
    def __init__(self, client: GoogleClient):
        self.client = client

    def mailbox(self, mailbox: str, since: datetime, until: datetime) -> Iterator[list[MailEvent]]:
        """Pages of the mailbox's messages in [since, until), newest first."""
        messages = self.client.resource("gmail", "users", "messages")
        scopes = SCOPES["gmail_metadata"]

        def make(token: str | None):
            return messages.list(userId="me", maxResults=LIST_PAGE, pageToken=token,
                                               fields="nextPageToken,messages/id")

        for page in self.client.pages("gmail", make, subject=mailbox, scopes=scopes):
            ids = [m["id"] for m in page.get("messages") or [] if m.get("id")]
            reqs = [(str(i), messages.get(userId="me", id=mid, format="metadata", metadataHeaders=HEADERS,
                                          fields=GET_FIELDS))
                    for i, mid in enumerate(ids)]
            events: list[MailEvent] = []
            oldest: datetime | None = None
            bounds = [0, *range(FIRST_BATCH, len(reqs), BATCH), len(reqs)]
            for lo, hi in zip(bounds, bounds[1:], strict=False):
                if oldest is not None and oldest < since:
                    break  # the list is newest first: the rest of the page is older still
                for _key, resp, err in self.client.batch("gmail", reqs[lo:hi], subject=mailbox, scopes=scopes):
                    if isinstance(err, NotFound):
                        continue  # deleted between list and get
                    if err is not None:
                        raise err if isinstance(err, SourceError) else SourceError(str(err), api="gmail")
                    ev = mail_event(mailbox, resp or {})
                    if ev is None:
                        continue
                    oldest = ev.time if oldest is None else min(oldest, ev.time)
                    if since <= ev.time < until:
                        events.append(ev)
            yield events
            if oldest is not None and oldest < since:
                return

    def forwarding(self, mailbox: str) -> ForwardingSetting:
        """Auto-forwarding, forwarding addresses and filters of one mailbox: one batch of three parts."""
        settings = ("gmail", "users", "settings")
        reqs = [("auto", self.client.resource(*settings).getAutoForwarding(userId="me")),
                ("addresses", self.client.resource(*settings, "forwardingAddresses").list(userId="me")),
                ("filters", self.client.resource(*settings, "filters").list(userId="me"))]
        got: dict[str, dict] = {}
        for key, resp, err in self.client.batch("gmail", reqs, subject=mailbox, scopes=SCOPES["gmail_settings"]):
            if err is not None:
                raise err if isinstance(err, SourceError) else SourceError(str(err), api="gmail")
            got[key] = resp or {}
        auto = got.get("auto", {})
        accepted = tuple(str(a.get("forwardingEmail", "")).lower() for a in got.get("addresses", {}).get(
            "forwardingAddresses") or [] if a.get("verificationStatus") == "accepted" and a.get("forwardingEmail"))
        return ForwardingSetting(mailbox, bool(auto.get("enabled")), str(auto.get("emailAddress", "")).lower(),
                                 accepted, "gmail.settings", forwarding_filters(got.get("filters", {})))


def forwarding_filters(body: dict) -> tuple[MailFilter, ...]:
    """The filters of a ``filters.list`` answer that forward (``action.forward``); label-only ones are dropped.

    Shape: Gmail API ``users.settings.filters.list`` → ``{"filter": [Filter]}`` (the key is absent when the
    mailbox has none); Filter = ``{id, criteria{from,to,subject,query,negatedQuery,hasAttachment,excludeChats,
    size,sizeComparison}, action{addLabelIds[],removeLabelIds[],forward}}`` (developers.google.com/gmail/api/
    reference/rest/v1/users.settings.filters, and the gmail v1 discovery document).
    """
    out = []
    for f in body.get("filter") or []:
        action = f.get("action") or {}
        forward = str(action.get("forward") or "").strip().lower()
        if not forward:
            continue
        criteria = tuple((str(k), str(v).lower() if isinstance(v, bool) else str(v))
                         for k, v in sorted((f.get("criteria") or {}).items()) if v not in (None, ""))
        out.append(MailFilter(str(f.get("id", "")), forward, criteria, tuple(action.get("addLabelIds") or ()),
                              tuple(action.get("removeLabelIds") or ())))
    return tuple(out)
