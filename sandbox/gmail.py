"""Gmail API: mailbox metadata (messages.list/get), forwarding settings, and messages.send.

Strict where Google is: a token holding only ``gmail.metadata`` may not search (``q``)
nor ask for ``format=full``/``raw`` (403), and a delegated subject may only read its own
mailbox. ``q`` is Gmail's search box (`sandbox.gmail_search`); ``labelIds`` filters by label. Messages come from the school's activity (`sandbox.activity`), so a mailbox and
the Reports gmail log describe the same mail. Sent mail (the alerts transport) is kept in
``domain.state("gmail_sent", list)`` for tests to read.
"""

from __future__ import annotations

import base64
from email.utils import format_datetime, formataddr
from typing import Any

from sandbox.activity import Activity, Mail, activity, h
from sandbox.api import ApiRequest, Registry
from sandbox.errors import ApiError, bad_request, not_found
from sandbox.gmail_search import matcher
from sandbox.model import Domain
from sandbox.paging import paginate

SCOPE = "https://www.googleapis.com/auth/"
FULL_READ = {SCOPE + "gmail.readonly", SCOPE + "gmail.modify", "https://mail.google.com/"}
# System labels as Gmail sets them (developers.google.com/workspace/gmail/api/guides/labels): a draft carries
# DRAFT and is listed by messages.list like any message.
LABELS = {"sent": ["SENT"], "received": ["INBOX"], "draft": ["DRAFT"]}


def register(api: Registry, domain: Domain) -> None:
    @api.method("gmail.users.messages.list")
    def messages_list(req: ApiRequest) -> dict[str, Any]:
        me = _mailbox(req)
        if req.arg("q") is not None and not (req.scopes & FULL_READ):
            raise ApiError(403, "Metadata scope does not support 'q' parameter", "forbidden")
        act = activity(req.domain)
        mail = act.mailbox(me)
        if req.arg("q"):
            keep = matcher(req.arg("q") or "")
            mail = [m for m in mail if keep(m)]
        if labels := req.args("labelIds"):  # every listed label must be on the message
            mail = [m for m in mail if set(labels) <= set(LABELS[m.direction])]
        page, token = paginate(req, mail)
        body: dict[str, Any] = {"messages": [{"id": m.id, "threadId": m.thread or m.id} for m in page],
                                "resultSizeEstimate": len(page)}
        if token:
            body["nextPageToken"] = token
        return body

    @api.method("gmail.users.messages.get")
    def messages_get(req: ApiRequest) -> dict[str, Any]:
        me = _mailbox(req)
        fmt = req.arg("format", "full")
        if fmt in ("full", "raw") and not (req.scopes & FULL_READ):
            raise ApiError(403, f"Metadata scope doesn't allow format {fmt.upper()}", "forbidden")
        m = activity(req.domain).find_mail(me, req.params["id"])
        if m is None:
            raise not_found("Requested entity was not found.")
        return message_json(activity(req.domain), m, fmt, req.args("metadataHeaders"))

    @api.method("gmail.users.settings.getAutoForwarding")
    def auto_forwarding(req: ApiRequest) -> dict[str, Any]:
        fwd = activity(req.domain).forwarding.get(_mailbox(req))
        if fwd is None or not fwd.enabled:
            return {"enabled": False}
        return {"enabled": True, "emailAddress": fwd.address, "disposition": "leaveInInbox"}

    @api.method("gmail.users.settings.forwardingAddresses.list")
    def forwarding_addresses(req: ApiRequest) -> dict[str, Any]:
        fwd = activity(req.domain).forwarding.get(_mailbox(req))
        if fwd is None or not fwd.addresses:
            return {}
        return {"forwardingAddresses": [{"forwardingEmail": a, "verificationStatus": s} for a, s in fwd.addresses]}

    @api.method("gmail.users.messages.send")
    def messages_send(req: ApiRequest) -> dict[str, Any]:
        me = _mailbox(req)
        raw = (req.body or {}).get("raw") if isinstance(req.body, dict) else None
        if not raw:
            raise bad_request("Recipient address required", "invalidArgument")
        try:
            data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        except ValueError:
            raise bad_request("Invalid value for ByteString", "invalidArgument") from None
        sent = req.domain.state("gmail_sent", list)
        mid = h("sent", me, len(sent), raw[:64])[:16]
        with req.domain.lock:
            sent.append({"id": mid, "from": me, "raw": data})
        return {"id": mid, "threadId": mid, "labelIds": ["SENT"]}


def _mailbox(req: ApiRequest) -> str:
    """The mailbox a delegated subject may read: its own."""
    user = req.user(req.params["userId"])
    if user.primary_email != req.subject_email.lower():
        raise ApiError(403, f"Delegation denied for {req.subject_email}", "forbidden")
    return user.primary_email


def message_json(act: Activity, m: Mail, fmt: str, wanted: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": m.id, "threadId": m.thread or m.id, "labelIds": LABELS[m.direction],
                           "internalDate": str(int(m.time.timestamp() * 1000)), "historyId": str(int(m.id[:8], 16)),
                           "sizeEstimate": 2048 + len(m.subject)}
    if fmt == "minimal":
        return out
    names = dict(m.names)

    def addr(a: str) -> str:
        return formataddr((names[a], a)) if names.get(a) else a

    headers = [("From", addr(m.sender)), ("To", ", ".join(addr(a) for a in m.to)),
               ("Date", format_datetime(m.time)), ("Message-ID", m.message_id), ("Subject", m.subject)]
    if m.cc:
        headers.append(("Cc", ", ".join(addr(a) for a in m.cc)))
    if m.in_reply_to:  # a reply (RFC 5322 §3.6.4): its own Message-ID, the parent's in In-Reply-To
        headers += [("In-Reply-To", m.in_reply_to), ("References", " ".join(m.references or (m.in_reply_to,)))]
    if fmt == "metadata" and wanted:
        low = {w.lower() for w in wanted}
        headers = [x for x in headers if x[0].lower() in low]
    out["payload"] = {"mimeType": "multipart/alternative", "headers": [{"name": k, "value": v} for k, v in headers]}
    return out
