"""A small Moodle web-services REST client (requests).

Moodle's REST server answers HTTP 200 even for errors, with a body like
``{"exception": "moodle_exception", "errorcode": "invalidtoken", "message": "..."}``, so every
body is checked. Errors map onto the core's tree: token/permission problems are SourceRefused
(a human must act), HTTP 5xx and network failures TransientError. Transient HTTP failures are
retried by urllib3's Retry on the session adapter (no hand-written loop).
"""

from __future__ import annotations

import threading
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from integration.errors import SourceError, SourceRefused, TransientError

API = "moodle"
REFUSED_CODES = {
    "invalidtoken": "the web-services token is not valid (deleted, expired or mistyped)",
    "accessexception": "the token's user may not call this function",
    "webservicesnotenabled": "web services are not enabled on the Moodle site",
    "servicerequireslogin": "the external service requires a login",
    "nopermissions": "the token's user lacks a capability",
    "requireloginerror": "the token's user cannot log in",
}
FIX = ("in Moodle: Site administration → Server → Web services → Manage tokens: create a token for a user "
       "with the capabilities of the functions below, for a service that includes core_course_get_courses, "
       "core_enrol_get_enrolled_users and core_webservice_get_site_info; save it in [moodle] token_file")


class MoodleClient:
    """Calls one Moodle site's REST endpoint; a requests.Session per thread (sessions are not thread-safe)."""

    def __init__(self, url: str, token: str, *, timeout: float = 60, retries: int = 3):
        self.endpoint = url.rstrip("/") + "/webservice/rest/server.php"
        self._token = token
        self.timeout = timeout
        self.retries = retries
        self.calls = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def __repr__(self) -> str:  # never show the token
        return f"MoodleClient({self.endpoint!r})"

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            retry = Retry(total=self.retries, backoff_factor=0.5, status_forcelist=(429, 500, 502, 503, 504),
                          allowed_methods=frozenset({"POST"}), raise_on_status=False)
            s.mount("http://", HTTPAdapter(max_retries=retry))
            s.mount("https://", HTTPAdapter(max_retries=retry))
            self._local.session = s
        return s

    def call(self, function: str, **params: Any) -> Any:
        """Call one web-service function; returns the decoded body or raises our error tree."""
        data = {"wstoken": self._token, "wsfunction": function, "moodlewsrestformat": "json", **_flatten(params)}
        with self._lock:
            self.calls += 1
        try:
            resp = self._session().post(self.endpoint, data=data, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TransientError(f"Moodle {function}: {type(exc).__name__}", api=API) from None
        if resp.status_code >= 500 or resp.status_code == 429:
            raise TransientError(f"Moodle {function}: HTTP {resp.status_code}", api=API, status=resp.status_code)
        if resp.status_code in (401, 403):
            raise SourceRefused(f"Moodle {function}: HTTP {resp.status_code}", api=API, status=resp.status_code,
                                fix=FIX)
        if resp.status_code != 200:
            raise SourceError(f"Moodle {function}: HTTP {resp.status_code}", api=API)
        try:
            body = resp.json()
        except ValueError:
            raise SourceError(f"Moodle {function}: the answer is not JSON (is [moodle] url the site's root, and "
                              "the REST protocol enabled?)", api=API) from None
        if isinstance(body, dict) and ("exception" in body or "errorcode" in body):
            raise moodle_error(function, body)
        return body


def moodle_error(function: str, body: dict) -> SourceError:
    code = str(body.get("errorcode") or "")
    message = str(body.get("message") or body.get("exception") or "error")[:300]
    if code in REFUSED_CODES:
        return SourceRefused(f"Moodle refused {function}: {REFUSED_CODES[code]} ({message})", api=API,
                             reason=code, fix=FIX)
    return SourceError(f"Moodle {function} failed ({code or 'error'}): {message}", api=API)


def _flatten(params: dict[str, Any]) -> dict[str, Any]:
    """Moodle's PHP-style array parameters: {'options': {'ids': [1, 2]}} -> options[ids][0]=1 ..."""
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}[{k}]", v)
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(f"{prefix}[{i}]", v)
        else:
            out[prefix] = int(value) if isinstance(value, bool) else value

    for key, value in params.items():
        walk(key, value) if isinstance(value, dict | list | tuple) else out.__setitem__(key, value)
    return out
