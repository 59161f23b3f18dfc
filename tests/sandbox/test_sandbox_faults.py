"""Fault injection: seeded transient errors in Google's bodies, and permanent API refusals."""

from __future__ import annotations

import json

import googleapiclient.http
import pytest
import requests
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from sandbox.model import SCOPE
from sandbox.server import SandboxServer


def _statuses(srv, n=200):
    token = srv.access_token(srv.domain.admin_email, [SCOPE + "admin.directory.user.readonly",
                                                      SCOPE + "classroom.courses.readonly"])
    headers = {"Authorization": f"Bearer {token}"}
    out = []
    with requests.Session() as http:
        for i in range(n):
            path, params = (("/admin/directory/v1/users", {"customer": "my_customer"}) if i % 2
                            else ("/v1/courses", {}))
            resp = http.get(srv.url + path, params=params, headers=headers, timeout=10)
            out.append((path, resp.status_code, resp.json()))
    return out


def test_fault_rate_is_seeded_and_roughly_respected(tiny_school):
    with SandboxServer(tiny_school, fault_rate=0.3, seed=5) as a:
        first = [s for _, s, _ in _statuses(a)]
    with SandboxServer(tiny_school, fault_rate=0.3, seed=5) as b:
        second = [s for _, s, _ in _statuses(b)]
    assert first == second
    failed = sum(1 for s in first if s != 200)
    assert 35 <= failed <= 85
    assert {s for s in first if s != 200} <= {429, 403, 500, 503}


def test_error_bodies_have_googles_two_shapes(tiny_school):
    with SandboxServer(tiny_school, fault_rate=1.0, seed=1) as srv:
        results = _statuses(srv, 40)
        assert all(e.fault for e in srv.log)
    for path, status, body in results:
        error = body["error"]
        assert error["code"] == status and error["message"] and error["status"]
        if path.startswith("/v1/"):  # Classroom: gRPC style
            assert "errors" not in error
            assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"
        else:
            assert error["errors"][0]["reason"] in {"rateLimitExceeded", "userRateLimitExceeded", "backendError"}
            if status == 403:
                assert error["errors"][0] == {"message": "Rate Limit Exceeded", "domain": "usageLimits",
                                              "reason": "userRateLimitExceeded"}


def test_a_failed_api_stays_failed_until_cleared(server, classroom, directory):
    server.fail_api("classroom", status=403)
    with pytest.raises(HttpError) as err:
        classroom.courses().list().execute()
    error = json.loads(err.value.content)["error"]
    assert error["status"] == "PERMISSION_DENIED"
    assert error["details"][0]["reason"] == "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
    assert directory.users().list(customer="my_customer").execute()["users"]
    server.clear_failures()
    assert classroom.courses().list().execute()["courses"]


def test_googleapiclient_retries_injected_faults(tiny_school, monkeypatch):
    monkeypatch.setattr(googleapiclient.http.time, "sleep", lambda seconds: None)  # skip the client's backoff
    with SandboxServer(tiny_school, fault_rate=0.5, seed=3) as srv:
        token = srv.access_token(tiny_school.admin_email, [SCOPE + "admin.directory.user.readonly"])
        svc = build("admin", "directory_v1", credentials=Credentials(token), client_options={"api_endpoint": srv.url})
        assert svc.users().list(customer="my_customer").execute(num_retries=10)["users"]
        assert any(e.fault for e in srv.log)
