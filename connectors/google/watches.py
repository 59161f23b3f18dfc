"""The Google calls that open, renew and stop push channels and Pub/Sub watches.

Why a module of its own: watches are the only writes the audit side makes to Google, and
each API spells them differently (Directory/Reports/Drive channels with their own
``channels.stop`` paths, Forms watches renewed in place, Gmail ``users.watch`` repeated).
Everything goes through ``GoogleClient.execute`` so retries and error classification match
every other call. Implements :class:`integration.watches.WatchApi`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.google.scopes import SCOPES
from connectors.google.transport import GoogleClient
from integration.watches import Opened


def _ms_to_dt(value) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    except (TypeError, ValueError):
        return None


def _rfc3339(value) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


def _channel_body(channel_id: str, token: str, address: str, expires: datetime | None,
                  ttl_seconds: int | None = None) -> dict:
    body: dict = {"id": channel_id, "type": "web_hook", "address": address, "token": token}
    if expires is not None:
        body["expiration"] = str(int(expires.timestamp() * 1000))
    if ttl_seconds:
        body["params"] = {"ttl": str(ttl_seconds)}
    return body


def _opened(resp: dict, channel_id: str) -> Opened:
    return Opened(channel_id=resp.get("id") or channel_id, resource_id=resp.get("resourceId", ""),
                  expires_at=_ms_to_dt(resp.get("expiration")))


class GoogleWatches:
    """Watch calls for one school: Directory/Reports/Forms as the admin, Drive/Gmail as each user."""

    def __init__(self, client: GoogleClient, *, admin_subject: str, customer: str = "my_customer",
                 form_owner: str = ""):
        self.client = client
        self.admin = admin_subject
        self.customer = customer
        self.form_owner = form_owner or admin_subject

    @classmethod
    def from_context(cls, ctx) -> GoogleWatches:
        s = ctx.settings
        return cls(ctx.google, admin_subject=s.google.admin_subject, customer=s.google.customer,
                   form_owner=s.acknowledgement.form_owner)

    # ------------------------------------------------------------ web_hook channels

    def watch_directory_users(self, event: str, channel_id: str, token: str, address: str,
                              expires: datetime, ttl_seconds: int) -> Opened:
        """Directory ``users.watch`` for one event (one event per channel)."""
        req = self.client.service("directory").users().watch(
            customer=self.customer, event=event, projection="basic",
            body=_channel_body(channel_id, token, address, expires, ttl_seconds))
        return _opened(self.client.execute("directory", req, subject=self.admin, scopes=SCOPES["directory"]),
                       channel_id)

    def watch_reports(self, application: str, channel_id: str, token: str, address: str,
                      expires: datetime) -> Opened:
        """Reports ``activities.watch`` for every user of one application (drive, chat, meet, token)."""
        req = self.client.service("reports").activities().watch(
            userKey="all", applicationName=application,
            body=_channel_body(channel_id, token, address, expires))
        return _opened(self.client.execute("reports", req, subject=self.admin, scopes=SCOPES["reports"]),
                       channel_id)

    def watch_drive_changes(self, user: str, channel_id: str, token: str, address: str,
                            expires: datetime) -> Opened:
        """Drive ``changes.watch`` on the user's changes feed, from a fresh start page token (the audit
        keeps its own changes cursor; the watch only says "something changed")."""
        svc = self.client.service("drive")
        start = self.client.execute("drive", svc.changes().getStartPageToken(supportsAllDrives=True),
                                    subject=user, scopes=SCOPES["drive"])
        req = svc.changes().watch(pageToken=start.get("startPageToken", "1"), supportsAllDrives=True,
                                  includeItemsFromAllDrives=True,
                                  body=_channel_body(channel_id, token, address, expires))
        return _opened(self.client.execute("drive", req, subject=user, scopes=SCOPES["drive"]), channel_id)

    def stop_channel(self, api: str, channel_id: str, resource_id: str, subject: str = "") -> None:
        """``channels.stop`` on the API that opened the channel (each has its own path)."""
        body = {"id": channel_id, "resourceId": resource_id}
        if api == "drive":
            req = self.client.service("drive").channels().stop(body=body)
            self.client.execute("drive", req, subject=subject or self.admin, scopes=SCOPES["drive"])
        elif api == "directory":
            req = self.client.service("directory").channels().stop(body=body)
            self.client.execute("directory", req, subject=self.admin, scopes=SCOPES["directory"])
        elif api == "reports":
            req = self.client.service("reports").channels().stop(body=body)
            self.client.execute("reports", req, subject=self.admin, scopes=SCOPES["reports"])
        else:
            raise ValueError(f"no channels.stop for api {api!r}")

    # ------------------------------------------------------------ Pub/Sub watches

    def watch_form(self, form_id: str, topic: str, event_type: str = "RESPONSES") -> Opened:
        """Forms ``watches.create``: one watch per event type per form; expires after 7 days."""
        req = self.client.service("forms").forms().watches().create(
            formId=form_id, body={"watch": {"eventType": event_type, "target": {"topic": {"topicName": topic}}}})
        resp = self.client.execute("forms", req, subject=self.form_owner, scopes=SCOPES["forms"])
        return Opened(channel_id=resp.get("id", ""), resource_id=form_id, expires_at=_rfc3339(resp.get("expireTime")))

    def renew_form_watch(self, form_id: str, watch_id: str) -> Opened:
        req = self.client.service("forms").forms().watches().renew(formId=form_id, watchId=watch_id, body={})
        resp = self.client.execute("forms", req, subject=self.form_owner, scopes=SCOPES["forms"])
        return Opened(channel_id=resp.get("id", watch_id), resource_id=form_id,
                      expires_at=_rfc3339(resp.get("expireTime")))

    def delete_form_watch(self, form_id: str, watch_id: str) -> None:
        req = self.client.service("forms").forms().watches().delete(formId=form_id, watchId=watch_id)
        self.client.execute("forms", req, subject=self.form_owner, scopes=SCOPES["forms"])

    def watch_gmail(self, mailbox: str, topic: str) -> Opened:
        """Gmail ``users.watch`` (renewed by calling it again; Google suggests daily)."""
        req = self.client.service("gmail").users().watch(userId=mailbox, body={"topicName": topic})
        resp = self.client.execute("gmail", req, subject=mailbox, scopes=SCOPES["gmail_metadata"])
        return Opened(channel_id=f"gmail:{mailbox}", resource_id=str(resp.get("historyId", "")),
                      expires_at=_ms_to_dt(resp.get("expiration")))

    def stop_gmail(self, mailbox: str) -> None:
        req = self.client.service("gmail").users().stop(userId=mailbox)
        self.client.execute("gmail", req, subject=mailbox, scopes=SCOPES["gmail_metadata"])
