"""App-wide request hooks: CSRF, security headers, error pages, the template context, the secret key.

Errors are answered in the caller's language: an empty body for webhooks (nothing leaked to
whoever is probing them), ``{"error": ...}`` for /api, a plain page otherwise.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from integration.errors import ConfigError
from integration.web import scope, services
from integration.web.auth import check_csrf, csrf_token, current_user

CSP = ("default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def load_secret_key(path: Path) -> bytes:
    """The session-signing key, created (0600, never overwritten) on first run."""
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(secrets.token_hex(32) + "\n")
        key = path.read_text(encoding="ascii").strip()
    except FileExistsError:  # another worker created it between our check and open
        key = path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise ConfigError(f"[web] secret_key_file {path}: cannot be created or read ({exc.strerror})") from None
    if len(key) < 32:
        raise ConfigError(f"[web] secret_key_file {path}: too short (expected 64 hex characters); delete it to "
                          "have a new one created")
    return key.encode("ascii")


def install(app: Flask) -> None:
    app.before_request(check_csrf)

    @app.after_request
    def headers(resp: Response) -> Response:
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "same-origin"
        if request.blueprint in ("ui", "api", "auth") and not request.path.startswith(("/healthz", "/readyz")):
            resp.headers["Cache-Control"] = "no-store"  # pages name pupils and staff
        if request.is_secure:
            resp.headers["Strict-Transport-Security"] = "max-age=31536000"
        return resp

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        if request.path.startswith("/webhooks/"):
            return Response(status=code)
        if request.path.startswith("/api/"):
            return jsonify({"error": exc.description if code in (400, 409) else exc.name}), code
        return render_template("error.html", code=code, title=exc.name,
                               message=exc.description if code in (400, 403, 404) else ""), code

    app.jinja_env.globals["url_for"] = scope.url  # links keep the school picker's choice

    @app.context_processor
    def template_context() -> dict:
        svc = services()
        user = current_user()
        return {"user": user, "csrf_token": csrf_token, "dev_login": svc.dev_login,
                "school": svc.settings.trust.name if svc.settings.tenants.is_trust else svc.settings.school.name,
                **scope.picker(user)}
