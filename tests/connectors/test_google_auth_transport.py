"""The shared Google plumbing against the sandbox: the real JWT flow, delegation per user,
retries with backoff on transient errors only, and errors that name the missing scope."""

from __future__ import annotations

import json

import pytest

from connectors.google.auth import KeyFile
from connectors.google.scopes import SCOPES
from integration.errors import SourceRefused, TransientError
from sandbox.token import new_private_key


def users_list(client, subject):
    req = client.service("directory").users().list(customer="my_customer", maxResults=1)
    return client.execute("directory", req, subject=subject, scopes=SCOPES["directory"])


def test_the_real_jwt_bearer_flow_gets_a_token_from_the_keys_token_uri(google):
    g = google()
    client = g.client()
    client.check_token(g.admin, SCOPES["directory"])
    assert client.stats.round_trips == {"oauth2": 1}
    assert users_list(client, g.admin)["users"]
    assert client.stats.round_trips["oauth2"] == 1  # the token is cached per (user, scopes)


def test_an_untrusted_key_is_refused_with_an_operator_message(google, tmp_path):
    g = google()
    info = json.loads(g.key.path.read_text())
    from cryptography.hazmat.primitives import serialization

    other = new_private_key(cache_slot=99).private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()).decode()
    path = tmp_path / "other.json"
    path.write_text(json.dumps({**info, "private_key": other}))
    client = g.client()
    client.key = KeyFile(path)
    from connectors.google.auth import CredentialCache

    client._creds = CredentialCache(client.key)
    with pytest.raises(SourceRefused) as err:
        client.check_token(g.admin, SCOPES["directory"])
    assert "invalid_grant" in err.value.reason and err.value.fix


def test_each_user_is_impersonated_with_their_own_token(google):
    g = google()
    client = g.client()
    staff = next(u for u in g.domain.users if u.role_truth == "staff").primary_email
    users_list(client, g.admin)
    req = client.service("drive").files().list(pageSize=1)
    client.execute("drive", req, subject=staff, scopes=SCOPES["drive"])
    subjects = {e.api: e.subject for e in g.server.requests()}
    assert subjects == {"directory": g.admin, "drive": staff}


@pytest.mark.parametrize("api,status,reason", [
    ("directory", 429, "rateLimitExceeded"),
    ("directory", 403, "userRateLimitExceeded"),
    ("directory", 403, "quotaExceeded"),
    ("directory", 500, "backendError"),
    ("directory", 503, "backendError"),
    ("classroom", 429, "RESOURCE_EXHAUSTED"),
])
def test_transient_errors_are_retried_with_backoff(google, api, status, reason):
    g = google()
    g.server.fail_api(api, status, reason, "try again")
    client = g.client(sleep=lambda delay: (g.sleeps.append(delay), g.server.clear_failures()))
    if api == "directory":
        assert users_list(client, g.admin)["users"]
    else:
        req = client.service("classroom").courses().list(pageSize=1)
        assert client.execute("classroom", req, subject=g.admin, scopes=SCOPES["classroom"])["courses"]
    assert len(g.sleeps) == 1 and 0 < g.sleeps[0] <= client.backoff_max
    assert [e.status for e in g.server.requests()] == [status, 200]


def test_backoff_grows_and_gives_up_after_max_attempts(google):
    g = google()
    g.server.fail_api("directory", 503)
    client = g.client(max_attempts=4)
    with pytest.raises(TransientError):
        users_list(client, g.admin)
    assert len(g.sleeps) == 3 and len(g.server.requests()) == 4
    caps = [min(client.backoff_max, client.backoff_base * 2 ** n) for n in range(3)]
    assert all(cap / 2 <= s <= cap for s, cap in zip(g.sleeps, caps, strict=True))


def test_a_permission_error_is_not_retried_and_names_the_missing_scope(google):
    g = google()
    g.server.fail_api("classroom", 403, "insufficientPermissions", "Request had insufficient authentication scopes.")
    client = g.client()
    req = client.service("classroom").courses().list(pageSize=1)
    with pytest.raises(SourceRefused) as err:
        client.execute("classroom", req, subject=g.admin, scopes=SCOPES["classroom"])
    assert g.sleeps == [] and len(g.server.requests()) == 1
    assert "classroom.rosters.readonly" in err.value.scope and "Domain-wide delegation" in err.value.fix
    assert err.value.api == "classroom"


def test_a_scope_missing_from_delegation_is_named_at_the_token_exchange(google):
    g = google()
    g.domain.revoke_scope("admin.directory.orgunit.readonly")
    client = g.client()
    with pytest.raises(SourceRefused) as err:
        client.check_token(g.admin, SCOPES["directory"])
    assert err.value.reason == "unauthorized_client"
    assert "admin.directory.orgunit.readonly" in str(err.value) and "doctor --scopes" in err.value.fix
    client.check_token(g.admin, SCOPES["classroom"])  # other groups still work: doctor checks one group each


def test_a_bare_403_names_the_admin_not_a_scope(google):
    g = google()
    g.server.fail_api("directory", 403, "forbidden", "Not Authorized to access this resource/api")
    with pytest.raises(SourceRefused) as err:
        users_list(g.client(), g.admin)
    assert g.admin in str(err.value) and "admin" in err.value.fix
