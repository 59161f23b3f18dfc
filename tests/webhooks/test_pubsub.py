"""Pub/Sub push (Gmail watch, Forms watches, Classroom registrations): a push signed by Google for our
subscription's service account and audience asks for the incremental job once per message id; a
token that fails any check is refused with an empty 401/403 before the body is read."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import func, select, update
from web_env import PUBLIC_URL, LiveServer, SigningKey, claims, job_requests

from integration.store.models_alerts import JobRequest
from integration.store.models_web import PubSubMessage

PATH = "/webhooks/pubsub"


def envelope(kind: str = "gmail", message_id: str | None = None, **attrs) -> dict:
    if kind == "gmail":
        data, attributes = {"emailAddress": "j.smith@northfield.sch.uk", "historyId": "99123"}, {}
    elif kind == "forms":
        data, attributes = None, {"formId": "form-ack-2025", "eventType": "RESPONSES", "watchId": "wresp"}
    else:
        data, attributes = {"collection": "courses.students", "eventType": "CREATED",
                            "resourceId": {"courseId": "123", "userId": "456"}}, {}
    attributes.update(attrs)
    msg = {"attributes": attributes, "messageId": message_id or uuid.uuid4().hex[:16],
           "publishTime": datetime.now(UTC).isoformat()}
    if data is not None:
        msg["data"] = base64.b64encode(json.dumps(data).encode()).decode()
    return {"message": msg, "subscription": "projects/northfield-safechannels/subscriptions/safechannels-push"}


def push(client, google, body, token: str | None = None, **claim_overrides):
    token = token if token is not None else google.key.sign(claims(**claim_overrides))
    return client.post(PATH, data=json.dumps(body) if not isinstance(body, bytes) else body,
                       headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})


@pytest.mark.parametrize("kind,job", [("gmail", "audit"), ("forms", "acknowledgement"),
                                      ("classroom", "roster_sync")])
def test_a_signed_push_requests_the_incremental_job(client, google, store, kind, job):
    r = push(client, google, envelope(kind))
    assert r.status_code == 204 and r.data == b""
    assert job_requests(store) == [(job, f"push {kind}")]


def test_jwks_certs_are_accepted_too(client, google, store):
    google.jwks = True
    assert push(client, google, envelope()).status_code == 204
    assert job_requests(store) == [("audit", "push gmail")]


def test_a_redelivered_message_id_is_acknowledged_but_requests_nothing(client, google, store):
    body = envelope(message_id="1234567890")
    assert push(client, google, body).status_code == 204
    with store.session() as s:  # the worker picked the first request up
        s.execute(update(JobRequest).values(picked_at=datetime.now(UTC)))
    again = push(client, google, body)
    assert again.status_code == 204  # a non-2xx would make Pub/Sub redeliver it until retention ends
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(JobRequest)) == 1
        assert s.scalar(select(func.count()).select_from(PubSubMessage)) == 1


def test_snake_case_message_id_is_understood(client, google, store):
    body = envelope()
    body["message"]["message_id"] = body["message"].pop("messageId")
    assert push(client, google, body).status_code == 204


@pytest.mark.parametrize("overrides,status", [
    ({"aud": "https://attacker.example/webhooks/pubsub"}, 401),
    ({"iss": "https://evil.example.com"}, 401),
    ({"exp": int(time.time()) - 600, "iat": int(time.time()) - 4200}, 401),
    ({"email": "someone-else@other-project.iam.gserviceaccount.com"}, 403),
    ({"email_verified": False}, 403),
    ({"email": None}, 403),
], ids=["wrong audience", "wrong issuer", "expired", "wrong service account", "email not verified", "no email"])
def test_tokens_failing_a_check_are_refused_without_detail(client, google, store, overrides, status):
    r = push(client, google, envelope(), **overrides)
    assert r.status_code == status and r.data == b""
    assert job_requests(store) == []


def test_a_token_signed_by_another_key_is_refused(client, google, store):
    forger = SigningKey()
    forger.kid = google.key.kid  # claims the real key id
    r = push(client, google, envelope(), token=forger.sign(claims()))
    assert r.status_code == 401 and job_requests(store) == []


@pytest.mark.parametrize("auth", ["", "Basic dXNlcjpwYXNz", "Bearer not-a-jwt", "Bearer a.b.c"])
def test_missing_or_garbage_authorisation_is_refused(client, store, auth):
    r = client.post(PATH, data=json.dumps(envelope()), headers={"Authorization": auth} if auth else {})
    assert r.status_code == 401 and r.data == b""
    assert job_requests(store) == []


def test_an_unsigned_token_is_refused(client, store):
    import jwt

    token = jwt.encode(claims(), key=None, algorithm="none")
    r = client.post(PATH, data=json.dumps(envelope()), headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


@pytest.mark.parametrize("body", [b"{not json", b"[]", json.dumps({"message": "x"}).encode(),
                                  json.dumps({"message": {"data": "e30="}}).encode()],
                         ids=["malformed", "not an object", "message not an object", "no message id"])
def test_malformed_bodies_are_bad_requests(client, google, store, body):
    r = push(client, google, body)
    assert r.status_code == 400 and r.data == b""
    assert job_requests(store) == []


def test_an_oversized_body_is_refused(client, google, store):
    body = envelope()
    body["message"]["attributes"]["padding"] = "x" * (64 * 1024)
    r = push(client, google, body)
    assert r.status_code == 413 and r.data == b""


def test_a_push_for_a_form_we_do_not_watch_requests_nothing(client, google, store):
    assert push(client, google, envelope("forms", formId="someone-elses-form")).status_code == 204
    assert job_requests(store) == []


def test_the_audience_defaults_to_the_public_endpoint_url(client, google, store):
    assert push(client, google, envelope(), aud=PUBLIC_URL + PATH).status_code == 204
    assert push(client, google, envelope(), aud=PUBLIC_URL + "/webhooks/drive").status_code == 401


def test_certs_are_fetched_once_not_per_push(client, google):
    for _ in range(5):
        assert push(client, google, envelope()).status_code == 204
    assert google.cert_fetches == 1


def test_pushes_over_real_http(app, google, store):
    with LiveServer(app) as live:
        token = google.key.sign(claims())
        r = requests.post(live.url + PATH, json=envelope("forms"), timeout=10,
                          headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 204
        bad = requests.post(live.url + PATH, json=envelope(), timeout=10,
                            headers={"Authorization": f"Bearer {google.key.sign(claims(aud='x'))}"})
        assert bad.status_code == 401 and bad.content == b""
    assert job_requests(store) == [("acknowledgement", "push forms")]


def test_a_key_rotation_at_google_is_picked_up_without_a_restart(client, google, store, monkeypatch):
    assert push(client, google, envelope()).status_code == 204
    google.key = SigningKey()  # Google publishes a new key; our cached copy lacks it
    monkeypatch.setattr("webhooks.oidc.REFETCH_AFTER", 0.0)
    assert push(client, google, envelope()).status_code == 204
    assert google.cert_fetches == 2


def test_garbage_tokens_do_not_refetch_certs_more_than_once_a_minute(client, google):
    assert push(client, google, envelope()).status_code == 204
    for _ in range(5):
        assert push(client, google, envelope(), aud="https://elsewhere.example").status_code == 401
    assert google.cert_fetches == 1


@pytest.mark.parametrize("host", ["localhost", "attacker.example"])
def test_push_is_refused_until_an_audience_is_configured(ctx, client, google, store, host):
    """Issue 11 defect 9: with neither pubsub_audience nor public_url the audience used to be taken from
    the Host header, so a token minted for the caller's own URL passed."""
    from integration.watches import push_status

    ctx.settings.webhooks.public_url = ""
    own_url = f"http://{host}{PATH}"
    r = client.post(PATH, data=json.dumps(envelope()), base_url=f"http://{host}",
                    headers={"Authorization": f"Bearer {google.key.sign(claims(aud=own_url))}",
                             "Content-Type": "application/json"})
    assert r.status_code == 403 and r.data == b"" and job_requests(store) == []
    status = {source: (mode, detail) for source, mode, detail in push_status(ctx)}
    assert status["gmail"][0] == "polled" and "pubsub_audience or public_url" in status["gmail"][1]
    ctx.settings.webhooks.pubsub_audience = own_url  # configured: the same push is accepted
    assert push(client, google, envelope(), aud=own_url).status_code == 204
