"""Google sign-in: the OIDC code flow, with the ID token verified against (test) Google certs and
held to the school's domain by both the hd claim and the address; dev sign-in only on localhost."""

from __future__ import annotations

import stat
import time
from urllib.parse import parse_qs, urlparse

import pytest
from web_env import ADMIN, CLIENT_ID, DOMAIN, DSL, SigningKey, make_app

from integration.errors import ConfigError


def start(client) -> dict:
    r = client.get("/auth/google")
    assert r.status_code == 302
    url = urlparse(r.headers["Location"])
    assert url.netloc == "accounts.google.com"
    return {k: v[0] for k, v in parse_qs(url.query).items()}


def id_token(google, params: dict, **overrides) -> str:
    now = int(time.time())
    c = {"iss": "https://accounts.google.com", "aud": CLIENT_ID, "sub": "10769150350006150715113082367",
         "email": DSL, "email_verified": True, "hd": DOMAIN, "name": "Dana Lee", "nonce": params["nonce"],
         "iat": now, "exp": now + 3600}
    c.update(overrides)
    return google.key.sign({k: v for k, v in c.items() if v is not None})


def test_the_sign_in_request_asks_google_for_the_school_domain(client):
    params = start(client)
    assert params["hd"] == DOMAIN and params["client_id"] == CLIENT_ID
    assert params["response_type"] == "code" and "openid" in params["scope"].split()
    assert params["redirect_uri"].endswith("/auth/callback")
    assert len(params["state"]) >= 24 and len(params["nonce"]) >= 24


def test_a_school_dsl_signs_in_with_a_verified_id_token(client, google):
    params = start(client)
    google.id_token = id_token(google, params)
    r = client.get(f"/auth/callback?code=4/0AbCd&state={params['state']}")
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert "code=4%2F0AbCd" in google.token_posts[0] and "client_secret=test-secret" in google.token_posts[0]
    page = client.get("/findings")
    assert page.status_code == 200 and DSL in page.get_data(as_text=True)


@pytest.mark.parametrize("overrides", [
    {"hd": "othertrust.sch.uk"},
    {"hd": None},
    {"email": "dsl@gmail.com"},
    {"email": f"dsl@{DOMAIN}.evil.com"},
    {"email_verified": False},
    {"aud": "another-client.apps.googleusercontent.com"},
    {"iss": "https://login.example.com"},
    {"exp": int(time.time()) - 60, "iat": int(time.time()) - 3700},
    {"nonce": "replayed-nonce"},
    {"email": f"stranger@{DOMAIN}"},
], ids=["other hd", "consumer account", "address outside domain", "look-alike domain", "unverified",
        "other audience", "other issuer", "expired", "wrong nonce", "no role"])
def test_sign_in_is_refused(client, google, overrides):
    params = start(client)
    google.id_token = id_token(google, params, **overrides)
    r = client.get(f"/auth/callback?code=x&state={params['state']}")
    assert r.status_code == 403
    assert client.get("/").status_code == 302  # still signed out


def test_a_token_signed_by_someone_else_is_refused(client, google):
    params = start(client)
    forger = SigningKey()
    forger.kid = google.key.kid
    google.id_token = forger.sign({"iss": "https://accounts.google.com", "aud": CLIENT_ID, "email": DSL,
                                   "email_verified": True, "hd": DOMAIN, "nonce": params["nonce"],
                                   "iat": int(time.time()), "exp": int(time.time()) + 600})
    assert client.get(f"/auth/callback?code=x&state={params['state']}").status_code == 403


def test_a_callback_without_our_state_is_refused(client, google):
    params = start(client)
    google.id_token = id_token(google, params)
    assert client.get("/auth/callback?code=x&state=forged").status_code == 403
    assert google.token_posts == []


def test_dev_sign_in_shows_a_banner_and_works_only_from_localhost(client, app):
    page = client.get("/auth/login").get_data(as_text=True)
    assert "Development sign-in is on" in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    remote = app.test_client()
    remote.get("/auth/login")
    r = remote.post("/auth/dev", data={"email": DSL, "csrf_token": token},
                    environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert r.status_code in (400, 404)
    r = client.post("/auth/dev", data={"email": ADMIN, "csrf_token": token})
    assert r.status_code == 302
    assert "Development sign-in is on" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("host", [None, "0.0.0.0", "10.0.0.4", "safechannels.northfield.sch.uk"])
def test_dev_login_is_refused_unless_bound_to_localhost(ctx, host):
    with pytest.raises(ConfigError, match="dev_login"):
        make_app(ctx, bind_host=host)


def test_production_cookies_are_secure_and_the_key_file_is_created_private(ctx, tmp_path):
    ctx.settings.web.dev_login = False
    app = make_app(ctx, bind_host=None)
    key = tmp_path / "keys" / "web.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert make_app(ctx, bind_host=None).secret_key == app.secret_key  # reused, not replaced
    client = app.test_client()
    client.get("/auth/google", base_url="https://safechannels.northfield.sch.uk")
    cookie = client.get_cookie("safechannels_session", domain="safechannels.northfield.sch.uk")
    assert cookie is not None and cookie.secure and cookie.http_only and cookie.same_site == "Lax"
    assert client.post("/auth/dev", data={"email": DSL}).status_code in (400, 404)
