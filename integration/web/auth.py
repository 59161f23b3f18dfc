"""Sign-in, roles and CSRF.

Google sign-in is the OpenID Connect authorization-code flow. The ID token is verified
(signature, expiry, audience = our client id, issuer) by the verifier the app factory hands
in, then held to the school: the ``hd`` claim AND the address's domain must both be the
school's domain, or in a trust one of its schools' own domains (``hd`` alone is absent for
consumer accounts; the address alone could be a consumer account using a school-looking alias).
Roles come from the ``[web]`` lists and, in a trust, the ``[trust]`` and ``[[schools]]`` lists,
each role with its schools (`integration.web.scope`). They are re-read on every request, so
removing someone from the config revokes access at once.
The session itself is server-side (`integration.web.sessions`): the cookie holds only its id,
so signing out or signing in elsewhere ends it at once, even for a copied cookie.

``[web] dev_login`` (a form that signs in as any listed address) exists for the demo and
tests; the app factory refuses it unless bound to a loopback address, and it is also
refused per request from any non-loopback client.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from dataclasses import dataclass, field
from functools import wraps
from urllib.parse import urlencode

import requests
from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for

from integration.logs import event
from integration.settings import Settings
from integration.web import scope, services, sessions
from integration.web.scope import Schools

log = logging.getLogger("safechannels.web")
bp = Blueprint("auth", __name__, url_prefix="/auth")

GOOGLE_AUTHORIZE = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN = "https://oauth2.googleapis.com/token"
LOOPBACK = ("127.0.0.1", "::1", "localhost")
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")

# role -> what it may do. dsl: findings incl. counterparts, triage, acknowledgement chasing; admin: service
# status, setup, roster, registers, access log (no individual findings); viewer: aggregate figures only.
CAPABILITIES = {
    "dsl": {"aggregate", "status", "findings", "counterparts", "triage", "acks"},
    "admin": {"aggregate", "status", "admin"},
    "viewer": {"aggregate"},
}


@dataclass(frozen=True)
class User:
    email: str
    name: str
    roles: frozenset[str]
    grants: dict[str, Schools] = field(default_factory=dict, compare=False)  # role -> its schools (None = all)

    def can(self, capability: str) -> bool:
        return any(capability in CAPABILITIES[r] for r in self.roles)

    def schools_for(self, capability: str) -> Schools:
        """The schools this user may see with ``capability`` (None = all; see `integration.web.scope`)."""
        return scope.reach(self.grants, [r for r in self.roles if capability in CAPABILITIES[r]])


def roles_for(settings: Settings, email: str) -> frozenset[str]:
    return frozenset(scope.grants_for(settings, email))


def school_domains(settings: Settings) -> list[str]:
    """The domains staff sign in from: the school's, and each trust school's own domain if it has one."""
    return [d.lower() for d in [settings.school.domain, *(t.domain for t in settings.schools)] if d]


def in_school_domain(settings: Settings, email: str) -> bool:
    return email.count("@") == 1 and email.lower().rsplit("@", 1)[-1] in school_domains(settings)


def current_user() -> User | None:
    if "user" in g:
        return g.user
    svc, user = services(), None
    signed = sessions.resolve(svc.store, session.get("sid"), svc.settings.web)
    if signed is not None:
        grants = scope.grants_for(svc.settings, signed.email)
        if grants and in_school_domain(svc.settings, signed.email):
            user = User(signed.email, signed.name, frozenset(grants), grants)
        else:  # role removed since sign-in: the session ends now, not at its expiry
            sessions.end(svc.store, session.get("sid"))
    g.user = user
    return user


def require(capability: str, *, api: bool = False):
    """Signed in (else sign-in page / 401) and allowed ``capability`` (else 403)."""

    def deco(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                if api:
                    abort(401)
                session["next"] = request.full_path if request.query_string else request.path
                return redirect(url_for("auth.login"))
            if not user.can(capability):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return deco


# ------------------------------------------------------------------ CSRF


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Every state-changing request carries the session's token (form field or X-CSRF-Token header).
    Webhooks are exempt: they authenticate with channel tokens and signed JWTs, not cookies."""
    if request.method not in UNSAFE or request.blueprint == "webhooks":
        return
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    expected = session.get("csrf")
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(expected.encode(), sent.encode()):
        event(log, "web.csrf_refused", logging.WARNING, path=request.path)
        abort(400, description="The form expired or did not come from this site. Reload the page and try again.")


# ------------------------------------------------------------------ routes


def _safe_next() -> str:
    nxt = session.pop("next", "") or ""
    return nxt if nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt else url_for("ui.dashboard")


