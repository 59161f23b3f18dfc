"""Batch: googleapiclient's own BatchHttpRequest round-trips through the sandbox."""

from __future__ import annotations

import email
import email.policy
import json
import re

import pytest
import requests
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from sandbox.batch import parse_parts
from sandbox.model import SCOPE
from sandbox.server import SandboxServer


def _run_batch(url, requests_by_id):
    results = {}
    batch = BatchHttpRequest(batch_uri=url + "/batch",
                             callback=lambda rid, resp, exc: results.__setitem__(rid, (resp, exc)))
    for rid, request in requests_by_id.items():
        batch.add(request, request_id=rid)
    batch.execute()
    return results


def test_directory_batch_round_trip(server, directory):
    users = [u for u in server.domain.users if not u.deleted][:6]
    results = _run_batch(server.url, {u.id: directory.users().get(userKey=u.primary_email) for u in users}
                         | {"ghost": directory.users().get(userKey="ghost@nowhere.example")})
    assert {rid: resp["primaryEmail"] for rid, (resp, exc) in results.items() if resp} == \
        {u.id: u.primary_email for u in users}
    assert isinstance(results["ghost"][1], HttpError) and results["ghost"][1].status_code == 404
    inner = [e for e in server.log if e.batch]
    assert len(inner) == 7 and all(e.method_id == "directory.users.get" for e in inner)
    assert [e.method_id for e in server.log if not e.batch][-1] == "batch"
    assert server.problems() == []


def test_classroom_batches_are_capped_at_50(server, classroom):
    course = server.domain.courses[0]
    with pytest.raises(HttpError) as err:
        _run_batch(server.url, {str(i): classroom.courses().get(id=course.id) for i in range(51)})
    assert err.value.status_code == 400
    assert "50" in json.loads(err.value.content)["error"]["message"]
    ok = _run_batch(server.url, {str(i): classroom.courses().get(id=course.id) for i in range(50)})
    assert all(resp["id"] == course.id for resp, _ in ok.values())


def test_faults_apply_to_each_inner_request(tiny_school):
    with SandboxServer(tiny_school, fault_rate=0.5, seed=11) as srv:
        token = srv.access_token(tiny_school.admin_email, ["https://www.googleapis.com/auth/admin.directory.user"])
        svc = build("admin", "directory_v1", credentials=Credentials(token), client_options={"api_endpoint": srv.url})
        srv.faults.set_rate(0.0)
        users = svc.users().list(customer="my_customer").execute()["users"]
        srv.faults.set_rate(0.5, seed=11)
        results = _run_batch(srv.url, {u["id"]: svc.users().get(userKey=u["id"]) for u in users})
        failed = [exc for _, exc in results.values() if exc is not None]
        assert 0 < len(failed) < len(users)
        assert {e.status_code for e in failed} <= {429, 403, 500, 503}


def _email_parts(content_type: str, body: str) -> list[tuple[str, str]]:
    """(Content-ID, payload) per part as the `email` package reads them (folds undone per RFC 5322)."""
    message = email.message_from_string(f"Content-Type: {content_type}\n\n{body}", policy=email.policy.compat32)
    return [(re.sub(r"\r?\n(?=[ \t])", "", str(p.get("Content-ID", ""))), p.get_payload().replace("\r\n", "\n"))
            for p in message.get_payload()]


LIBRARY_STYLE = (  # googleapiclient's own BatchHttpRequest: LF lines, folded long Content-IDs, quoted boundary
    'preamble\n--===b==\nContent-Type: application/http\nMIME-Version: 1.0\nContent-ID: \n <0f3a-9c + x>\n\n'
    'GET /admin/directory/v1/users/a%40b.org?alt=json HTTP/1.1\nauthorization: Bearer t\nHost: h\n\n\n'
    '--===b==\nContent-Type: application/http\nContent-ID: <0f3a-9c +\n 123%2B%C3%A9%200>\n\n'
    'PATCH /v1/courses/1?updateMask=name HTTP/1.1\nContent-Type: application/json\ncontent-length: 13\n\n'
    '{"name": "x"}\n--===b==--\nepilogue\n')


@pytest.mark.parametrize("line_end", ["\n", "\r\n"])
@pytest.mark.parametrize("quoted", [True, False])
def test_parts_are_read_as_the_email_package_reads_them(line_end, quoted):
    body = LIBRARY_STYLE.replace("\n", line_end)
    content_type = 'multipart/mixed; boundary="===b=="' if quoted else "multipart/mixed; boundary====b=="
    parts = parse_parts(content_type, body.encode())
    assert [(cid.strip(), method, target) for cid, method, target, _, _ in parts] == [
        ("<0f3a-9c + x>", "GET", "/admin/directory/v1/users/a%40b.org?alt=json"),
        ("<0f3a-9c + 123%2B%C3%A9%200>", "PATCH", "/v1/courses/1?updateMask=name")]
    assert parts[0][3] == {"authorization": "Bearer t", "Host": "h"} and parts[0][4] == b""
    assert parts[1][4] == b'{"name": "x"}'
    reference = _email_parts(content_type, body)
    assert [cid for cid, _ in reference] == [p[0] for p in parts]
    assert [payload.partition("\n\n")[2].encode() for _, payload in reference] == [p[4] for p in parts]


def test_a_body_that_is_not_multipart_is_a_400(server, directory):
    token = server.access_token(server.domain.admin_email, [SCOPE + "admin.directory.user.readonly"])
    for content_type, body in (("application/json", "{}"), ("multipart/mixed; boundary=b", "no delimiter\n")):
        resp = requests.post(server.url + "/batch", data=body, timeout=10,
                             headers={"Content-Type": content_type, "Authorization": f"Bearer {token}"})
        assert resp.status_code == 400 and resp.json()["error"]["message"] == "Invalid multipart request."


def test_the_librarys_folded_content_ids_come_back_whole(server, directory):
    users = [u for u in server.domain.users if not u.deleted][:3]
    ids = {f"{u.id}+é {'long' * 8}": u for u in users}  # long enough for the library to fold the header
    results = _run_batch(server.url, {rid: directory.users().get(userKey=u.primary_email) for rid, u in ids.items()})
    assert {rid: resp["primaryEmail"] for rid, (resp, _) in results.items()} == \
        {rid: u.primary_email for rid, u in ids.items()}
    inner = [e for e in server.log if e.batch]
    assert [e.path for e in inner] == [f"/admin/directory/v1/users/{u.primary_email}" for u in users]
    assert all(e.subject == server.domain.admin_email and e.status == 200 for e in inner)
