"""googleapiclient's batch request with its MIME work done by plain string handling.

Why: `BatchHttpRequest` writes every part through `email.generator` (with header folding) and reads
the answer with `email.feedparser`. For a trust's roster read (6,037 parts) that was about 60 % of
the client's CPU (measured with yappi in docs/benchmarks.md). The wire format does not change: a
``multipart/mixed`` body of ``application/http`` parts, each a complete HTTP request carrying its
own Authorization header, matched back by ``Content-ID``; requests, credentials, 401 refreshes and
response post-processing (`request.postproc`, the JSON model) are still googleapiclient's own.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import unquote, urlsplit

import httplib2
from googleapiclient import _auth
from googleapiclient.errors import BatchError, HttpError
from googleapiclient.http import BatchHttpRequest, HttpRequest

# What a part answers when the batch response has no part for it: retried like a 502 would be.
MISSING_PART_STATUS = 502
_MISSING_PART_BODY = (b'{"error": {"code": 502, "message": "The batch response had no part for this request.", '
                      b'"status": "UNAVAILABLE"}}')
_BOUNDARY = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)


class LeanBatchHttpRequest(BatchHttpRequest):
    """A `BatchHttpRequest` that builds and parses the multipart body with string operations."""

    def _serialize_request(self, request: HttpRequest, auth: dict[int, dict[str, str]] | None = None) -> str:
        """One inner request in ``application/http`` form, as the library writes it, minus folding.
        `auth` keeps the credential headers per transport for one batch: its parts share one."""
        parsed = urlsplit(request.uri)
        target = parsed.path + ("?" + parsed.query if parsed.query else "")
        headers = dict(request.headers)
        if request.http is not None:
            known = auth.get(id(request.http)) if auth is not None else None
            if known is None:
                known = {}
                credentials = _auth.get_credentials_from_http(request.http)
                if credentials is not None:
                    _auth.apply_credentials(credentials, known)
                if auth is not None:
                    auth[id(request.http)] = known
            headers.update(known)
        content_type = headers.pop("content-type", "application/json")
        lines = [f"{request.method} {target} HTTP/1.1", f"Content-Type: {content_type}"]
        lines += [f"{name}: {value}" for name, value in headers.items() if name.lower() != "host"]
        lines.append(f"Host: {parsed.netloc}")
        body = request.body
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        if body is not None:
            lines.append(f"Content-Length: {len(body.encode('utf-8'))}")
        if any("\n" in line or "\r" in line for line in lines):
            raise BatchError("A header of a batched request contains a line break.")
        return "\r\n".join(lines) + "\r\n\r\n" + (body or "")

    def _execute(self, http, order, requests) -> None:
        """Send the parts in one POST and store (response, content) per request id."""
        boundary = "batch_" + uuid.uuid4().hex
        auth: dict[int, dict[str, str]] = {}  # per call: a 401 refresh re-runs this with new tokens
        chunks = [
            f"--{boundary}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
            f"Content-ID: {self._id_to_header(request_id)}\r\n\r\n"
            f"{self._serialize_request(requests[request_id], auth)}\r\n"
            for request_id in order
        ]
        chunks.append(f"--{boundary}--\r\n")
        resp, content = http.request(self._batch_uri, method="POST", body="".join(chunks),
                                     headers={"content-type": f"multipart/mixed; boundary={boundary}"})
        if resp.status >= 300:
            raise HttpError(resp, content, uri=self._batch_uri)
        answers = parse_batch_response(resp.get("content-type", ""), content, resp)
        for request_id in order:
            if request_id in answers:
                self._responses[request_id] = answers[request_id]
            else:
                missing = httplib2.Response({"status": str(MISSING_PART_STATUS), "content-type": "application/json"})
                missing.reason = "Bad Gateway"
                self._responses[request_id] = (missing, _MISSING_PART_BODY)


def parse_batch_response(content_type: str, content: bytes | str,
                         resp: httplib2.Response | None = None) -> dict[str, tuple[httplib2.Response, bytes]]:
    """{request id: (response, body)} from a batch answer; raises BatchError if it is not one.

    The answer's part for a request sent as ``Content-ID: <base + id>`` carries
    ``Content-ID: <response-base + id>`` (Google's form). Accepts CRLF or bare LF line ends and
    folded headers."""
    match = _BOUNDARY.search(content_type)
    if not content_type.lower().startswith("multipart/") or not match:
        raise BatchError("Response not in multipart/mixed format.", resp=resp, content=content)
    boundary = match.group(1) or match.group(2)
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    answers: dict[str, tuple[httplib2.Response, bytes]] = {}
    for segment in text.split("--" + boundary)[1:]:
        if segment.startswith("--"):
            break  # the close delimiter
        segment = _strip_line_end(segment.split("\n", 1)[1] if "\n" in segment else "")
        part_headers, inner = _split_head(segment)
        content_id = part_headers.get("content-id", "")
        if not content_id:
            raise BatchError("A part of the batch response has no Content-ID.", resp=resp, content=content)
        answers[part_id(content_id)] = _inner_response(inner, resp, content)
    return answers


def _inner_response(inner: str, resp, content) -> tuple[httplib2.Response, bytes]:
    status_line, _, rest = inner.partition("\n")
    fields = status_line.strip().split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
        raise BatchError(f"A part of the batch response has no status line: {status_line[:80]!r}",
                         resp=resp, content=content)
    headers, body = _split_head(rest)
    headers["status"] = fields[1]
    response = httplib2.Response(headers)
    response.reason = fields[2] if len(fields) > 2 else ""
    response.version = int(fields[0].split("/", 1)[1].replace(".", "") or 11)
    return response, body.encode("utf-8")


def _split_head(text: str) -> tuple[dict[str, str], str]:
    """(lower-cased headers, body) of an HTTP/MIME entity; folded header lines are unfolded."""
    crlf, lf = text.find("\r\n\r\n"), text.find("\n\n")
    if crlf != -1 and (lf == -1 or crlf <= lf):
        head, body = text[:crlf], text[crlf + 4:]
    elif lf != -1:
        head, body = text[:lf], text[lf + 2:]
    else:
        head, body = text, ""
    headers: dict[str, str] = {}
    name = ""
    for line in head.replace("\r\n", "\n").split("\n"):
        if line[:1] in (" ", "\t") and name:
            headers[name] += " " + line.strip()
        elif ":" in line:
            name, value = line.split(":", 1)
            name = name.strip().lower()
            headers[name] = value.strip()
    return headers, body


def _strip_line_end(segment: str) -> str:
    """The line break before the next delimiter belongs to the delimiter (RFC 2046)."""
    if segment.endswith("\r\n"):
        return segment[:-2]
    return segment[:-1] if segment.endswith("\n") else segment


def part_id(header: str) -> str:
    """``<response-base + id>`` (or a request's ``<base + id>``) → ``id`` (unquoted), whatever whitespace
    folding did to the ``+``."""
    inner = header.strip()
    inner = inner[1:-1] if inner.startswith("<") and inner.endswith(">") else inner
    return unquote(inner.split("+", 1)[1].strip()) if "+" in inner else unquote(inner)