def _dev_allowed() -> bool:
    return services().dev_login and request.remote_addr in LOOPBACK


def _sign_in(email: str, name: str, how: str) -> str:
    """Start a fresh session for the user; returns where to go next."""
    nxt = _safe_next()
    session.clear()  # no fixation: a fresh session (and CSRF token) for the signed-in user
    session["sid"] = sessions.start(services().store, email.lower(), name)
    session.permanent = True
    csrf_token()
    g.pop("user", None)
    event(log, "web.signed_in", email=email.lower(), via=how)
    return nxt


@bp.get("/login")
def login():
    settings = services().settings
    return render_template("login.html", google=bool(settings.web.oauth_client_id), dev=_dev_allowed(),
                           dev_users=scope.everyone_listed(settings) if _dev_allowed() else [])


def _hd(settings: Settings) -> str:
    """The ``hd`` hint: the one domain, or "*" (any Workspace account; the callback checks which) for a
    trust whose schools have domains of their own (Google's OpenID Connect docs, "hd" parameter)."""
    domains = school_domains(settings)
    return domains[0] if len(set(domains)) == 1 else "*"


@bp.get("/google")
def google_start():
    w = services().settings.web
    if not w.oauth_client_id:
        abort(404)
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    session["oauth"] = {"state": state, "nonce": nonce}
    params = {"client_id": w.oauth_client_id, "response_type": "code", "scope": "openid email profile",
              "redirect_uri": url_for("auth.callback", _external=True), "state": state, "nonce": nonce,
              "hd": _hd(services().settings), "prompt": "select_account"}
    return redirect(f"{w.oauth_authorize_url or GOOGLE_AUTHORIZE}?{urlencode(params)}")


@bp.get("/callback")
def callback():
    svc = services()
    settings, w = svc.settings, svc.settings.web
    pending = session.pop("oauth", None)
    state = request.args.get("state", "")
    if not isinstance(pending, dict) or not hmac.compare_digest(str(pending.get("state", "")).encode(),
                                                                 state.encode()):
        return _refused("The sign-in link expired. Please start again.", "state")
    code = request.args.get("code", "")
    if request.args.get("error") or not code:
        return _refused("Google did not sign you in.", "no code")
    try:
        resp = requests.post(w.oauth_token_url or GOOGLE_TOKEN, timeout=10, data={
            "code": code, "client_id": w.oauth_client_id, "client_secret": w.oauth_client_secret,
            "redirect_uri": url_for("auth.callback", _external=True), "grant_type": "authorization_code"})
        raw = resp.json().get("id_token", "") if resp.status_code == 200 else ""
    except (requests.RequestException, ValueError):
        raw = ""
    if not raw:
        return _refused("Google did not complete the sign-in. Please try again.", "token exchange")
    try:
        claims = svc.id_tokens.verify(raw, w.oauth_client_id)
    except svc.invalid_token:
        return _refused("The sign-in could not be verified.", "id token")
    email = str(claims.get("email", "")).lower()
    domain = settings.school.domain.lower()
    if not hmac.compare_digest(str(claims.get("nonce", "")).encode(), str(pending.get("nonce", "")).encode()):
        return _refused("The sign-in could not be verified.", "nonce")
    if str(claims.get("hd", "")).lower() != email.rsplit("@", 1)[-1] or not in_school_domain(settings, email) \
            or claims.get("email_verified") not in (True, "true"):
        return _refused(f"Sign in with your {domain} school account.", "domain", email=email)
    if not roles_for(settings, email):
        return _refused("Your account is not authorised to use SafeChannels. Ask the DSL or IT to add you.",
                        "no role", email=email)
    return redirect(_sign_in(email, str(claims.get("name", "")), "google"))


@bp.post("/dev")
def dev_login():
    if not _dev_allowed():
        abort(404)
    settings = services().settings
    email = request.form.get("email", "").strip().lower()
    if not in_school_domain(settings, email) or not roles_for(settings, email):
        return _refused("That address has no role in [web] dsl_users, admin_users or viewer_users.",
                        "dev no role", email=email)
    return redirect(_sign_in(email, email.split("@")[0].replace(".", " ").title(), "dev"))


@bp.post("/logout")
def logout():
    user = current_user()
    sessions.end(services().store, session.get("sid"))
    session.clear()
    if user:
        event(log, "web.signed_out", email=user.email)
    flash("You have signed out.")
    return redirect(url_for("auth.login"))


def _refused(message: str, reason: str, **fields):
    event(log, "web.sign_in_refused", logging.WARNING, reason=reason, **fields)
    return render_template("login.html", error=message, google=bool(services().settings.web.oauth_client_id),
                           dev=_dev_allowed(), dev_users=[]), 403
