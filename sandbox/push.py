"""Push notifications as Google sends them: web-hook channels and Pub/Sub push with OIDC tokens.

Why: the service's receiver (``webhooks/``) must be tested against what Google really
POSTs — the ``X-Goog-*`` headers, message numbers, expiry and ``channels.stop``, the
Pub/Sub push envelope and its RS256 ID token — not against hand-made requests.

Web-hook channels (Directory ``users.watch``, Reports ``activities.watch``, Drive
``changes.watch`` / ``files.watch``) live in ``Domain.channels``. On creation the sandbox
sends the ``sync`` message (number 1); afterwards each relevant change sends a
notification with a higher number, until the channel expires or is stopped.

Pub/Sub: Forms watches, Gmail ``users.watch`` and Classroom registrations name a topic;
`PushService.add_push_subscription` attaches an endpoint to a topic, and each event
published on it is POSTed as ``{"message": {...}, "subscription": ...}`` with
``Authorization: Bearer <ID token>`` signed by `sandbox.oidc` (certs at ``/oauth2/v1/certs``).

Events reach this module through ``Domain.notify(topic, **data)`` (the model's mutation
helpers call it). Topics:

- ``channel.created`` (channel_id) — send the sync message;
- ``directory.users`` (event: add|delete|update|makeAdmin|undelete, user);
- ``classroom.roster`` (event: CREATED|DELETED, course_id, user_id, role: student|teacher);
- ``drive.change`` (user, file_id, changed="permissions");
- ``reports.activity`` (application, event_name, activity: the Activity JSON or None);
- ``gmail.message`` (email).

Forms responses/schema changes and sent Gmail are noticed by scanning (the forms and
gmail modules need no hook): every idle poll of the delivery thread and on `flush`.

Delivery is one background thread with a bounded queue. A web-hook delivery is retried
on 5xx/429/connection errors (Google retries those, not other 4xx); a Pub/Sub push on
anything but an ack status (102/200/201/202/204), as Pub/Sub does. Each attempt is
logged (`PushRecord`).
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import queue
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

import requests
from flask import Response

from sandbox import discovery
from sandbox.api import ApiRequest, Handler, Registry
from sandbox.channels import now_ms, open_channel, stop_channel
from sandbox.errors import ApiError, bad_request
from sandbox.model import Domain
from sandbox.oidc import CERTS_PATH, IdTokenSigner, push_service_account

log = logging.getLogger("sandbox.push")

USER_AGENT = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"
PUBSUB_ACK = frozenset({102, 200, 201, 202, 204})
GMAIL_WATCH_MS = 7 * 86400 * 1000
_TOPIC = re.compile(r"^projects/[^/]+/topics/[^/]+$")


@dataclass
class PushRecord:
    """One delivery attempt as the receiver saw it (status 0 = connection error or dropped)."""

    url: str
    headers: dict[str, str]
    body: bytes
    status: int
    attempt: int = 1
    error: str = ""
    kind: str = "channel"  # channel | pubsub
    channel_id: str = ""
    subscription: str = ""
    time: float = 0.0

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class PushSubscription:
    """A Pub/Sub push subscription with OIDC auth (``pushConfig.oidcToken``)."""

    name: str
    topic: str
    endpoint: str
    audience: str
    service_account: str


@dataclass
class _Job:
    url: str
    headers: dict[str, str]
    body: bytes
    kind: str
    channel_id: str = ""
    resource_id: str = ""
    subscription: PushSubscription | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse_time(text: str) -> datetime:
    text = re.sub(r"\.(\d{6})\d+", r".\1", text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class PushService:
    """Queues, signs and delivers push notifications for one domain (one per sandbox app)."""

    def __init__(self, domain: Domain, *, max_queue: int = 1000, max_attempts: int = 4, backoff_s: float = 0.05,
                 timeout_s: float = 5.0, poll_interval_s: float = 0.05) -> None:
        self.domain = domain
        self.signer = IdTokenSigner()
        self.service_account = push_service_account(domain)
        self.max_attempts, self.backoff_s, self.timeout_s = max_attempts, backoff_s, timeout_s
        self.poll_interval_s = poll_interval_s
        self.subscriptions: dict[str, PushSubscription] = {}
        self._queue: queue.Queue[_Job] = queue.Queue(maxsize=max_queue)
        self._log: list[PushRecord] = []
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._scan_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._message_ids = itertools.count(16_000_000_000_000_000 + secrets.randbelow(10**12))
        self._history = itertools.count(100_000 + secrets.randbelow(10**6))
        self._seen_forms: dict[str, tuple[int, set[tuple[str, str]]]] = {}
        self._seen_sent = 0
        self._session = requests.Session()

    # ------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._baseline()
        self.domain.listeners.append(self.on_event)
        self._thread = threading.Thread(target=self._run, name="sandbox-push", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        if self.on_event in self.domain.listeners:
            self.domain.listeners.remove(self.on_event)
        self._stopping.set()
        self._thread.join(timeout=5)
        self._thread = None
        self._session.close()

    # ------------------------------------------------------------- observation

    @property
    def log(self) -> list[PushRecord]:
        with self._lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()

    def flush(self, timeout: float = 5.0) -> bool:
        """Notice scanned changes, then wait until every queued delivery (retries included) is done."""
        self.scan()
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    # ------------------------------------------------------------- Pub/Sub

    def add_push_subscription(self, topic: str, endpoint: str, audience: str | None = None,
                              service_account: str | None = None, name: str | None = None) -> str:
        """Attach a push endpoint to `topic`; returns the subscription's full name."""
        if not _TOPIC.match(topic):
            raise ValueError(f"topic must be projects/<project>/topics/<topic>, not {topic!r}")
        with self._lock:
            full = f"projects/sandbox/subscriptions/{name or f'push-{len(self.subscriptions) + 1}'}"
            self.subscriptions[full] = PushSubscription(full, topic, endpoint, audience or endpoint,
                                                        service_account or self.service_account)
        return full

    def remove_push_subscription(self, name: str) -> None:
        with self._lock:
            self.subscriptions.pop(name, None)

    def publish(self, topic: str, data: bytes = b"", attributes: dict[str, str] | None = None) -> list[str]:
        """Publish one message on `topic`: one push per subscription (none: dropped, as Pub/Sub does)."""
        with self._lock:
            subs = [s for s in self.subscriptions.values() if s.topic == topic]
        ids = []
        for sub in subs:
            message_id = str(next(self._message_ids))
            published = _rfc3339(datetime.now(UTC))
            message: dict[str, Any] = {"data": base64.b64encode(data).decode(), "messageId": message_id,
                                       "message_id": message_id, "publishTime": published,
                                       "publish_time": published}
            if attributes:
                message["attributes"] = dict(attributes)
            body = json.dumps({"message": message, "subscription": sub.name}).encode()
            self._enqueue(_Job(sub.endpoint, {"Content-Type": "application/json"}, body, "pubsub", subscription=sub))
            ids.append(message_id)
        return ids

    def sign_id_token(self, audience: str, email: str | None = None, expires_in: int = 3600,
                      **overrides: Any) -> str:
        return self.signer.sign(audience, email or self.service_account, expires_in=expires_in, **overrides)

    # ------------------------------------------------------------- events

    def on_event(self, topic: str, data: dict[str, Any]) -> None:
        """The domain listener: turn a change into channel notifications and Pub/Sub messages."""
        if topic == "channel.created":
            self._sync(str(data["channel_id"]))
        elif topic == "directory.users":
            self._directory(str(data["event"]), data["user"])
        elif topic == "classroom.roster":
            self._classroom(data)
        elif topic == "drive.change":
            self._drive(str(data["user"]).lower(), str(data.get("file_id") or ""),
                        str(data.get("changed") or "permissions"))
        elif topic == "reports.activity":
            self._reports(str(data["application"]), str(data.get("event_name") or ""), data.get("activity"))
        elif topic == "gmail.message":
            self.gmail_event(str(data["email"]))

    def _sync(self, channel_id: str) -> None:
        with self.domain.lock:
            ch = self.domain.channels.get(channel_id)
            if ch is not None and not ch.get("synced"):
                ch["synced"] = True
                self._notify_channel(ch, "sync", b"")

    def _directory(self, event: str, user: Any) -> None:
        from sandbox.directory import user_json  # here: directory imports nothing of push, but stays optional

        full = user_json(user, self.domain)  # Google's documented body: the user's kind, id, etag and address
        body = json.dumps({k: full[k] for k in ("kind", "id", "etag", "primaryEmail")}).encode()
        self._each_channel(lambda ch: ch.get("api") == "directory" and ch.get("event") in ("", event),
                           event, body, {"Content-Type": "application/json; charset=UTF-8"})

    def _drive(self, user: str, file_id: str, changed: str) -> None:
        self._each_channel(lambda ch: ch.get("api") == "drive" and ch.get("kind") == "changes"
                           and ch.get("user") == user, "change", b"")
        if file_id:
            self._each_channel(lambda ch: ch.get("api") == "drive" and ch.get("kind") == "files"
                               and ch.get("file_id") == file_id, "update", b"", {"X-Goog-Changed": changed})

    def _reports(self, application: str, event_name: str, activity: Any) -> None:
        if not event_name and isinstance(activity, dict):
            event_name = ((activity.get("events") or [{}])[0]).get("name", "")
        body = json.dumps(activity).encode() if activity else b""
        headers = {"Content-Type": "application/json; charset=UTF-8"} if body else {}
        self._each_channel(lambda ch: ch.get("api") == "reports" and ch.get("application") == application,
                           event_name or "activity", body, headers)

    def _classroom(self, data: dict[str, Any]) -> None:
        collection = "courses.teachers" if data.get("role") == "teacher" else "courses.students"
        payload = {"collection": collection, "eventType": data["event"],
                   "resourceId": {"courseId": data["course_id"], "userId": data["user_id"]}}
        now = datetime.now(UTC)
        with self.domain.lock:
            regs = list(self.domain.registrations.values())
        for reg in regs:
            feed = reg.get("feed") or {}
            wanted = feed.get("feedType") == "DOMAIN_ROSTER_CHANGES" or (
                feed.get("feedType") == "COURSE_ROSTER_CHANGES"
                and str((feed.get("courseRosterChangesInfo") or {}).get("courseId")) == data["course_id"])
            if wanted and _parse_time(reg["expiryTime"]) > now:
                self.publish(reg["cloudPubsubTopic"]["topicName"], json.dumps(payload).encode())

    def gmail_event(self, email: str) -> None:
        """A mailbox changed: publish ``{"emailAddress", "historyId"}`` to its ``users.watch`` topic."""
        with self.domain.lock:
            watches = self.domain.extra.get("gmail_watches") or {}
            watch = watches.get(email.lower())
            if watch is None or int(watch["expiration"]) <= now_ms():
                return
            watch["historyId"] = str(next(self._history))
            data = {"emailAddress": email.lower(), "historyId": watch["historyId"]}
        self.publish(watch["topicName"], json.dumps(data).encode())

    def next_history_id(self) -> str:
        return str(next(self._history))

    # ------------------------------------------------------------- channels

    def _each_channel(self, match: Callable[[dict[str, Any]], bool], state: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        now = now_ms()
        with self.domain.lock:
            for cid, ch in list(self.domain.channels.items()):
                if int(ch.get("expiration") or 0) and int(ch["expiration"]) <= now:
                    del self.domain.channels[cid]  # Google forgets an expired channel
                elif match(ch):
                    self._notify_channel(ch, state, body, headers)

    def _notify_channel(self, ch: dict[str, Any], state: str, body: bytes,
                        extra: dict[str, str] | None = None) -> None:
        """Number the message now (under the domain lock) so numbers rise in creation order."""
        ch["message_number"] = int(ch.get("message_number") or 0) + 1
        headers = {"X-Goog-Channel-ID": ch["id"], "X-Goog-Message-Number": str(ch["message_number"]),
                   "X-Goog-Resource-ID": ch["resourceId"], "X-Goog-Resource-URI": ch["resourceUri"],
                   "X-Goog-Resource-State": state}
        if ch.get("token"):
            headers["X-Goog-Channel-Token"] = ch["token"]
        if ch.get("expiration"):
            headers["X-Goog-Channel-Expiration"] = formatdate(int(ch["expiration"]) / 1000, usegmt=True)
        if body and state != "sync":
            headers.update(extra or {})
        else:
            body = b""
            headers.update({k: v for k, v in (extra or {}).items() if k != "Content-Type"})
        self._enqueue(_Job(ch["address"], headers, body, "channel", channel_id=ch["id"],
                           resource_id=ch["resourceId"]))

    def _channel_alive(self, job: _Job) -> bool:
        with self.domain.lock:
            ch = self.domain.channels.get(job.channel_id)
            return (ch is not None and ch.get("resourceId") == job.resource_id
                    and not (int(ch.get("expiration") or 0) and int(ch["expiration"]) <= now_ms()))

    # ------------------------------------------------------------- scanning (forms, sent mail)

    def _baseline(self) -> None:
        """What exists at start is not news."""
        with self._scan_lock, self.domain.lock:
            st = self.domain.extra.get("forms")
            for fid, form in (st.forms.items() if st else []):
                self._seen_forms[fid] = (form.revision, {(r["responseId"], r["lastSubmittedTime"])
                                                         for r in form.responses})
            self._seen_sent = len(self.domain.extra.get("gmail_sent") or [])

    def scan(self) -> None:
        """Publish Forms RESPONSES/SCHEMA events and Gmail events for mail sent since the last scan."""
        out: list[tuple[str, dict[str, str]]] = []
        mailboxes: list[str] = []
        with self._scan_lock, self.domain.lock:
            st = self.domain.extra.get("forms")
            for fid, form in (st.forms.items() if st else []):
                revision, seen = self._seen_forms.get(fid, (form.revision, set()))
                now_seen = {(r["responseId"], r["lastSubmittedTime"]) for r in form.responses}
                events = (["RESPONSES"] if now_seen - seen else []) + (["SCHEMA"] if form.revision != revision else [])
                self._seen_forms[fid] = (form.revision, now_seen)
                now = st.now()
                for event in events:
                    for watch in form.watches.values():
                        if watch["eventType"] == event and _parse_time(watch["expireTime"]) > now:
                            out.append((watch["target"]["topic"]["topicName"],
                                        {"eventType": event, "formId": fid, "watchId": watch["id"]}))
            sent = self.domain.extra.get("gmail_sent") or []
            mailboxes = [str(m.get("from", "")) for m in sent[self._seen_sent:]]
            self._seen_sent = len(sent)
        for topic, attributes in out:
            self.publish(topic, b"", attributes)
        for mailbox in dict.fromkeys(mailboxes):
            self.gmail_event(mailbox)

    # ------------------------------------------------------------- delivery

    def _enqueue(self, job: _Job) -> None:
        with self._lock:
            self._pending += 1
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            self._record(job, 0, 0, "dropped: push queue full")
            self._done()

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            if not self._pending:
                self._idle.notify_all()

    def _run(self) -> None:
        last_scan = 0.0
        while not self._stopping.is_set():
            try:
                job = self._queue.get(timeout=self.poll_interval_s)
            except queue.Empty:
                job = None
            if job is not None:
                try:
                    self._deliver(job)
                except Exception:  # a bug here must not kill delivery for the rest of the test run
                    log.exception("push delivery to %s failed", job.url)
                finally:
                    self._done()
            if time.monotonic() - last_scan >= self.poll_interval_s:
                last_scan = time.monotonic()
                try:
                    self.scan()
                except Exception:
                    log.exception("push scan failed")

    def _deliver(self, job: _Job) -> None:
        for attempt in range(1, self.max_attempts + 1):
            if job.kind == "channel" and not self._channel_alive(job):
                self._record(job, 0, attempt, "dropped: channel stopped or expired")
                return
            headers = {"User-Agent": USER_AGENT, **job.headers}
            if job.subscription is not None:
                sub = job.subscription
                headers["Authorization"] = "Bearer " + self.signer.sign(sub.audience, sub.service_account)
            status, error = 0, ""
            try:
                status = self._session.post(job.url, data=job.body, headers=headers, timeout=self.timeout_s,
                                            allow_redirects=False).status_code
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"
            self._record(job, status, attempt, error, headers)
            if job.kind == "pubsub":
                retry = status not in PUBSUB_ACK
            else:
                retry = not 200 <= status < 300 and (status == 0 or status >= 500 or status == 429)
            if not retry or attempt == self.max_attempts or self._stopping.wait(self.backoff_s * 2 ** (attempt - 1)):
                return

    def _record(self, job: _Job, status: int, attempt: int, error: str = "",
                headers: dict[str, str] | None = None) -> None:
        entry = PushRecord(job.url, dict(headers or job.headers), job.body, status, attempt, error, job.kind,
                           job.channel_id, job.subscription.name if job.subscription else "", time.time())
        with self._lock:
            self._log.append(entry)


# ----------------------------------------------------------------- API handlers the push needs


def register(api: Registry, domain: Domain, service: PushService) -> None:  # noqa: C901 - one closure per method
    """Serve the certs, and the watch methods no API module implements yet (theirs win if present)."""

    @api.app.get(CERTS_PATH)
    def certs() -> Response:
        return Response(json.dumps(service.signer.certs(), indent=2), content_type="application/json; charset=UTF-8",
                        headers={"Cache-Control": "public, max-age=20000, must-revalidate, no-transform"})

    def fallback(key: str) -> Callable[[Handler], Handler]:
        def decorate(fn: Handler) -> Handler:
            return fn if key in api.handlers else api.method(key)(fn)
        return decorate

    @fallback("reports.activities.watch")
    def activities_watch(req: ApiRequest) -> dict[str, Any]:
        app, user_key = req.params["applicationName"], req.params["userKey"]
        allowed = discovery.by_id()["reports.activities.watch"].parameters["applicationName"].get("enum", [])
        if allowed and app not in allowed:
            raise bad_request(f"Invalid value '{app}'. Values must match the following regular expression: "
                              f"'({'|'.join(allowed)})'")
        uri = f"{req.base_url}/admin/reports/v1/activity/users/{user_key}/applications/{app}?alt=json"
        return open_channel(req, domain, "reports", uri, {"api": "reports", "application": app, "user_key": user_key})

    @fallback("reports.channels.stop")
    def reports_stop(req: ApiRequest) -> tuple[int, None]:
        return stop_channel(req, domain)

    @fallback("drive.changes.watch")
    def changes_watch(req: ApiRequest) -> dict[str, Any]:
        token = req.arg("pageToken")
        if not token:
            raise ApiError(400, "The query parameter 'pageToken' is required.", "required", location="pageToken")
        uri = f"{req.base_url}/drive/v3/changes?alt=json&pageToken={token}"
        return open_channel(req, domain, "drive.changes", uri,
                             {"api": "drive", "kind": "changes", "user": req.subject_email.lower()})

    @fallback("drive.files.watch")
    def files_watch(req: ApiRequest) -> dict[str, Any]:
        fid = req.params["fileId"]
        uri = f"{req.base_url}/drive/v3/files/{fid}?alt=json"
        return open_channel(req, domain, "drive.files", uri,
                             {"api": "drive", "kind": "files", "file_id": fid, "user": req.subject_email.lower()})

    @fallback("drive.channels.stop")
    def drive_stop(req: ApiRequest) -> tuple[int, None]:
        return stop_channel(req, domain)

    @fallback("gmail.users.watch")
    def gmail_watch(req: ApiRequest) -> dict[str, Any]:
        user = req.user(req.params["userId"])
        if user.primary_email != req.subject_email.lower():
            raise ApiError(403, f"Delegation denied for {req.subject_email}", "forbidden")
        body = req.body if isinstance(req.body, dict) else {}
        topic = str(body.get("topicName") or "")
        if not _TOPIC.match(topic):
            raise bad_request("Invalid topicName does not match projects/SOME-PROJECT/topics/SOME-TOPIC",
                              "invalidArgument")
        watch = {"topicName": topic, "labelIds": list(body.get("labelIds") or []),
                 "labelFilterBehavior": body.get("labelFilterBehavior") or "include",
                 "expiration": str(now_ms() + GMAIL_WATCH_MS), "historyId": service.next_history_id()}
        with domain.lock:
            domain.state("gmail_watches", dict)[user.primary_email] = watch
        return {"historyId": watch["historyId"], "expiration": watch["expiration"]}

    @fallback("gmail.users.stop")
    def gmail_stop(req: ApiRequest) -> tuple[int, None]:
        user = req.user(req.params["userId"])
        if user.primary_email != req.subject_email.lower():
            raise ApiError(403, f"Delegation denied for {req.subject_email}", "forbidden")
        with domain.lock:
            domain.state("gmail_watches", dict).pop(user.primary_email, None)
        return 204, None
