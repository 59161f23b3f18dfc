"""The OAuth2 token endpoint and the service-account key the sandbox trusts.

google-auth's ``service_account.Credentials.with_subject(...)`` posts a signed RS256
JWT to the key's ``token_uri``; this endpoint checks it the way Google does (signature,
issuer, audience, lifetime, delegated scopes, subject) and answers Google's exact
error JSON, so ``doctor`` and the auth code are tested against the real failure modes.

It also takes the ``refresh_token`` grant (RFC 6749 §6, Google's "Refreshing an access token"):
an installed-app OAuth client (`oauth_client`) holding a user's refresh token
(`refresh_token`, what a completed consent would have given, e.g. GAM7's ``oauth2.txt``) gets
an access token for that user and, when ``openid``/``email`` was granted, an ID token signed
by the key served at ``/oauth2/v1/certs``. Google's errors: ``invalid_client`` (401) for a
wrong client id/secret, ``invalid_grant`` for a forged token or a suspended user,
``invalid_scope`` when more is asked than was granted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Request, jsonify
from flask.typing import ResponseReturnValue

from sandbox.model import Domain, User

TOKEN_PATH = "/token"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # google-auth always signs this as `aud`
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REFRESH_GRANT = "refresh_token"
REFRESH_PREFIX = "1//sandbox."
CLIENT_SUFFIX = ".apps.googleusercontent.com"
ID_TOKEN_SCOPES = {"openid", "email", "https://www.googleapis.com/auth/userinfo.email"}
TOKEN_LIFETIME = 3600
UNAUTHORIZED_CLIENT = ("Client is unauthorized to retrieve access tokens using this method, or client not "
                       "authorized for any of the scopes requested.")
BAD_TIMES = ("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
             "Check your iat and exp values in the JWT claim.")

VERIFIED_CACHE_SIZE = 4096  # verified tokens remembered per store (a sync uses a handful)

_KEY_CACHE: dict[int, rsa.RSAPrivateKey] = {}
_KEY_LOCK = threading.Lock()


@dataclass(frozen=True)
class ServiceAccount:
    """A service account key as the Cloud console would issue it."""

    email: str
    client_id: str
    project_id: str
    private_key_id: str
    private_key: rsa.RSAPrivateKey

    @property
    def private_key_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def key_json(self, token_uri: str) -> dict[str, Any]:
        """The JSON key file content (same fields as a real downloaded key)."""
        return {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem,
            "client_email": self.email,
            "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
            + self.email.replace("@", "%40"),
            "universe_domain": "googleapis.com",
        }


def new_private_key(cache_slot: int | None = None) -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key; with `cache_slot` reused within this process (keygen is slow-ish)."""
    if cache_slot is None:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with _KEY_LOCK:
        if cache_slot not in _KEY_CACHE:
            _KEY_CACHE[cache_slot] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _KEY_CACHE[cache_slot]


def service_account(domain: Domain) -> ServiceAccount:
    """The domain's trusted service account (created once per domain object)."""
    def make() -> ServiceAccount:
        project = f"safechannels-sandbox-{domain.seed}"
        return ServiceAccount(
            email=f"safechannels@{project}.iam.gserviceaccount.com",
            client_id=str(100_000_000_000_000_000_000 + domain.seed * 7919),
            project_id=project,
            private_key_id=format(domain.seed * 2654435761 % 16**40, "040x"),
            private_key=new_private_key(domain.seed),
        )

    return domain.state("service_account", make)


