"""The token endpoint and API auth answer exactly like Google's, driven by google-auth itself."""

from __future__ import annotations

import json
import time

import jwt
import pytest
import requests
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from sandbox.model import SCOPE
from sandbox.token import GOOGLE_TOKEN_URI, JWT_GRANT, new_private_key, service_account

USERS = SCOPE + "admin.directory.user.readonly"


def test_google_auth_gets_a_token_for_the_delegated_admin(server, credentials):
    creds = credentials([USERS])
    creds.refresh(Request())
    assert creds.token.startswith("ya29.")
    grant = server.state.tokens.lookup(creds.token)
    assert grant.subject_email == server.domain.admin_email and grant.scopes == {USERS}


def _assertion(server, *, key=None, sub=None, scope=USERS, iat=None, lifetime=3600, iss=None):
    account = service_account(server.domain)
    now = int(time.time()) if iat is None else iat
    claims = {"iss": iss or account.email, "aud": GOOGLE_TOKEN_URI, "scope": scope, "iat": now, "exp": now + lifetime,
              "sub": sub or server.domain.admin_email}
    return jwt.encode(claims, key or account.private_key, algorithm="RS256")


def _post(server, assertion):
    resp = requests.post(server.token_uri, data={"grant_type": JWT_GRANT, "assertion": assertion}, timeout=10)
    return resp.status_code, resp.json()


def test_a_key_the_sandbox_does_not_trust_is_an_invalid_signature(server):
    status, body = _post(server, _assertion(server, key=new_private_key(999)))
    assert (status, body) == (400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})


def test_an_unknown_or_suspended_subject_is_invalid_email_or_user_id(server):
    assert _post(server, _assertion(server, sub="nobody@example.org"))[1]["error_description"] == \
        "Invalid email or User ID"
    leaver = next(u for u in server.domain.users if u.suspended)
    status, body = _post(server, _assertion(server, sub=leaver.primary_email))
    assert (status, body["error"]) == (400, "invalid_grant")


def test_a_scope_not_delegated_is_unauthorized_client(server, credentials):
    server.domain.revoke_scope("admin.directory.user.readonly")
    with pytest.raises(RefreshError) as err:
        credentials([USERS]).refresh(Request())
    assert "unauthorized_client" in str(err.value)
    assert _post(server, _assertion(server))[0] == 401


def test_expired_or_overlong_assertions_are_refused(server):
    status, body = _post(server, _assertion(server, iat=int(time.time()) - 7300))
    assert status == 400 and "short-lived" in body["error_description"]
    assert "short-lived" in _post(server, _assertion(server, lifetime=7200))[1]["error_description"]


def test_an_unknown_service_account_is_account_not_found(server):
    assert _post(server, _assertion(server, iss="other@x.iam.gserviceaccount.com"))[1]["error_description"] == \
        "Invalid grant: account not found"


def test_api_calls_need_a_bearer_token(server):
    resp = requests.get(server.url + "/admin/directory/v1/users", params={"customer": "my_customer"}, timeout=10)
    assert resp.status_code == 401
    error = resp.json()["error"]
    assert error["status"] == "UNAUTHENTICATED" and error["errors"][0]["reason"] == "required"
    bad = requests.get(server.url + "/admin/directory/v1/users", params={"customer": "my_customer"},
                       headers={"Authorization": "Bearer ya29.forged"}, timeout=10)
    assert bad.status_code == 401 and bad.json()["error"]["errors"][0]["reason"] == "authError"


def test_a_token_without_the_methods_scope_is_insufficient_permissions(server, credentials):
    svc = build("admin", "directory_v1", credentials=credentials([SCOPE + "admin.directory.orgunit.readonly"]),
                client_options={"api_endpoint": server.url})
    with pytest.raises(HttpError) as err:
        svc.users().list(customer="my_customer").execute()
    body = json.loads(err.value.content)["error"]
    assert err.value.status_code == 403
    assert body["message"] == "Request had insufficient authentication scopes."
    assert body["errors"][0]["reason"] == "insufficientPermissions"


def test_directory_needs_an_admin_subject(server, credentials):
    teacher = next(u for u in server.domain.users if u.role_truth == "staff")
    svc = build("admin", "directory_v1", credentials=credentials([USERS], subject=teacher.primary_email),
                client_options={"api_endpoint": server.url})
    with pytest.raises(HttpError) as err:
        svc.users().list(customer="my_customer").execute()
    assert err.value.status_code == 403
    assert json.loads(err.value.content)["error"]["message"] == "Not Authorized to access this resource/api"


def test_classroom_emails_only_with_the_profile_emails_scope(server, credentials):
    def first_student(scopes):
        svc = build("classroom", "v1", credentials=credentials(scopes), client_options={"api_endpoint": server.url})
        course = svc.courses().list(courseStates=["ACTIVE"]).execute()["courses"][0]
        return svc.courses().students().list(courseId=course["id"]).execute()["students"][0]["profile"]

    rosters = [SCOPE + "classroom.courses.readonly", SCOPE + "classroom.rosters.readonly"]
    assert "emailAddress" not in first_student(rosters)
    assert first_student(rosters + [SCOPE + "classroom.profile.emails"])["emailAddress"].endswith(server.domain.domain)


def test_a_remembered_token_still_expires_and_dies_with_revoke_all(server, monkeypatch):
    store = server.state.tokens
    token = store.issue(server.domain.admin_email, [USERS], lifetime=60)
    assert store.lookup(token) == store.lookup(token) is not None  # the second answer is the remembered one
    later = time.time() + 120
    monkeypatch.setattr("sandbox.token.time.time", lambda: later)
    assert store.lookup(token) is None
    monkeypatch.undo()
    assert store.lookup(token) is not None
    store.revoke_all()
    assert store.lookup(token) is None
    assert store.lookup(token[:-2] + "xx") is None
