"""The lean batch path: same wire format and answers as googleapiclient's BatchHttpRequest, with
its MIME handling replaced by string operations (see connectors/google/batching.py)."""

from __future__ import annotations

import json
import re

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import BatchError, HttpError
from googleapiclient.http import BatchHttpRequest
from stub_env import StubGoogle

from connectors.google.batching import LeanBatchHttpRequest, parse_batch_response
from connectors.google.scopes import SCOPES
from connectors.google.transport import GoogleClient


def _answers(batch_cls, url, requests):
    results = {}
    batch = batch_cls(batch_uri=url + "/batch", callback=lambda rid, resp, exc: results.__setitem__(rid, (resp, exc)))
    for rid, request in requests.items():
        batch.add(request, request_id=rid)
    batch.execute()
    return results


def test_the_lean_batch_answers_exactly_as_the_librarys_own(google):
    g = google()
    token = g.server.access_token(g.admin, list(SCOPES["directory"]))
    svc = build("admin", "directory_v1", credentials=Credentials(token), client_options={"api_endpoint": g.server.url},
                static_discovery=True)
    users = [u for u in g.domain.users if not u.deleted][:8]

    def requests():  # request ids with characters that need quoting in a Content-ID
        return {f"{u.id}+é {i}": svc.users().get(userKey=u.primary_email, fields="id,primaryEmail,name")
                for i, u in enumerate(users)} | {"ghost": svc.users().get(userKey="ghost@nowhere.example")}

    lean = _answers(LeanBatchHttpRequest, g.server.url, requests())
    library = _answers(BatchHttpRequest, g.server.url, requests())
    assert {k: v[0] for k, v in lean.items()} == {k: v[0] for k, v in library.items()}
    assert {k: v[0]["primaryEmail"] for k, v in lean.items() if v[0]} == \
        {f"{u.id}+é {i}": u.primary_email for i, u in enumerate(users)}
    assert isinstance(lean["ghost"][1], HttpError) and lean["ghost"][1].status_code == 404
    assert lean["ghost"][1].content == library["ghost"][1].content
    # every inner request passed the sandbox's discovery-document check, with its own Authorization
    assert g.server.problems() == []
    inner = [e for e in g.server.log if e.batch]
    assert len(inner) == 2 * len(requests()) and {e.method_id for e in inner} == {"directory.users.get"}


def test_a_google_style_answer_with_bare_line_feeds_and_folded_ids_is_read():
    content = (
        'preamble\n--batch_x\nContent-Type: application/http\nContent-ID:\n <response-0f3a + a%20b>\n\n'
        'HTTP/1.1 200 OK\nContent-Type: application/json; charset=UTF-8\nVary: Origin\n\n{"id": "1", "name": "é"}\n'
        '--batch_x\r\nContent-Type: application/http\r\nContent-ID: <response-0f3a+c>\r\n\r\n'
        'HTTP/1.1 204 No Content\r\n\r\n\r\n'
        '--batch_x--\n')
    answers = parse_batch_response('multipart/mixed; boundary="batch_x"', content.encode())
    assert set(answers) == {"a b", "c"}
    resp, body = answers["a b"]
    assert resp.status == 200 and resp["content-type"].startswith("application/json")
    assert json.loads(body) == {"id": "1", "name": "é"}
    assert answers["c"][0].status == 204 and answers["c"][1] == b""


@pytest.mark.parametrize("content_type, content, problem", [
    ("text/html", b"<html>proxy error</html>", "multipart"),
    ("multipart/mixed; boundary=b", b"--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 200 OK\r\n\r\n{}\r\n--b--",
     "Content-ID"),
    ("multipart/mixed; boundary=b", b"--b\r\nContent-ID: <response-x+1>\r\n\r\n<html>\r\n--b--", "status line"),
])
def test_an_answer_that_is_not_a_batch_is_refused_by_name(content_type, content, problem):
    with pytest.raises(BatchError, match=problem):
        parse_batch_response(content_type, content)


class _DropsFirstPartOnce(StubGoogle):
    """A batch endpoint that leaves the first part out of its first answer, then answers in full."""

    seen: list[list[str]] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        ids = re.findall(r"Content-ID: <([^>]+)>", body)
        type(self).seen.append(ids)
        answer = ids[1:] if len(type(self).seen) == 1 else ids
        parts = "".join(f"--b1\r\nContent-Type: application/http\r\nContent-ID: <response-{cid}>\r\n\r\n"
                        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"
                        f'{{"id": "{cid.split("+")[1].strip()}"}}\r\n' for cid in answer)
        self.reply("multipart/mixed; boundary=b1", (parts + "--b1--\r\n").encode())


def test_a_part_missing_from_the_answer_is_retried_not_lost(google, stub_google):
    g = google()
    _DropsFirstPartOnce.seen = []
    client = GoogleClient(g.key, api_base_url=stub_google(_DropsFirstPartOnce), sleep=g.sleeps.append)
    users = client.resource("directory", "users")
    reqs = [(f"k{i}", users.get(userKey=f"u{i}@example.org")) for i in range(3)]
    out = {key: (resp, err) for key, resp, err in client.batch("directory", reqs, subject=g.admin,
                                                                 scopes=SCOPES["directory"])}
    assert {k: v[0] for k, v in out.items()} == {"k0": {"id": "k0"}, "k1": {"id": "k1"}, "k2": {"id": "k2"}}
    assert all(err is None for _, err in out.values())
    assert [len(ids) for ids in _DropsFirstPartOnce.seen] == [3, 1] and len(g.sleeps) == 1
    assert client.stats.api_calls == 4  # three parts, then the missing one again
