"""A recording stand-in for Google in front of the sandbox: the server the timed reads talk to.

    python -m benchmarks.replay --upstream http://127.0.0.1:PORT [--port 0] [--latency-ms 50]

The sandbox is a whole simulation in Python (discovery checks, auth, paging, fields masks), and on
a 2-core machine its CPU competes with the client's: a trust roster read cost it 3.7 s of CPU
against our 2 s. Google's CPU is not on our cores. So the benchmark's reads go through this server:
a request it has not seen passes through to the sandbox and its answer is recorded (a batch's
answer part by part); a request it has seen is answered from the recording, with the same
emulated latency per round trip, for next to no CPU. Tokens pass through every time (the sandbox
issues them), and answers are kept per (impersonated user, scopes, method and URL), so one user's
answer is never replayed to another. Only 200 answers to GETs are recorded.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import secrets
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from connectors.google.batching import parse_batch_response, part_id
from sandbox.batch import answer_part, parse_parts
from sandbox.token import TOKEN_PATH

JSON = "application/json; charset=UTF-8"
HOP_BY_HOP = {"host", "connection", "keep-alive", "content-length", "transfer-encoding"}

Answer = tuple[int, list[tuple[str, str]], bytes]


class Recording:
    """Answers seen so far, and which user and scopes each access token stands for."""

    def __init__(self, upstream: str):
        parts = urlsplit(upstream)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.answers: dict[tuple[str, str], bytes] = {}
        self.grants: dict[str, str] = {}  # access token -> "subject scopes"
        self.replayed = self.forwarded = 0
        self.lock = threading.Lock()

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        path = target.split("?", 1)[0]
        if method == "POST" and path == TOKEN_PATH:
            return self._token(method, target, headers, body)
        if method == "POST" and path.startswith("/batch"):
            return self._batch(method, target, headers, body)
        grant = self._grant(headers)
        if method == "GET" and grant is not None:
            hit = self.answers.get((grant, target))
            if hit is not None:
                self._count(replayed=1)
                return 200, [("Content-Type", JSON)], hit
        status, out_headers, payload = self._forward(method, target, headers, body)
        if method == "GET" and status == 200 and grant is not None:
            self.answers[(grant, target)] = payload
        return status, out_headers, payload

    def _count(self, replayed: int = 0, forwarded: int = 0) -> None:
        with self.lock:
            self.replayed += replayed
            self.forwarded += forwarded

    def _grant(self, headers: dict[str, str]) -> str | None:
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        return self.grants.get(auth[7:].strip()) if auth[:7].lower() == "bearer " else None

    def _token(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        status, out_headers, payload = self._forward(method, target, headers, body)
        if status == 200:
            assertion = (parse_qs(body.decode("utf-8", "replace")).get("assertion") or [""])[0]
            claims = _claims(assertion)
            token = json.loads(payload).get("access_token")
            if token and claims:
                self.grants[token] = f"{claims.get('sub') or claims.get('iss')} {claims.get('scope', '')}"
        return status, out_headers, payload

    def _batch(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        parts = parse_parts(content_type, body)
        keys = [(self._grant(part_headers), part_target) if part_method == "GET" else (None, part_target)
                for _, part_method, part_target, part_headers, _ in parts]
        known = [self.answers.get(k) if k[0] is not None else None for k in keys]
        if parts and all(a is not None for a in known):
            self._count(replayed=len(parts))
            boundary = "batch_" + secrets.token_hex(12)
            text = "".join(answer_part(boundary, part[0], 200, a.decode()) for part, a in zip(parts, known, strict=True))
            return 200, [("Content-Type", f"multipart/mixed; boundary={boundary}")], (text + f"--{boundary}--\r\n").encode()
        status, out_headers, payload = self._forward(method, target, headers, body)
        if status == 200:
            answers = parse_batch_response(dict(out_headers).get("Content-Type", ""), payload)
            for part, key in zip(parts, keys, strict=True):
                got = answers.get(part_id(part[0]))
                if key[0] is not None and got is not None and got[0].status == 200:
                    self.answers[key] = got[1]
        return status, out_headers, payload

    def _forward(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Answer:
        self._count(forwarded=1)
        conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        try:
            conn.request(method, target, body=body or None,
                         headers={k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP})
            resp = conn.getresponse()
            payload = resp.read()
            kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP and k.lower() != "date"]
            return resp.status, kept, payload
        finally:
            conn.close()


def _claims(assertion: str) -> dict:
    """The JWT-bearer assertion's claims (the sandbox verified its signature; we only read them)."""
    try:
        segment = assertion.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError):
        return {}


class ReplayServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, port: int, recording: Recording, latency_ms: float):
        self.recording, self.latency_s = recording, latency_ms / 1000
        super().__init__(("127.0.0.1", port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Google's front ends
    server: ReplayServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.server.latency_s:
            time.sleep(self.server.latency_s)
        status, headers, payload = self.server.recording.answer(self.command, self.path, dict(self.headers), body)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream", required=True, help="the sandbox's base URL")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency-ms", type=float, default=50)
    args = p.parse_args(argv)
    server = ReplayServer(args.port, Recording(args.upstream), args.latency_ms)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
