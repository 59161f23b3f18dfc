"""Google's batch endpoint: multipart/mixed in, multipart/mixed out.

Each part is an ``application/http`` request exactly as googleapiclient's
``BatchHttpRequest`` serialises it; each is dispatched through the same app (own
Authorization header, own fault roll, own log entry flagged ``batch``) and answered in
a part whose ``Content-ID`` is ``<response-...>`` so the client matches it back.
Per-API caps are Google's (Classroom 50, Gmail 100, Drive 100, Directory 1000).
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import secrets
import time
from typing import TYPE_CHECKING

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


def _parse_parts(req: Request) -> list[tuple[str, str, str, dict[str, str], bytes]]:
    """(content id, method, path+query, headers, body) for each inner request."""
    raw = b"Content-Type: " + req.headers.get("Content-Type", "").encode() + b"\r\n\r\n" + req.get_data()
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    if not message.is_multipart():
        return []
    parts = []
    for part in message.get_payload():
        payload = part.get_payload(decode=False)
        if isinstance(payload, list):
            continue
        text = payload.replace("\r\n", "\n")
        head, _, body = text.partition("\n\n")
        lines = head.split("\n")
        method, target = lines[0].split(" ")[:2]
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip()] = value.strip()
        # googleapiclient's long Content-IDs arrive folded over lines: unfold before echoing them back.
        content_id = re.sub(r"\r?\n[ \t]*", "", str(part.get("Content-ID", "")))
        parts.append((content_id, method, target, headers, body.encode()))
    return parts


def _response_id(content_id: str) -> str:
    inner = content_id.strip()
    inner = inner[1:-1] if inner.startswith("<") and inner.endswith(">") else inner
    return f"<response-{inner}>"


def handle_batch(app: Flask, state: SandboxState, req: Request) -> Response:
    from sandbox.server import LogEntry

    outer = LogEntry(req.method, req.path, MultiDict(req.args), None, time=time.time(), method_id="batch")
    if state.latency_ms:
        time.sleep(state.latency_ms / 1000)
    parts = _parse_parts(req)
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
    chunks: list[str] = []
    client = app.test_client()
    for content_id, method, target, headers, body in parts:
        headers = {k: v for k, v in headers.items() if k.lower() not in ("content-length", "host")}
        headers["X-Sandbox-Batch"] = "1"
        inner = client.open(target, method=method, headers=headers, data=body or None)
        payload = inner.get_data(as_text=True)
        lines = [f"HTTP/1.1 {inner.status_code} {REASONS.get(inner.status_code, 'Unknown')}"]
        if payload:
            lines.append("Content-Type: application/json; charset=UTF-8")
        lines.append("Vary: Origin\r\nVary: X-Origin\r\nVary: Referer")
        chunks.append(
            f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: {_response_id(content_id)}\r\n\r\n"
            + "\r\n".join(lines) + "\r\n\r\n" + payload + "\r\n"
        )
    chunks.append(f"--{boundary}--\r\n")
    outer.status = 200
    state.record(outer)
    return Response("".join(chunks), status=200, content_type=f"multipart/mixed; boundary={boundary}")


def _finish(state: SandboxState, outer: object, status: int, body: dict) -> Response:
    outer.status = status  # type: ignore[attr-defined]
    state.record(outer)  # type: ignore[arg-type]
    return Response(json.dumps(body), status=status, mimetype="application/json")
