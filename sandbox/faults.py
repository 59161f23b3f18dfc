"""Seeded fault injection: transient rate-limit/backend errors and permanent API refusals.

Transient faults answer before any state is touched, so a retried request sees the same
data; the mix (429 / 403 userRateLimitExceeded / 500 / 503) is what connectors must
retry. Permanent failures (`fail_api`) model an admin who never enabled an API or
never delegated a scope: what ``doctor`` must explain.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from sandbox.errors import GRPC_APIS, ApiError

CLASSIC_TRANSIENT = [
    (429, "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'.",
     "rateLimitExceeded", "usageLimits", "RESOURCE_EXHAUSTED"),
    (403, "Rate Limit Exceeded", "userRateLimitExceeded", "usageLimits", "PERMISSION_DENIED"),
    (500, "Backend Error", "backendError", "global", "INTERNAL"),
    (503, "The service is currently unavailable.", "backendError", "global", "UNAVAILABLE"),
]
GRPC_TRANSIENT = [
    (429, "Resource has been exhausted (e.g. check quota).", "RATE_LIMIT_EXCEEDED", "googleapis.com",
     "RESOURCE_EXHAUSTED"),
    (500, "Internal error encountered.", "BACKEND_ERROR", "googleapis.com", "INTERNAL"),
    (503, "The service is currently unavailable.", "BACKEND_ERROR", "googleapis.com", "UNAVAILABLE"),
]


@dataclass
class Permanent:
    status: int
    reason: str
    message: str


class FaultController:
    """Thread-safe, seeded: the n-th API request of a run always gets the same verdict."""

    def __init__(self, rate: float = 0.0, seed: int = 0, *, token_endpoint: bool = False) -> None:
        self.rate = rate
        self.token_endpoint = token_endpoint
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.permanent: dict[str, Permanent] = {}
        self.injected = 0

    def set_rate(self, rate: float, seed: int | None = None) -> None:
        with self._lock:
            self.rate = rate
            if seed is not None:
                self._rng = random.Random(seed)

    def fail_api(self, api: str, status: int = 403, reason: str = "", message: str = "") -> None:
        """Every request to `api` fails until `clear_failures` (e.g. 'classroom', 403)."""
        if not reason:
            reason = "insufficientPermissions" if status == 403 else "notFound" if status == 404 else "backendError"
        if not message:
            message = {
                403: f"{api.capitalize()} API has not been used in project safechannels-sandbox before or it is "
                     "disabled, or the caller does not have permission.",
            }.get(status, f"{api} is failing")
        with self._lock:
            self.permanent[api] = Permanent(status, reason, message)

    def clear_failures(self) -> None:
        with self._lock:
            self.permanent.clear()

    def check(self, api: str) -> ApiError | None:
        """The error to answer instead of the real response, or None."""
        with self._lock:
            perm = self.permanent.get(api)
            if perm is not None:
                return ApiError(perm.status, perm.message, perm.reason)
            if self.rate <= 0 or self._rng.random() >= self.rate:
                return None
            table = GRPC_TRANSIENT if api in GRPC_APIS else CLASSIC_TRANSIENT
            code, message, reason, domain, status = self._rng.choice(table)
            self.injected += 1
        return ApiError(code, message, reason, domain=domain, status=status)
