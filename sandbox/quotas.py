"""Per-user, per-minute quotas enforced as Google does: off unless asked for.

Google checks a user's quota "on a 60-second moving average, which allows for spikes in usage"
(Classroom: 1,200 queries per minute per user; developers.google.com/classroom/limits), and a
request beyond it is refused with 429 RESOURCE_EXHAUSTED, to be retried with backoff. The sandbox
counts every request it admits per (API, delegated user) in a sliding window and answers 429 once
the window is full, so a test can see whether several client processes together stay inside one
user's quota. Refused requests are not counted (they consumed nothing).

The error bodies: gRPC-style APIs (Classroom, Forms, Chat) answer ``status: RESOURCE_EXHAUSTED``
with an ErrorInfo ``reason: RATE_LIMIT_EXCEEDED``, ``domain: googleapis.com`` and the metadata
keys ``consumer``, ``service``, ``quota_metric``, ``quota_limit`` (googleapis/googleapis
google/api/error_reason.proto, RATE_LIMIT_EXCEEDED; its examples name metrics like
``<service>/default_requests`` and limits like ``DefaultRequestsPerMinutePerOrganization``, after
which ours are named). Classic APIs (Admin SDK) answer ``errors[].reason: rateLimitExceeded``,
``domain: usageLimits``, with Google's "Quota exceeded for quota metric ... and limit ... per
minute per user" message (as quoted in public reports, e.g. googleapis/repo-automation-bots#4469).

Per process: a sandbox served by several forked workers (``--workers``) counts per worker.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from sandbox.errors import GRPC_APIS, ApiError

WINDOW_S = 60.0

# Google's published per-user defaults, for `--user-quota published`.
PUBLISHED_PER_USER: dict[str, int] = {
    "classroom": 1200,  # developers.google.com/classroom/limits: queries per minute per user
    "directory": 2400,  # developers.google.com/admin-sdk/directory/v1/limits: queries per minute per user
    "reports": 2400,  # developers.google.com/admin-sdk/reports/v1/limits
}

SERVICES = {"classroom": "classroom.googleapis.com", "directory": "admin.googleapis.com",
            "reports": "admin.googleapis.com", "forms": "forms.googleapis.com", "chat": "chat.googleapis.com",
            "drive": "drive.googleapis.com", "gmail": "gmail.googleapis.com"}


class QuotaExceeded(ApiError):
    """Google's 429 for a per-user rate quota, with the ErrorInfo metadata gRPC-style APIs carry."""

    def __init__(self, api: str, consumer: str) -> None:
        service = SERVICES.get(api, f"{api}.googleapis.com")
        message = (f"Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service "
                   f"'{service}' for consumer '{consumer}'.")
        grpc = api in GRPC_APIS
        super().__init__(429, message, "rateLimitExceeded", domain="googleapis.com" if grpc else "usageLimits",
                         status="RESOURCE_EXHAUSTED")
        self.metadata = {"consumer": consumer, "service": service, "quota_metric": f"{service}/default_requests",
                         "quota_limit": "DefaultRequestsPerMinutePerUser"}

    def body(self, api: str) -> dict[str, Any]:
        body = super().body(api)
        for detail in body["error"].get("details") or []:
            detail["metadata"] = dict(self.metadata)
        return body


class UserQuotas:
    """Thread-safe sliding windows per (API, user); `limits` empty = nothing enforced."""

    def __init__(self, limits: dict[str, int] | None = None, window_s: float = WINDOW_S, *,
                 consumer: str = "projects/safechannels-sandbox") -> None:
        self._lock = threading.Lock()
        self.consumer = consumer
        self.enforce(limits or {}, window_s)

    def enforce(self, limits: dict[str, int], window_s: float = WINDOW_S) -> None:
        """Enforce `limits` (requests per window per user, by API) from now on; {} stops enforcing."""
        with self._lock:
            self.limits, self.window_s = dict(limits), window_s
            self._windows: dict[tuple[str, str], deque[float]] = {}
            self.admitted: dict[str, int] = {}
            self.refused: dict[str, int] = {}

    def check(self, api: str, user: str) -> ApiError | None:
        """Count one request now, or return the 429 to answer instead."""
        limit = self.limits.get(api)
        if not limit:
            return None
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault((api, user.lower()), deque())
            while window and window[0] <= now - self.window_s:
                window.popleft()
            if len(window) >= limit:
                self.refused[api] = self.refused.get(api, 0) + 1
                return QuotaExceeded(api, self.consumer)
            window.append(now)
            self.admitted[api] = self.admitted.get(api, 0) + 1
        return None


def parse_quota(text: str) -> dict[str, int]:
    """``--user-quota`` values: ``API=N`` (e.g. classroom=1200) or ``published`` (Google's defaults)."""
    if text == "published":
        return dict(PUBLISHED_PER_USER)
    api, sep, n = text.partition("=")
    if not sep or not n.isdigit() or int(n) < 1 or api not in SERVICES:
        raise ValueError(f"expected API=N with API one of {', '.join(sorted(SERVICES))} (or 'published'), "
                         f"got {text!r}")
    return {api: int(n)}
