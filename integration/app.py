"""The Flask app factory: settings, store, blueprints (ui, api, webhooks). Never starts the scheduler:
jobs run in the `worker` process, or each web worker would run every job once.

Production: ``gunicorn 'integration.app:create_app()'`` (see the Procfile); small installs:
``python -m integration serve``. The app factory is one of the three core modules allowed to
import Google code: it hands the ID-token verifier to the views.
"""

from __future__ import annotations

from datetime import timedelta
from ipaddress import ip_address
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from integration import settings as settings_mod
from integration.errors import ConfigError
from integration.settings import Settings
from integration.web import WebServices
from integration.wiring import Context

WEB = Path(__file__).parent / "web"


def is_loopback(host: str | None) -> bool:
    if host in ("localhost",):
        return True
    try:
        return bool(host) and ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def create_app(settings: Settings | None = None, *, bind_host: str | None = None, ctx: Context | None = None) -> Flask:
    """``bind_host`` is the address `serve` listens on; None (gunicorn) means production."""
    from integration.web import (
        acks_views,
        admin_views,
        api,
        api_pages,
        auth,
        exports,
        filters,
        findings_views,
        people_views,
        reports_views,
        security,
        ui,
    )
    from webhooks import bp as webhooks_bp
    from webhooks.oidc import GoogleIdTokens, InvalidToken

    ctx = ctx or Context(settings or settings_mod.load())
    settings = ctx.settings
    local = is_loopback(bind_host)
    if settings.web.dev_login and not local:
        raise ConfigError("[web] dev_login = true is only allowed when serving on localhost "
                          "(python -m integration serve --host 127.0.0.1); set it to false in production")
    app = Flask("integration.web", template_folder=str(WEB / "templates"), static_folder=str(WEB / "static"))
    app.config.update(
        SECRET_KEY=security.load_secret_key(settings.resolve(settings.web.secret_key_file)),
        SESSION_COOKIE_NAME="safechannels_session", SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=not local,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.web.session_max_hours), MAX_CONTENT_LENGTH=1024 * 1024,
        PREFERRED_URL_SCHEME="http" if local else "https",
    )
    app.extensions["safechannels"] = WebServices(
        settings=settings, store=ctx.store, id_tokens=GoogleIdTokens(settings.webhooks.google_certs_url),
        invalid_token=InvalidToken, dev_login=settings.web.dev_login and local,
        delegation_text=ctx.delegation_text, doctor_checks=ctx.doctor_checks)
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    security.install(app)
    filters.install(app)
    for bp in (ui.bp, findings_views.bp, admin_views.bp, people_views.bp, acks_views.bp, reports_views.bp, exports.bp, api.bp, api_pages.bp, auth.bp, webhooks_bp):
        app.register_blueprint(bp)
    return app
