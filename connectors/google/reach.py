"""Is anything listening at a Google endpoint? One TCP probe per ``host:port``, remembered.

Why: a request to an endpoint nobody answers used to be retried like a rate limit (7 attempts,
backoff to 32 s) — and so was the token exchange — for every stream of an audit and every
check of `doctor`: minutes of silence, then a wall of misleading errors. A probe before the
first request to an endpoint, and again after any network error, tells "nothing answers" from
"a request failed" in at most ``PROBE_TIMEOUT`` seconds; an endpoint found unreachable fails
every call at once (``Unreachable``, exit 3, naming host and port) until ``FORGET_AFTER`` has
passed, so a long-running worker notices when it is back.
"""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlsplit

from integration.errors import SourceError, Unreachable

PROBE_TIMEOUT = 5.0  # seconds for one TCP connect
FORGET_AFTER = 30.0  # seconds before an unreachable endpoint is probed again


def endpoint_of(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


def _why(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"no answer within {PROBE_TIMEOUT:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return exc.strerror or type(exc).__name__


class Reachability:
    """Thread-safe: probes run under one lock, so many threads hitting a dead endpoint probe it once."""

    def __init__(self, timeout: float = PROBE_TIMEOUT, forget_after: float = FORGET_AFTER):
        self.timeout, self.forget_after = timeout, forget_after
        self._lock = threading.Lock()
        self._up: set[tuple[str, int]] = set()
        self._down: dict[tuple[str, int], tuple[float, str]] = {}  # endpoint -> (when, why)
        self.probes = 0

    def check(self, url: str, api: str) -> None:
        """Before a request: raise Unreachable if ``url``'s endpoint is known (or now found) dead."""
        where = endpoint_of(url)
        if where in self._up and where not in self._down:
            return
        self._probe(where, api, fresh=False)

    def after_error(self, url: str, api: str, err: SourceError) -> SourceError:
        """After a network error: Unreachable if the endpoint no longer answers, else ``err`` (retry it)."""
        try:
            self._probe(endpoint_of(url), api, fresh=True)
        except Unreachable as down:
            return down
        return err

    def _probe(self, where: tuple[str, int], api: str, *, fresh: bool) -> None:
        with self._lock:
            known = self._down.get(where)
            if known is not None and time.monotonic() - known[0] < self.forget_after:
                raise self._error(where, api, known[1])
            if not fresh and where in self._up and known is None:
                return
            self.probes += 1
            try:
                socket.create_connection(where, timeout=self.timeout).close()
            except OSError as exc:
                why = _why(exc)
                self._down[where] = (time.monotonic(), why)
                self._up.discard(where)
                raise self._error(where, api, why) from None
            self._down.pop(where, None)
            self._up.add(where)

    @staticmethod
    def _error(where: tuple[str, int], api: str, why: str) -> Unreachable:
        host, port = where
        return Unreachable(f"{api}: nothing answers at {host}:{port} ({why}); nothing was read from it", api=api,
                           endpoint=f"{host}:{port}",
                           fix=f"check that this machine can reach {host}:{port} (network, firewall, proxy, DNS) "
                               "and [google] api_base_url")
