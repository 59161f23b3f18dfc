"""Sign-in end to end through the sandbox as Google's OpenID provider: discovery, the account chooser,
the code exchange at the token endpoint, an RS256 ID token with hd verified against the provider's
certs. Each role lands where it may go; a school account without a role and a consumer account are
refused; a code is single-use."""

from __future__ import annotations

import jwt
import pytest
import requests
from school_env import LiveServer, app_for, build_school, google_sign_in


@pytest.fixture
def school(tmp_path, database_url):
    s = build_school(tmp_path, database_url)
    yield s
    s.ctx.store.dispose()
    s.server.stop()


def test_discovery_and_jwks_are_googles_shape(school):
    doc = requests.get(school.server.url + "/.well-known/openid-configuration", timeout=10).json()
    assert doc["issuer"] == "https://accounts.google.com"
    assert {"authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"} <= set(doc)
    assert doc["id_token_signing_alg_values_supported"] == ["RS256"] and "openid" in doc["scopes_supported"]
    keys = requests.get(doc["jwks_uri"], timeout=10).json()["keys"]
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["kid"]


def test_every_role_signs_in_through_the_provider(school):
    with LiveServer(app_for(school)) as live:
        for email, page, allowed, refused in ((school.dsl, "/findings", "Findings", "/admin/setup"),
                                              (school.admin, "/admin/setup", "Setup", "/findings"),
                                              (school.viewer, "/", "Status", "/findings")):
            http = requests.Session()
            landed = google_sign_in(http, live.url, email)
            assert landed.status_code == 200 and landed.url.rstrip("/") == live.url, landed.text[:300]
            assert email in landed.text
            assert allowed in http.get(live.url + page).text
            assert http.get(live.url + refused).status_code == 403
    assert school.server.app.extensions["sandbox"].oidc.sign_ins == [school.dsl, school.admin, school.viewer]


def test_the_id_token_carries_hd_and_the_nonce(school):
    provider = school.server.app.extensions["sandbox"].oidc
    with LiveServer(app_for(school)) as live:
        google_sign_in(requests.Session(), live.url, school.dsl)
    # the token the app verified: ask the provider for another code and look at what it signs
    form = {"client_id": provider.client_id, "response_type": "code", "scope": "openid email", "state": "s",
            "nonce": "n-123", "redirect_uri": "http://127.0.0.1/cb", "email": school.dsl}
    code = requests.post(school.server.url + "/o/oauth2/v2/auth", data=form, allow_redirects=False,
                         timeout=10).headers["Location"].split("code=")[1].split("&")[0]
    from urllib.parse import unquote

    exchange = {"grant_type": "authorization_code", "code": unquote(code), "client_id": provider.client_id,
                "client_secret": provider.client_secret, "redirect_uri": "http://127.0.0.1/cb"}
    body = requests.post(school.server.url + "/token", data=exchange, timeout=10).json()
    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert (claims["hd"], claims["email"], claims["nonce"], claims["aud"]) == (
        school.domain.domain, school.dsl, "n-123", provider.client_id)
    again = requests.post(school.server.url + "/token", data=exchange, timeout=10)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"  # single use


def test_an_account_without_a_role_is_refused(school):
    with school.domain.lock:
        nobody = next(u.primary_email for u in school.domain.live_users()
                      if u.role_truth == "pupil" and not u.suspended)
    with LiveServer(app_for(school)) as live:
        http = requests.Session()
        r = google_sign_in(http, live.url, nobody)
        assert r.status_code == 403 and "not authorised" in r.text
        assert http.get(live.url + "/findings", allow_redirects=False).status_code == 302
