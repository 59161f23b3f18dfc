"""The sandbox as Google's OpenID provider for "Sign in with Google" (the authorization-code flow).

Shapes follow Google's OpenID Connect documentation (developers.google.com/identity/openid-connect/
openid-connect, and the live discovery document https://accounts.google.com/.well-known/openid-configuration):

- discovery at ``/.well-known/openid-configuration`` (issuer, authorization/token/userinfo endpoints,
  ``jwks_uri``, supported response types, scopes, claims, ``id_token_signing_alg_values_supported``);
- ``GET /o/oauth2/v2/auth`` (client_id, redirect_uri, response_type=code, scope with ``openid``, state,
  nonce, optional ``hd``, ``login_hint``, ``prompt``) shows an account chooser; choosing redirects to
  ``redirect_uri?state=…&code=…&scope=…&authuser=0&hd=…&prompt=…`` as Google does;
- ``POST /token`` with ``grant_type=authorization_code`` (code, client_id, client_secret, redirect_uri)
  answers ``{"access_token","expires_in","scope","token_type":"Bearer","id_token"}``;
- ``GET /oauth2/v3/certs``: the JWKS; ``/oauth2/v1/certs`` (PEM map) serves the same key;
- ID tokens: RS256 with ``iss`` https://accounts.google.com, ``aud`` = ``azp`` = client id, numeric ``sub``,
  ``email``, ``email_verified``, ``hd`` (Workspace accounts only), ``name``, ``given_name``,
  ``family_name``, ``nonce``, ``iat``, ``exp``, ``at_hash``.

One OAuth client per sandbox school (`oauth_client`), so a config written for it signs in at once.
Codes are single-use and expire after 10 minutes, like Google's.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlparse

import jwt
from flask import Flask, Request, Response, redirect, request

from sandbox.model import Domain
from sandbox.oidc import ISSUER, IdTokenSigner

AUTH_PATH = "/o/oauth2/v2/auth"
JWKS_PATH = "/oauth2/v3/certs"
USERINFO_PATH = "/v1/userinfo"
DISCOVERY_PATH = "/.well-known/openid-configuration"
CODE_LIFETIME = 600
AUTH_CODE_GRANT = "authorization_code"


def oauth_client(domain: Domain) -> tuple[str, str]:
    """(client id, client secret) of the school's Web OAuth client in the sandbox."""
    digest = hashlib.sha256(f"oauth-client:{domain.domain}:{domain.seed}".encode()).hexdigest()
    return f"{int(digest[:12], 16)}-sandbox{domain.seed}.apps.googleusercontent.com", "GOCSPX-" + digest[12:40]


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    email: str
    nonce: str
    scope: str
    expires: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class OidcProvider:
    def __init__(self, domain: Domain, signer: IdTokenSigner) -> None:
        self.domain = domain
        self.signer = signer
        self.client_id, self.client_secret = oauth_client(domain)
        self._codes: dict[str, _Grant] = {}
        self._lock = threading.Lock()
        self.sign_ins: list[str] = []  # addresses that completed the flow (tests read it)

    # -------------------------------------------------------------- documents

    def discovery(self, base: str) -> dict:
        return {
            "issuer": ISSUER, "authorization_endpoint": base + AUTH_PATH, "token_endpoint": base + "/token",
            "userinfo_endpoint": base + USERINFO_PATH, "jwks_uri": base + JWKS_PATH,
            "response_types_supported": ["code", "token", "id_token", "code token", "code id_token",
                                         "token id_token", "code token id_token", "none"],
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": ["aud", "email", "email_verified", "exp", "family_name", "given_name", "iat", "iss",
                                 "name", "picture", "sub"],
            "code_challenge_methods_supported": ["plain", "S256"], "grant_types_supported": [
                "authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code",
                "urn:ietf:params:oauth:grant-type:jwt-bearer"],
        }

    def jwks(self) -> dict:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.signer.private_key.public_key()))
        return {"keys": [{**jwk, "kid": self.signer.kid, "alg": "RS256", "use": "sig"}]}

    # -------------------------------------------------------------- the flow

    def _user(self, email: str):
        email = email.strip().lower()
        with self.domain.lock:
            user = self.domain.user_by_email().get(email)
        return user if user is not None and not user.suspended and not getattr(user, "deleted", False) else None

    def _check_request(self, args) -> str:
        """'' when the authorization request is one Google would accept, else the error text."""
        if args.get("client_id") != self.client_id:
            return "Error 401: invalid_client — The OAuth client was not found."
        if args.get("response_type") != "code":
            return "Error 400: unsupported_response_type"
        if "openid" not in args.get("scope", "").split():
            return "Error 400: invalid_scope — Some requested scopes were invalid (openid is required)."
        redirect_uri = urlparse(args.get("redirect_uri", ""))
        if redirect_uri.scheme not in ("http", "https") or not redirect_uri.netloc:
            return "Error 400: redirect_uri_mismatch"
        return ""

    def chooser(self, args) -> Response:
        """The account chooser: every active account of the school (an operator picks who signs in)."""
        problem = self._check_request(args)
        if problem:
            return Response(f"<!doctype html><title>Error</title><h1>{html.escape(problem)}</h1>", 400,
                            mimetype="text/html")
        hint = args.get("login_hint", "").lower()
        with self.domain.lock:
            users = sorted((u for u in self.domain.live_users() if not u.suspended),
                           key=lambda u: (u.primary_email != hint, u.primary_email))
        options = "".join(f'<option value="{html.escape(u.primary_email)}">{html.escape(u.full_name)} '
                          f'({html.escape(u.primary_email)})</option>' for u in users)
        hidden = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in args.items() if k != "email")
        page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
                f'content="width=device-width, initial-scale=1"><title>Sign in – Google Accounts (sandbox)</title>'
                f'</head><body><main><h1>Choose an account</h1><p>to continue to SafeChannels</p>'
                f'<form method="post" action="{AUTH_PATH}">{hidden}<label for="email">Account</label><br>'
                f'<select id="email" name="email">{options}</select><br><label for="other">or type an address'
                f'</label><br><input id="other" name="other" type="email"><br>'
                f'<button id="continue" type="submit">Continue</button></form></main></body></html>')
        return Response(page, mimetype="text/html")

    def approve(self, form) -> Response:
        problem = self._check_request(form)
        if problem:
            return Response(problem, 400, mimetype="text/plain")
        email = (form.get("other") or form.get("email") or "").strip().lower()
        state = form.get("state", "")
        target = form["redirect_uri"]
        sep = "&" if "?" in target else "?"
        if self._user(email) is None:
            return redirect(f"{target}{sep}{urlencode({'error': 'access_denied', 'state': state})}")
        code = "4/0A" + secrets.token_urlsafe(40)
        with self._lock:
            self._codes[code] = _Grant(form["client_id"], target, email, form.get("nonce", ""),
                                       form.get("scope", "openid"), time.time() + CODE_LIFETIME)
        params = {"state": state, "code": code, "scope": form.get("scope", "openid"), "authuser": "0",
                  "hd": self.domain.domain, "prompt": form.get("prompt", "none") or "none"}
        return redirect(f"{target}{sep}{urlencode(params)}")

    def exchange(self, req: Request) -> Response:
        """The token endpoint's authorization_code grant."""
        form = req.form
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if req.authorization and req.authorization.type == "basic":
            client_id, secret = req.authorization.username or "", req.authorization.password or ""
        if client_id != self.client_id or not secrets.compare_digest(secret, self.client_secret):
            return _error(401, "invalid_client", "The OAuth client was not found.")
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or grant.expires < time.time() or grant.client_id != client_id:
            return _error(400, "invalid_grant", "Malformed auth code.")
        if grant.redirect_uri != form.get("redirect_uri", ""):
            return _error(400, "redirect_uri_mismatch", "Bad Request")
        user = self._user(grant.email)
        if user is None:
            return _error(400, "invalid_grant", "Account has been deleted")
        access = "ya29.sandbox-" + secrets.token_urlsafe(32)
        at_hash = _b64(hashlib.sha256(access.encode()).digest()[:16])
        claims = {"azp": client_id, "sub": str(user.id), "hd": self.domain.domain, "email_verified": True,
                  "at_hash": at_hash, "name": user.full_name, "given_name": user.given_name,
                  "family_name": user.family_name}
        if grant.nonce:
            claims["nonce"] = grant.nonce
        id_token = self.signer.sign(client_id, user.primary_email, **claims)
        self.sign_ins.append(user.primary_email)
        body = {"access_token": access, "expires_in": 3599, "scope": grant.scope, "token_type": "Bearer",
                "id_token": id_token}
        return Response(json.dumps(body), mimetype="application/json")


def _error(status: int, error: str, description: str) -> Response:
    return Response(json.dumps({"error": error, "error_description": description}), status,
                    mimetype="application/json")


def register_oidc(app: Flask, provider: OidcProvider, base_url) -> None:
    """Add the provider's routes to the sandbox app; ``base_url()`` is the address clients used."""

    @app.get(DISCOVERY_PATH)
    def openid_configuration() -> Response:
        return Response(json.dumps(provider.discovery(base_url()), indent=2), mimetype="application/json")

    @app.get(JWKS_PATH)
    def jwks() -> Response:
        return Response(json.dumps(provider.jwks(), indent=2), mimetype="application/json",
                        headers={"Cache-Control": "public, max-age=3600"})

    @app.get(AUTH_PATH)
    def authorize() -> Response:
        return provider.chooser(request.args)

    @app.post(AUTH_PATH)
    def authorize_choose() -> Response:
        return provider.approve(request.form)
