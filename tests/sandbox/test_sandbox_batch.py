"""Batch: googleapiclient's own BatchHttpRequest round-trips through the sandbox."""

from __future__ import annotations

import json

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

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
