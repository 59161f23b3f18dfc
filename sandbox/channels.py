"""Google web-hook channels in the sandbox: opening (with Google's lifetimes) and stopping them.

Shared by every API that offers `watch` (Directory users, Reports activities, Drive changes and
files); `sandbox.push` delivers their notifications.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from sandbox.api import ApiRequest
from sandbox.errors import ApiError, bad_request, not_found
from sandbox.model import Domain

# (default, max) channel lifetime in seconds. Directory: discovery text. Drive: push guide (files 1 day,
# changes 1 week, default 1 h). Reports: not documented (google-apis.md §2) - 6 h both, read back `expiration`.
TTL: dict[str, tuple[int, int]] = {"directory": (2 * 3600, 2 * 86400), "drive.files": (3600, 86400), "drive.changes": (3600, 7 * 86400),
       "reports": (6 * 3600, 6 * 3600)}


def now_ms() -> int:
    return int(time.time() * 1000)


def open_channel(req: ApiRequest, domain: Domain, lifetime: str, resource_uri: str,
                  record: dict[str, Any]) -> dict[str, Any]:
    """Store a web_hook channel like Google (``params.ttl`` honoured, capped) and send its sync."""
    channel = req.body if isinstance(req.body, dict) else {}
    if not channel.get("id") or channel.get("type") not in ("web_hook", "webhook") or not channel.get("address"):
        raise bad_request("Invalid channel: id, type=web_hook and address are required")
    default_s, max_s = TTL[lifetime]
    now = now_ms()
    ttl = int((channel.get("params") or {}).get("ttl", default_s))
    expiration = min(int(channel.get("expiration") or now + ttl * 1000), now + max_s * 1000)
    answer = {"kind": "api#channel", "id": channel["id"], "resourceId": secrets.token_urlsafe(20),
              "resourceUri": resource_uri, "expiration": str(expiration)}
    if channel.get("token"):
        answer["token"] = channel["token"]
    with domain.lock:
        if channel["id"] in domain.channels:
            raise ApiError(400, f"Channel id {channel['id']} not unique", "channelIdNotUnique")
        domain.channels[channel["id"]] = {**answer, **record, "address": channel["address"],
                                          "payload": bool(channel.get("payload")), "message_number": 0}
    domain.notify("channel.created", channel_id=channel["id"])
    return answer


def stop_channel(req: ApiRequest, domain: Domain) -> tuple[int, None]:
    body = req.body if isinstance(req.body, dict) else {}
    with domain.lock:
        channel = domain.channels.get(str(body.get("id", "")))
        if channel is None or channel.get("resourceId") != body.get("resourceId"):
            raise not_found("Channel")
        del domain.channels[str(body["id"])]
    return 204, None
