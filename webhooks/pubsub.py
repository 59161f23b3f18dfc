"""Pub/Sub push: Forms watches, Gmail watch and Classroom registrations, on one endpoint.

The bearer token is verified before the body is parsed: Google's signature (cached certs),
expiry, issuer, audience (``[webhooks] pubsub_audience``, default this endpoint's public
URL; with neither configured every push is refused) and the push subscription's service
account (``email`` + ``email_verified``).
The message id is inserted under a unique key: a redelivery is acknowledged (2xx) but
requests nothing. Acknowledging matters: Pub/Sub treats any non-2xx as a nack and would
redeliver the duplicate until retention ends, slowing the whole subscription.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging

from flask import Response, request
from sqlalchemy.exc import IntegrityError

from integration.jobs import request_job
from integration.logs import event
from integration.store.models_web import PubSubMessage
from integration.watches import form_ids, job_for
from integration.web import services
from webhooks import accepted, bp, log, read_body, refuse
from webhooks.oidc import email_verified


def audience() -> str:
    """The configured audience, or "" when none is: never the request's own URL, which the caller
    chooses through the Host header (a token minted for any other endpoint would then pass)."""
    hooks = services().settings.webhooks
    if hooks.pubsub_audience:
        return hooks.pubsub_audience
    if hooks.public_url:
        return hooks.public_url.rstrip("/") + request.path
    return ""


@bp.post("/pubsub")
def pubsub() -> Response:
    svc = services()
    body = read_body()
    if body is None:
        return refuse(413, "body too large")
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer "):
        return refuse(401, "no bearer token")
    expected = svc.settings.webhooks.pubsub_service_account.strip().lower()
    aud = audience()
    if not aud:
        return refuse(403, "no audience configured: set [webhooks] pubsub_audience or public_url")
    try:
        claims = svc.id_tokens.verify(auth[len("Bearer "):].strip(), aud)
    except svc.invalid_token:
        return refuse(401, "token not valid")
    if not expected or str(claims.get("email", "")).lower() != expected or not email_verified(claims):
        return refuse(403, "token from another account")
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return refuse(400, "malformed JSON")
    message = doc.get("message") if isinstance(doc, dict) else None
    if not isinstance(message, dict):
        return refuse(400, "no message")
    message_id = message.get("messageId") or message.get("message_id")
    if not isinstance(message_id, str) or not message_id or len(message_id) > 255:
        return refuse(400, "no message id")
    kind, detail = classify(message)
    subscription = str(doc.get("subscription", ""))[:255]
    with svc.store.session() as s:
        try:
            with s.begin_nested():
                s.add(PubSubMessage(message_id=message_id, subscription=subscription, kind=kind))
                s.flush()
        except IntegrityError:
            event(log, "webhook.duplicate", logging.INFO, message_id=message_id, kind=kind)
            return accepted()
        if kind == "forms" and detail not in form_ids(s, svc.settings):
            kind = "unknown"
        if kind == "unknown":
            event(log, "webhook.ignored", logging.INFO, message_id=message_id)
            return accepted()
        request_job(s, job_for(kind), f"push {kind}", debounce_key=f"push:{kind}")
    return accepted()


def classify(message: dict) -> tuple[str, str]:
    """(gmail|forms|classroom|unknown, detail) from the message's attributes and data."""
    attrs = message.get("attributes") if isinstance(message.get("attributes"), dict) else {}
    if attrs.get("formId") and attrs.get("eventType"):
        return "forms", str(attrs["formId"])
    data: dict = {}
    raw = message.get("data")
    if isinstance(raw, str) and raw:
        try:
            decoded = json.loads(base64.b64decode(raw, validate=True))
            data = decoded if isinstance(decoded, dict) else {}
        except (binascii.Error, ValueError, UnicodeDecodeError):
            data = {}
    if data.get("emailAddress") and data.get("historyId") is not None:
        return "gmail", str(data["emailAddress"])
    if data.get("collection") or data.get("resourceId"):
        return "classroom", str(data.get("collection", ""))
    return "unknown", ""
