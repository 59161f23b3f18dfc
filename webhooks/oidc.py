"""Verifying Google-signed ID tokens (Pub/Sub push OIDC tokens and Google sign-in) with cached certs.

Why our own transport: `google.oauth2.id_token.verify_token` fetches the certs on every call;
at push rates that is one outbound request per notification, on the request path. This
transport caches the certs response for its Cache-Control max-age (Google rotates keys with
overlap, so an hour-old copy is still valid). `verify_token` also does not check the issuer,
so we do. The certs URL is configurable so tests (and air-gapped demos) serve their own keys.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass

import google.auth.exceptions
import requests
from google.auth import transport
from google.oauth2 import id_token

from integration.logs import event

log = logging.getLogger("safechannels.oidc")

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v1/certs"
ISSUERS = ("accounts.google.com", "https://accounts.google.com")
_MAX_AGE = re.compile(r"max-age=(\d+)")
REFETCH_AFTER = 60.0  # seconds: a failed verification refetches certs older than this


class InvalidToken(Exception):
    """The token is not a valid Google ID token for us (the reason is logged, never returned)."""


@dataclass
class _Response(transport.Response):
    _status: int
    _headers: dict
    _data: bytes
    fetched_at: float = 0.0

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> dict:
        return self._headers

    @property
    def data(self) -> bytes:
        return self._data


class CachedCertsRequest(transport.Request):
    """A google-auth transport that answers GETs from a cache honouring Cache-Control max-age."""

    def __init__(self, default_max_age: int = 3600, timeout: float = 10.0):
        self.default_max_age = default_max_age
        self.timeout = timeout
        self._cache: dict[str, tuple[float, _Response]] = {}
        self._lock = threading.Lock()
        self.fetches = 0

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        if method != "GET":
            raise google.auth.exceptions.TransportError("only GET is supported for certs")
        with self._lock:
            hit = self._cache.get(url)
            if hit and hit[0] > time.monotonic():
                return hit[1]
            try:
                r = requests.get(url, timeout=timeout or self.timeout)
            except requests.RequestException as exc:
                raise google.auth.exceptions.TransportError(f"certs fetch failed: {exc}") from None
            self.fetches += 1
            resp = _Response(r.status_code, dict(r.headers), r.content, time.monotonic())
            if r.status_code == 200:
                m = _MAX_AGE.search(r.headers.get("Cache-Control", ""))
                age = min(int(m.group(1)), 86400) if m else self.default_max_age
                self._cache[url] = (time.monotonic() + age, resp)
            return resp

    def forget_older_than(self, seconds: float) -> bool:
        """Drop cached responses fetched more than ``seconds`` ago; True if any were dropped."""
        with self._lock:
            old = [u for u, (expiry, resp) in self._cache.items() if resp.fetched_at < time.monotonic() - seconds]
            for url in old:
                del self._cache[url]
            return bool(old)


class GoogleIdTokens:
    """Verifies signature, expiry, audience and issuer of a Google-signed ID token."""

    def __init__(self, certs_url: str = "", clock_skew_seconds: int = 10):
        self.certs_url = certs_url or GOOGLE_CERTS_URL
        self.clock_skew = clock_skew_seconds
        self.request = CachedCertsRequest()

    def verify(self, token: str, audience: str) -> dict:
        """The claims, or InvalidToken. ``audience`` is required: an unchecked audience would accept
        any Google-signed token minted for anyone."""
        if not token or not audience or token.count(".") != 2 or len(token) > 8192:
            raise InvalidToken("not a JWT")
        try:
            claims = self._verify(token, audience)
        except Exception as exc:  # noqa: BLE001 - google-auth and PyJWT raise many kinds; all mean "no"
            # Google may have rotated its keys since our copy: refetch (at most once a minute) and retry
            if not self.request.forget_older_than(REFETCH_AFTER):
                event(log, "oidc.rejected", logging.INFO, reason=type(exc).__name__)
                raise InvalidToken(type(exc).__name__) from None
            try:
                claims = self._verify(token, audience)
            except Exception as exc2:  # noqa: BLE001
                event(log, "oidc.rejected", logging.INFO, reason=type(exc2).__name__)
                raise InvalidToken(type(exc2).__name__) from None
        if claims.get("iss") not in ISSUERS:
            event(log, "oidc.rejected", logging.INFO, reason="issuer")
            raise InvalidToken("issuer")
        if "exp" not in claims:
            raise InvalidToken("no expiry")
        return dict(claims)

    def _verify(self, token: str, audience: str) -> dict:
        return id_token.verify_token(token, self.request, audience=audience, certs_url=self.certs_url,
                                     clock_skew_in_seconds=self.clock_skew)


def email_verified(claims: dict) -> bool:
    value = claims.get("email_verified")
    return value is True or value == "true"
