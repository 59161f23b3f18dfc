"""A hand-written Google answer for the cases the sandbox is too well-behaved to give."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler


class StubGoogle(BaseHTTPRequestHandler):
    """A hand-written answer where the sandbox is too well-behaved (a looping page token, a batch
    answer missing a part): subclasses write do_GET/do_POST with `reply`."""

    def reply(self, content_type: str, data: bytes, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass
