"""Receivers for Google push: web_hook channels (Drive, Directory, Reports) and Pub/Sub push
(Forms watches, Gmail watch, Classroom registrations).

Verify, de-duplicate, request a debounced incremental job, answer fast — nothing else: no
Google call and no business logic on the request path. Every refusal is an empty 4xx body,
so a caller learns nothing about which check failed (the reason is logged).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from integration.logs import event

MAX_BODY = 64 * 1024

log = logging.getLogger("safechannels.webhooks")
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def refuse(status: int, reason: str, **fields) -> Response:
    """An empty error response; the reason goes to the log only."""
    event(log, "webhook.refused", logging.INFO, status=status, reason=reason, path=request.path, **fields)
    resp = Response(status=status)
    if status == 401:
        resp.headers["WWW-Authenticate"] = "Bearer"
    return resp


def accepted() -> Response:
    return Response(status=204)


def read_body() -> bytes | None:
    """The request body, or None when it is larger than MAX_BODY (declared or actual)."""
    if (request.content_length or 0) > MAX_BODY:
        return None
    data = request.stream.read(MAX_BODY + 1)
    return None if len(data) > MAX_BODY else data


from webhooks import channels, pubsub  # noqa: E402,F401  (registers the routes)