@dataclass(frozen=True)
class OAuthClient:
    """An installed-app ("Desktop") OAuth client as the Cloud console issues it (client_secrets.json)."""

    client_id: str
    client_secret: str

    def client_secrets_json(self, token_uri: str) -> dict[str, Any]:
        return {"installed": {"client_id": self.client_id, "client_secret": self.client_secret,
                              "project_id": "safechannels-sandbox", "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                              "token_uri": token_uri, "redirect_uris": ["http://localhost"]}}


def oauth_client(domain: Domain) -> OAuthClient:
    """The domain's one trusted OAuth client (deterministic per seed, so every worker process agrees)."""
    digest = hashlib.sha256(f"oauth-client:{domain.domain}:{domain.seed}".encode()).hexdigest()
    return OAuthClient(f"{int(digest[:12], 16)}-{digest[12:44]}{CLIENT_SUFFIX}", "GOCSPX-" + digest[44:])


def refresh_token(domain: Domain, email: str, scopes: list[str]) -> str:
    """The refresh token a completed consent of `email` to `oauth_client` for `scopes` would give."""
    body = base64.urlsafe_b64encode(json.dumps({"s": email.lower(), "c": sorted(scopes)}).encode()).decode().rstrip("=")
    return f"{REFRESH_PREFIX}{body}.{_refresh_mac(domain, body)}"


def _refresh_mac(domain: Domain, body: str) -> str:
    key = oauth_client(domain).client_secret.encode()
    return base64.urlsafe_b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest()).decode().rstrip("=")


def _refresh_claims(domain: Domain, token: str) -> tuple[str, list[str]] | None:
    body, _, mac = token.removeprefix(REFRESH_PREFIX).rpartition(".")
    if not token.startswith(REFRESH_PREFIX) or not body or not hmac.compare_digest(mac, _refresh_mac(domain, body)):
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        return str(claims["s"]), [str(c) for c in claims["c"]]
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class Grant:
    subject_email: str
    subject_id: str
    scopes: frozenset[str]
    expires_at: float


class TokenStore:
    """Self-contained access tokens: (subject, scopes, expiry) signed with HMAC-SHA256.

    Nothing is needed per token (verified ones are only remembered to save work), so every process
    of a ``--workers N`` sandbox that inherited the same secret (created before forking) verifies any
    token the token endpoint issued.
    """

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._verified: dict[str, Grant] = {}  # token -> grant; only signature-checked tokens
        self.issued = 0

    def _sign(self, payload: bytes, secret: bytes | None = None) -> str:
        mac = hmac.new(secret or self._secret, payload, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def issue(self, subject_email: str, scopes: list[str] | frozenset[str], subject_id: str = "",
              lifetime: int = TOKEN_LIFETIME) -> str:
        claims = {"s": subject_email, "i": subject_id, "c": sorted(scopes), "e": time.time() + lifetime,
                  "n": secrets.token_urlsafe(6)}  # n: two grants in the same instant still differ
        body = base64.urlsafe_b64encode(zlib.compress(json.dumps(claims, separators=(",", ":")).encode())).decode().rstrip("=")
        with self._lock:
            self.issued += 1
        return f"ya29.sandbox.{body}.{self._sign(body.encode())}"

    def lookup(self, token: str) -> Grant | None:
        """The token's grant, or None if it is forged, tampered with, expired or revoked.

        Every API request carries a token, so verified ones are remembered (HMAC, inflate and JSON
        per request were a tenth of the sandbox's CPU); expiry is still checked on every call."""
        grant = self._verified.get(token)
        if grant is None:
            secret = self._secret
            grant = self._verify(token, secret)
            if grant is None:
                return None
            self._remember(token, grant, secret)
        return None if grant.expires_at < time.time() else grant

    def _remember(self, token: str, grant: Grant, secret: bytes) -> None:
        with self._lock:
            if secret is not self._secret:  # revoked while we verified: answer once, never remember
                return
            if len(self._verified) >= VERIFIED_CACHE_SIZE:
                self._verified.pop(next(iter(self._verified)))  # oldest first: dicts keep insertion order
            self._verified[token] = grant

    def _verify(self, token: str, secret: bytes) -> Grant | None:
        """The grant a token's signed body states (expired or not), or None if `secret` did not sign it."""
        prefix, _, rest = token.partition("ya29.sandbox.")
        body, _, mac = rest.rpartition(".")
        if prefix or not body or not hmac.compare_digest(mac, self._sign(body.encode(), secret)):
            return None
        try:
            claims = json.loads(zlib.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))
            return Grant(str(claims["s"]), str(claims["i"]), frozenset(claims["c"]), float(claims["e"]))
        except (ValueError, KeyError, TypeError, zlib.error):
            return None

    def revoke_all(self) -> None:
        """Invalidate every token issued so far (in this process: a new secret)."""
        with self._lock:
            self._secret = secrets.token_bytes(32)
            self._verified.clear()


def _error(status: int, error: str, description: str) -> ResponseReturnValue:
    return jsonify({"error": error, "error_description": description}), status


def token_endpoint(request: Request, domain: Domain, store: TokenStore,
                   trusted: dict[str, list[rsa.RSAPublicKey]], id_signer: Any = None) -> ResponseReturnValue:
    """POST /token: the JWT-bearer and refresh-token grants, checked as Google checks them.
    `id_signer` (an `sandbox.oidc.IdTokenSigner`) signs the ID token of a refresh with ``openid``."""
    if request.form.get("grant_type") == REFRESH_GRANT:
        return _refresh_grant(request, domain, store, id_signer)
    if request.form.get("grant_type") != JWT_GRANT:
        return _error(400, "unsupported_grant_type", "Invalid grant_type: " + request.form.get("grant_type", ""))
    assertion = request.form.get("assertion", "")
    try:
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return _error(400, "invalid_grant", "Invalid JWT: could not be parsed.")
    keys = trusted.get(str(unverified.get("iss", "")), [])
    if not keys:
        return _error(400, "invalid_grant", "Invalid grant: account not found")
    claims: dict[str, Any] | None = None
    for key in keys:
        try:
            claims = jwt.decode(assertion, key, algorithms=["RS256"], audience=[GOOGLE_TOKEN_URI, request.base_url],
                                options={"require": ["iss", "aud", "exp", "iat"]}, leeway=60)
            break
        except jwt.InvalidSignatureError:
            continue
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError, jwt.MissingRequiredClaimError):
            return _error(400, "invalid_grant", BAD_TIMES)
        except jwt.InvalidAudienceError:
            return _error(400, "invalid_grant", "Invalid JWT: Failed audience check.")
        except jwt.PyJWTError:
            return _error(400, "invalid_grant", "Invalid JWT Signature.")
    if claims is None:
        return _error(400, "invalid_grant", "Invalid JWT Signature.")
    if int(claims["exp"]) - int(claims["iat"]) > TOKEN_LIFETIME + 60:
        return _error(400, "invalid_grant", BAD_TIMES)
    scopes = str(claims.get("scope", "")).split()
    with domain.lock:
        delegated = set(domain.delegated_scopes)
    if not scopes or any(s not in delegated for s in scopes):
        return _error(401, "unauthorized_client", UNAUTHORIZED_CLIENT)
    subject_email, subject_id = str(claims["iss"]), ""
    if claims.get("sub"):
        user: User | None = domain.find_user(str(claims["sub"]))
        if user is None or user.suspended:
            return _error(400, "invalid_grant", "Invalid email or User ID")
        subject_email, subject_id = user.primary_email, user.id
    token = store.issue(subject_email, scopes, subject_id)
    return jsonify({"access_token": token, "expires_in": TOKEN_LIFETIME - 1, "token_type": "Bearer"})


