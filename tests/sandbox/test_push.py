"""The sandbox pushes like Google: web-hook channels (sync, then numbered notifications with the
X-Goog-* headers, until expiry or channels.stop) and Pub/Sub push with an RS256 ID token that
google-auth verifies against the sandbox's certs URL; failed deliveries are retried."""

from __future__ import annotations

import base64
import json
import threading
import time
import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import google.auth.exceptions
import google.auth.transport.requests
import pytest
import requests
from google.oauth2 import id_token

from sandbox.config_writer import write_config
from sandbox.forms import seed_form, submit_response
from sandbox.model import SCOPE
from sandbox.server import SandboxServer

TOPIC = "projects/safechannels-test/topics/push"


class Receiver:
    """A tiny HTTP server that records every POST and answers the statuses it is told to."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []  # answered in order, then 204
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                    status = receiver.statuses.pop(0) if receiver.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def at(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"] == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def call(server: SandboxServer, method: str, path: str, subject: str, scopes: list[str], **kw: Any) -> Any:
    token = server.access_token(subject, [SCOPE + s for s in scopes])
    r = requests.request(method, server.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kw)
    assert r.status_code < 300, r.text
    return r.json() if r.content else None


def watch_users(directory: Any, address: str, event: str, **channel: Any) -> dict[str, Any]:
    body = {"id": f"chan-{event}-{time.monotonic_ns()}", "type": "web_hook", "address": address, **channel}
    return directory.users().watch(customer="my_customer", event=event, body=body).execute()


def verify(server: SandboxServer, token: str, audience: str) -> dict[str, Any]:
    return id_token.verify_token(token, google.auth.transport.requests.Request(), audience=audience,
                                 certs_url=server.url + "/oauth2/v1/certs")


def test_users_watch_sends_sync_then_numbered_notifications(server, directory, receiver):
    answer = watch_users(directory, receiver.url + "/webhooks/directory", "update", token="tok-123")
    assert server.flush_push(5)
    (sync,) = receiver.at("/webhooks/directory")
    h = sync["headers"]
    assert h["X-Goog-Channel-ID"] == answer["id"] and h["X-Goog-Channel-Token"] == "tok-123"
    assert h["X-Goog-Resource-State"] == "sync" and h["X-Goog-Message-Number"] == "1"
    assert h["X-Goog-Resource-ID"] == answer["resourceId"] and h["X-Goog-Resource-URI"] == answer["resourceUri"]
    expires = parsedate_to_datetime(h["X-Goog-Channel-Expiration"])
    assert abs(expires.timestamp() * 1000 - int(answer["expiration"])) < 1000  # RFC 1123, whole seconds
    assert sync["body"] == b""

    pupil = next(u for u in server.domain.live_users() if u.role_truth == "pupil")
    server.domain.add_user("new.starter@" + server.domain.domain, "New", "Starter")  # an 'add': not this channel
    server.domain.rename_user(pupil.primary_email, "Renamed", "Pupil")
    server.domain.suspend_user(pupil.primary_email)
    assert server.flush_push(5)
    notes = receiver.at("/webhooks/directory")[1:]
    assert [n["headers"]["X-Goog-Resource-State"] for n in notes] == ["update", "update"]
    numbers = [int(n["headers"]["X-Goog-Message-Number"]) for n in notes]
    assert 1 < numbers[0] < numbers[1]
    assert json.loads(notes[0]["body"])["primaryEmail"] == pupil.primary_email
    assert all(r.status == 204 for r in server.push_log)


def test_channels_stop_and_expiry_end_delivery(server, directory, receiver):
    stopped = watch_users(directory, receiver.url + "/stopped", "update")
    short = watch_users(directory, receiver.url + "/short", "update", params={"ttl": "1"})
    capped = watch_users(directory, receiver.url + "/capped", "update", params={"ttl": str(30 * 86400)})
    assert int(short["expiration"]) - time.time() * 1000 <= 1100
    assert int(capped["expiration"]) - time.time() * 1000 <= 2 * 86400 * 1000  # Directory's max TTL
    assert server.flush_push(5)
    directory.channels().stop(body={"id": stopped["id"], "resourceId": stopped["resourceId"]}).execute()
    time.sleep(max(0.0, int(short["expiration"]) / 1000 - time.time()) + 0.05)

    server.domain.move_user(next(iter(server.domain.live_users())).primary_email, "/Staff/Moved")
    assert server.flush_push(5)
    assert [r["headers"]["X-Goog-Resource-State"] for r in receiver.at("/stopped")] == ["sync"]
    assert [r["headers"]["X-Goog-Resource-State"] for r in receiver.at("/short")] == ["sync"]
    assert [r["headers"]["X-Goog-Resource-State"] for r in receiver.at("/capped")] == ["sync", "update"]
    assert short["id"] not in server.domain.channels  # Google forgets an expired channel


def test_form_response_pubsub_push_carries_a_verifiable_id_token(server, receiver):
    owner = server.domain.admin_email
    form_id = seed_form(server.domain, owner)
    watch = call(server, "POST", f"/v1/forms/{form_id}/watches", owner, ["forms.responses.readonly"],
                 json={"watch": {"eventType": "RESPONSES", "target": {"topic": {"topicName": TOPIC}}}})
    endpoint = receiver.url + "/webhooks/pubsub"
    subscription = server.add_push_subscription(TOPIC, endpoint)

    submit_response(server.domain, form_id, "pupil@" + server.domain.domain, datetime.now(UTC))
    assert server.flush_push(5)
    (push,) = receiver.at("/webhooks/pubsub")
    envelope = json.loads(push["body"])
    message = envelope["message"]
    assert envelope["subscription"] == subscription
    assert message["attributes"] == {"eventType": "RESPONSES", "formId": form_id, "watchId": watch["id"]}
    assert message["messageId"] and message["publishTime"].endswith("Z") and base64.b64decode(message["data"]) == b""

    scheme, token = push["headers"]["Authorization"].split(" ", 1)
    assert scheme == "Bearer"
    claims = verify(server, token, endpoint)
    assert claims["iss"] == "https://accounts.google.com" and claims["aud"] == endpoint
    assert claims["email"] == server.push_service_account and claims["email_verified"] is True
    assert claims["exp"] - claims["iat"] == 3600 and claims["sub"]
    with pytest.raises(ValueError):
        verify(server, token, "https://somewhere-else.example/webhooks/pubsub")
    expired = server.sign_id_token(endpoint, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    with pytest.raises((ValueError, google.auth.exceptions.GoogleAuthError)):
        verify(server, expired, endpoint)
    assert verify(server, server.sign_id_token(endpoint, email="evil@example.com"), endpoint)["email"] == \
        "evil@example.com"  # forgeable claims: the receiver must check email itself


def test_failed_deliveries_are_retried_with_the_same_message(server, receiver):
    owner = server.domain.admin_email
    call(server, "POST", "/gmail/v1/users/me/watch", owner, ["gmail.metadata"], json={"topicName": TOPIC})
    server.add_push_subscription(TOPIC, receiver.url + "/gmail", audience="https://safechannels.test/pubsub")
    receiver.statuses = [500, 503]
    server.push.gmail_event(owner)
    assert server.flush_push(5)
    pushes = receiver.at("/gmail")
    assert len(pushes) == 3
    assert len({json.loads(p["body"])["message"]["messageId"] for p in pushes}) == 1
    assert [r.status for r in server.push_log] == [500, 503, 204]
    data = json.loads(base64.b64decode(json.loads(pushes[0]["body"])["message"]["data"]))
    assert data["emailAddress"] == owner and int(data["historyId"]) > 0
    token = pushes[-1]["headers"]["Authorization"].split(" ", 1)[1]
    assert verify(server, token, "https://safechannels.test/pubsub")["aud"] == "https://safechannels.test/pubsub"


def test_channel_retries_on_5xx_but_not_4xx(server, directory, receiver):
    receiver.statuses = [503, 204, 403]
    watch_users(directory, receiver.url + "/hook", "delete")
    assert server.flush_push(5)
    server.domain.remove_user(next(u for u in server.domain.live_users() if u.role_truth == "staff").primary_email)
    assert server.flush_push(5)
    assert [(r.headers["X-Goog-Resource-State"], r.status) for r in server.push_log] == [
        ("sync", 503), ("sync", 204), ("delete", 403)]


def test_classroom_roster_change_and_drive_change_push(server, receiver):
    admin = server.domain.admin_email
    call(server, "POST", "/v1/registrations", admin, ["classroom.push-notifications"],
         json={"feed": {"feedType": "DOMAIN_ROSTER_CHANGES"}, "cloudPubsubTopic": {"topicName": TOPIC}})
    server.add_push_subscription(TOPIC, receiver.url + "/classroom")
    course = server.domain.courses[0]
    pupil = next(u for u in server.domain.live_users() if u.role_truth == "pupil" and u.id not in course.student_ids)
    server.domain.enrol(course.id, pupil.primary_email)

    channel = call(server, "POST", "/drive/v3/changes/watch?pageToken=1", pupil.primary_email,
                   ["drive.metadata.readonly"], json={"id": "drive-chan", "type": "web_hook",
                                                      "address": receiver.url + "/drive", "token": "t"})
    call(server, "POST", "/admin/reports/v1/activity/users/all/applications/drive/watch", admin,
         ["admin.reports.audit.readonly"], json={"id": "reports-chan", "type": "web_hook",
                                                 "address": receiver.url + "/reports"})
    server.domain.notify("drive.change", user=pupil.primary_email, file_id="f1")
    activity = {"kind": "admin#reports#activity", "events": [{"type": "acl_change", "name": "change_user_access"}]}
    server.domain.notify("reports.activity", application="drive", activity=activity)
    server.domain.notify("reports.activity", application="chat", activity=activity)  # another app's channel
    assert server.flush_push(5)

    (push,) = receiver.at("/classroom")
    data = json.loads(base64.b64decode(json.loads(push["body"])["message"]["data"]))
    assert data == {"collection": "courses.students", "eventType": "CREATED",
                    "resourceId": {"courseId": course.id, "userId": pupil.id}}
    states = [(r["headers"]["X-Goog-Resource-State"], r["body"]) for r in receiver.at("/drive")]
    assert states == [("sync", b""), ("change", b"")]
    reports = receiver.at("/reports")
    assert [r["headers"]["X-Goog-Resource-State"] for r in reports] == ["sync", "change_user_access"]
    assert json.loads(reports[1]["body"]) == activity
    assert int(channel["expiration"]) - time.time() * 1000 <= 3600 * 1000 + 1000  # Drive's default 1 h


def test_certs_and_config_point_the_receiver_at_the_sandbox(server, tmp_path):
    certs = requests.get(server.certs_url, timeout=10).json()
    assert all(v.startswith("-----BEGIN CERTIFICATE-----") for v in certs.values()) and len(certs) == 1
    config = tomllib.loads(write_config(server.domain, server.url, tmp_path).read_text())
    assert config["webhooks"] == {"pubsub_audience": "", "pubsub_service_account": server.push_service_account,
                                  "google_certs_url": server.certs_url}
