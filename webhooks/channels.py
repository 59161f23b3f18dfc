"""web_hook push channels: Drive changes, Directory users, Reports activities.

Checks, in order: body size; the channel exists, is ours, is live and belongs to this route;
``X-Goog-Channel-Token`` equals the stored token (constant time) and the resource id matches;
``X-Goog-Message-Number`` is higher than any seen on the channel (an atomic conditional
UPDATE, so two workers cannot both accept the same number). The first message of a channel
is ``sync``: recorded, no job. Anything else requests the source's incremental job.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta

from flask import Response, request
from sqlalchemy import select, update

from integration.jobs import request_job
from integration.store.models_web import WatchChannel
from integration.watches import SOURCES, job_for
from integration.web import services
from webhooks import accepted, bp, read_body, refuse

ROUTES = {"drive": ("drive.changes",), "directory": ("directory.users",),
          "reports": tuple(name for name in SOURCES if name.startswith("reports."))}
GRACE = timedelta(minutes=5)
_DUMMY = "x" * 43  # compared against when the channel is unknown, so timing does not tell


@bp.post("/drive")
def drive() -> Response:
    return _notification("drive")


@bp.post("/directory")
def directory() -> Response:
    return _notification("directory")


@bp.post("/reports")
def reports() -> Response:
    return _notification("reports")


def _notification(route: str) -> Response:
    if read_body() is None:
        return refuse(413, "body too large")
    h = request.headers
    channel_id = h.get("X-Goog-Channel-ID", "")
    token = h.get("X-Goog-Channel-Token", "")
    state = h.get("X-Goog-Resource-State", "")
    number_raw = h.get("X-Goog-Message-Number", "")
    if not channel_id or len(channel_id) > 128 or not state or len(state) > 64 \
            or not number_raw.isdigit() or len(number_raw) > 18:
        return refuse(400, "missing or malformed channel headers")
    number = int(number_raw)
    now = datetime.now(UTC)
    store = services().store
    with store.session() as s:
        row = s.scalar(select(WatchChannel).where(WatchChannel.channel_id == channel_id))
        stored = (row.token or "") if row is not None else _DUMMY
        token_ok = hmac.compare_digest(stored.encode(), token.encode())
        if row is None or not token_ok or row.kind != "channel" or row.status != "active" \
                or row.source not in ROUTES[route]:
            return refuse(403, "unknown channel or bad token", channel=channel_id[:40])
        if row.expires_at is not None and row.expires_at + GRACE < now:
            return refuse(403, "expired channel", channel=channel_id)
        resource = h.get("X-Goog-Resource-ID", "")
        if row.resource_id and not hmac.compare_digest(row.resource_id.encode(), resource.encode()):
            return refuse(403, "resource id mismatch", channel=channel_id)
        moved = s.execute(update(WatchChannel)
                          .where(WatchChannel.id == row.id, WatchChannel.last_message_number < number)
                          .values(last_message_number=number, last_message_at=now,
                                  messages=WatchChannel.messages + 1))
        if moved.rowcount != 1:
            return refuse(409, "replayed message number", channel=channel_id, number=number)
        if state != "sync":
            request_job(s, job_for(row.source), f"push {row.source} {state}"[:255],
                        debounce_key=f"push:{row.source}")
    return accepted()
