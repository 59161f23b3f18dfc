"""Google's batch endpoint: multipart/mixed in, multipart/mixed out.

Each part is an ``application/http`` request exactly as googleapiclient's
``BatchHttpRequest`` serialises it; each is dispatched through the same app (own
Authorization header, own fault roll, own log entry flagged ``batch``) and answered in
a part whose ``Content-ID`` is ``<response-...>`` so the client matches it back.
Per-API caps are Google's (Classroom 50, Gmail 100, Drive 100, Directory 1000).

Why no `email` parser and no test client: a trust's roster read sends ~6,000 parts, and
parsing them with `email` and dispatching them through ``app.test_client()`` cost more
CPU than answering them. The body is split with string operations (CRLF or LF lines,
folded headers, quoted or bare boundary) and each part is a hand-built WSGI environ -
the one the test client built (host ``localhost``) - passed to the app itself, so
routing, auth, faults and logging are untouched.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import time
from collections.abc import Iterable
from functools import cache
from importlib.metadata import version
from io import BytesIO
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from flask import Flask, Request, Response
from werkzeug.datastructures import MultiDict

from sandbox import discovery
from sandbox.errors import error_body

if TYPE_CHECKING:
    from sandbox.server import SandboxState

BATCH_CAPS = {"classroom": 50, "gmail": 100, "drive": 100, "directory": 1000, "reports": 1000, "forms": 1000}
REASONS = {200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented",
           503: "Service Unavailable"}
_HEADER_LINE = re.compile(r"[\041-\071\073-\176]*:")  # what the `email` package takes for a header line

Part = tuple[str, str, str, dict[str, str], bytes]  # content id, method, path+query, headers, body


# ---------------------------------------------------------------------------- multipart in


def _boundary(content_type: str) -> str | None:
    """The boundary parameter (quoted or bare) of a multipart/* Content-Type; None otherwise."""
    kind, *params = content_type.split(";")
    kind = kind.strip().lower()
    if not kind.startswith("multipart/") or kind.count("/") != 1:
        return None
    for param in params:
        name, eq, value = param.partition("=")
        if eq and name.strip().lower() == "boundary":
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            return value.rstrip() or None
    return None


def _is_delimiter(line: str, delimiter: str) -> tuple[bool, bool]:
    """(is a delimiter line, is the close delimiter): ``--b`` or ``--b--``, trailing blanks allowed."""
    if not line.startswith(delimiter):
        return False, False
    rest = line[len(delimiter):]
    closing = rest.startswith("--")
    if (rest[2:] if closing else rest).strip(" \t"):
        return False, False
    return True, closing


def _split_body(text: str, boundary: str) -> list[list[str]] | None:
    """Each part's lines (preamble and epilogue dropped; the line break before a delimiter is the
    delimiter's, RFC 2046), or None when no delimiter is found (not a multipart body)."""
    delimiter = "--" + boundary
    parts: list[list[str]] = []
    current: list[str] | None = None  # None while in the preamble
    for line in text.split("\n"):
        is_delimiter, closing = _is_delimiter(line, delimiter)
        if not is_delimiter:
            if current is not None:
                current.append(line)
            continue
        if current:  # repeated delimiters make no empty part
            parts.append(current)
        current = []
        if closing:
            return parts
    if current is None:
        return None
    if current and current[-1] == "":
        current.pop()  # no close delimiter: the text's last line break ends the last part
    if current:
        parts.append(current)
    return parts


def _headers(lines: list[str]) -> tuple[dict[str, str], int]:
    """(lower-cased name -> value, index of the first body line) of a MIME part; folded values are
    unfolded as RFC 5322 says (the line break goes, the blank after it stays); the first of repeated
    headers wins."""
    headers: dict[str, str] = {}
    last = ""
    for i, line in enumerate(lines):
        if line == "":
            return headers, i + 1
        if line[0] in " \t":
            if last:
                headers[last] += line
            continue
        if not _HEADER_LINE.match(line):
            return headers, i  # no blank line: the body starts here
        name, _, value = line.partition(":")
        if not name:
            continue
        last = name.lower()
        if last in headers:
            last = ""  # a repeat: `email` answers the first
            continue
        headers[last] = value.lstrip(" \t")
    return headers, len(lines)


def _inner_request(content_id: str, payload: str) -> Part:
    """One ``application/http`` payload as (content id, method, target, headers, body)."""
    head, _, body = payload.partition("\n\n")
    lines = head.split("\n")
    method, target = lines[0].split(" ")[:2]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip()] = value.strip()
    return content_id, method, target, headers, body.encode()


def parse_parts(content_type: str, data: bytes) -> list[Part]:
    """(content id, method, path+query, headers, body) for each inner request of a batch body."""
    boundary = _boundary(content_type)
    if boundary is None:
        return []
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    chunks = _split_body(text, boundary)
    if chunks is None:
        return []
    parts = []
    for lines in chunks:
        headers, start = _headers(lines)
        if headers.get("content-type", "").strip().lower().startswith("multipart/"):
            continue  # a nested multipart is no request
        # googleapiclient folds long Content-IDs at the blanks of '<base + id>': `_headers` unfolded them,
        # so the answer's id splits back on ' + ' (dropping the blank too broke the library's own batch).
        parts.append(_inner_request(headers.get("content-id", ""), "\n".join(lines[start:])))
    return parts


# ---------------------------------------------------------------------------- dispatch


@cache
def _environ_base() -> dict[str, Any]:
    """What Flask's test client put in every environ (the parts used to go through it)."""
    return {"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": f"Werkzeug/{version('werkzeug')}",
            "SCRIPT_NAME": "", "SERVER_NAME": "localhost", "SERVER_PORT": "80", "HTTP_HOST": "localhost",
            "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False}


def _wsgi_str(text: str) -> str:
    """PEP 3333's native string: UTF-8 bytes read as latin-1."""
    return text.encode().decode("latin-1")


def _environ(method: str, target: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The WSGI environ for one part, as ``test_client().open(target, ...)`` built it."""
    environ = dict(_environ_base())
    if target.startswith("/"):
        path, _, query = target.partition("#")[0].partition("?")
    else:  # an absolute URL: the test client took host and scheme from it
        url = urlsplit(target)
        path, query = url.path, url.query
        if url.netloc:
            scheme = url.scheme or "http"
            environ.update({"HTTP_HOST": url.netloc, "SERVER_NAME": url.hostname or "localhost",
                            "SERVER_PORT": str(url.port or (443 if scheme == "https" else 80)),
                            "wsgi.url_scheme": scheme})
    uri = _wsgi_str(path + ("?" + query if query else ""))
    environ.update({"REQUEST_METHOD": method, "PATH_INFO": _wsgi_str(unquote(path)), "QUERY_STRING": _wsgi_str(query),
                    "REQUEST_URI": uri, "RAW_URI": uri, "wsgi.input": BytesIO(body), "wsgi.errors": sys.stderr})
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    elif (content_type or "").split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        environ["CONTENT_LENGTH"] = "0"  # the test client encoded an empty form
    combined: dict[str, list[str]] = {}
    for name, value in headers.items():
        if name.lower() not in ("content-type", "content-length"):
            combined.setdefault("HTTP_" + name.upper().replace("-", "_"), []).append(value)
    environ.update((key, ", ".join(values)) for key, values in combined.items())
    environ.pop("HTTP_COOKIE", None)  # the test client's empty cookie jar dropped any Cookie header
    return environ


def _call(app: Flask, environ: dict[str, Any]) -> tuple[int, str]:
    """(status, body text) of the app's answer to one environ."""
    status: list[str] = []

    def start_response(line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        status.append(line)
        return lambda data: None

    result: Iterable[bytes] = app(environ, start_response)
    try:
        data = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return int(status[-1].split(" ", 1)[0]), data.decode()


def _response_id(content_id: str) -> str:
    inner = content_id.strip()
    inner = inner[1:-1] if inner.startswith("<") and inner.endswith(">") else inner
    return f"<response-{inner}>"


def _answer(app: Flask, boundary: str, part: Part) -> str:
    """One part of the multipart answer: the inner request dispatched through the app."""
    content_id, method, target, headers, body = part
    headers = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "host")}
    headers["X-Sandbox-Batch"] = "1"
    status, payload = _call(app, _environ(method, target, headers, body))
    return answer_part(boundary, content_id, status, payload)


def answer_part(boundary: str, content_id: str, status: int, payload: str) -> str:
    """The answer's part for the request part `content_id`, in Google's form."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
    if payload:
        lines.append("Content-Type: application/json; charset=UTF-8")
    lines.append("Vary: Origin\r\nVary: X-Origin\r\nVary: Referer")
    return (f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: {_response_id(content_id)}\r\n\r\n"
            + "\r\n".join(lines) + "\r\n\r\n" + payload + "\r\n")


def handle_batch(app: Flask, state: SandboxState, req: Request) -> Response:
    from sandbox.server import LogEntry

    outer = LogEntry(req.method, req.path, MultiDict(req.args), None, time=time.time(), method_id="batch")
    if state.latency_ms:
        time.sleep(state.latency_ms / 1000)
    parts = parse_parts(req.headers.get("Content-Type", ""), req.get_data())
    apis = [hit[0] for _, m, target, _, _ in parts if (hit := discovery.match(m, target.split("?", 1)[0]))]
    outer.api = apis[0] if apis else ""
    if not parts:
        return _finish(state, outer, 400, error_body(outer.api or "directory", 400, "Invalid multipart request.",
                                                      "badRequest"))
    for api in set(apis):
        cap = BATCH_CAPS.get(api, 1000)
        if sum(1 for a in apis if a == api) > cap:
            message = f"A batch request cannot contain more than {cap} requests"
            return _finish(state, outer, 400, error_body(api, 400, message, "batchSizeTooLarge"))
    boundary = "batch_" + secrets.token_hex(12)
    chunks = [_answer(app, boundary, part) for part in parts]
    chunks.append(f"--{boundary}--\r\n")
    outer.status = 200
    state.record(outer)
    return Response("".join(chunks), status=200, content_type=f"multipart/mixed; boundary={boundary}")


def _finish(state: SandboxState, outer: object, status: int, body: dict) -> Response:
    outer.status = status  # type: ignore[attr-defined]
    state.record(outer)  # type: ignore[arg-type]
    return Response(json.dumps(body), status=status, mimetype="application/json")