def _refresh_grant(request: Request, domain: Domain, store: TokenStore, id_signer: Any) -> ResponseReturnValue:
    form = request.form
    client = oauth_client(domain)
    client_id = form.get("client_id", "")
    if client_id.removesuffix(CLIENT_SUFFIX) != client.client_id.removesuffix(CLIENT_SUFFIX) or not hmac.compare_digest(
            form.get("client_secret", ""), client.client_secret):
        return _error(401, "invalid_client", "Unauthorized")
    claims = _refresh_claims(domain, form.get("refresh_token", ""))
    if claims is None:
        return _error(400, "invalid_grant", "Bad Request")
    email, granted = claims
    user = domain.find_user(email)
    if user is None or user.suspended:
        return _error(400, "invalid_grant", "Token has been expired or revoked.")
    asked = form.get("scope", "").split() or granted
    if any(s not in granted for s in asked):
        return _error(400, "invalid_scope", "Some requested scopes were invalid. {invalid=[" +
                      ", ".join(s for s in asked if s not in granted) + "]}")
    body: dict[str, Any] = {"access_token": store.issue(user.primary_email, asked, user.id),
                            "expires_in": TOKEN_LIFETIME - 1, "scope": " ".join(asked), "token_type": "Bearer"}
    if id_signer is not None and ID_TOKEN_SCOPES & set(asked):
        body["id_token"] = id_signer.sign(client.client_id, user.primary_email, sub=user.id, azp=client.client_id,
                                          hd=domain.domain)
    return jsonify(body)
