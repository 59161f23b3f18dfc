"""What an API module sees: the handler registry and the parsed request.

An API module (``sandbox/directory.py``, ``sandbox/drive.py`` ...) exposes
``register(api: Registry, domain: Domain) -> None`` and registers one handler per
discovery method key::

    def register(api: Registry, domain: Domain) -> None:
        @api.method("drive.files.list")
        def files_list(req: ApiRequest) -> dict:
            page, token = paginate(req, files_for(req.subject))
            return {"kind": "drive#fileList", "files": page, "nextPageToken": token}

Routing, authentication, scope checks (from the discovery document), fault injection,
``fields=`` masks, logging and conformance checks all happen in the server before and
after the handler, so a handler only turns domain state into Google's JSON. A handler
returns a dict (200), ``(status, dict | None)``, or raises `sandbox.errors.ApiError`.
For anything that is not a discovery method (e.g. a push receiver helper) use
``api.app`` (the Flask app) directly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from sandbox.errors import ApiError, not_found
from sandbox.model import Domain, User

HandlerResult = dict[str, Any] | tuple[int, dict[str, Any] | None]
Handler = Callable[["ApiRequest"], HandlerResult]


@dataclass
class ApiRequest:
    """One API call after routing and authentication."""

    domain: Domain
    api: str
    method: str  # discovery method key, e.g. 'directory.users.list'
    http_method: str
    path: str
    params: dict[str, str]  # path parameters
    query: dict[str, list[str]]
    body: Any
    subject_email: str
    subject: User | None
    scopes: frozenset[str]
    page_cap: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    base_url: str = ""

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def args(self, name: str) -> list[str]:
        return list(self.query.get(name, []))

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.arg(name)
        return default if value is None else value.lower() == "true"

    def has_scope(self, *names: str) -> bool:
        return any(n in self.scopes or "https://www.googleapis.com/auth/" + n in self.scopes for n in names)

    @property
    def is_admin(self) -> bool:
        return bool(self.subject and self.subject.is_admin)

    def user(self, key: str, *, include_deleted: bool = False) -> User:
        """A userKey / userId path value ('me' = the token's subject); 404 if unknown."""
        if key == "me":
            if self.subject is None:
                raise not_found(key)
            return self.subject
        user = self.domain.find_user(key, include_deleted=include_deleted)
        if user is None:
            raise not_found(key)
        return user


class Registry:
    """Handlers by discovery method key, plus which APIs need an admin subject."""

    def __init__(self, app: Flask, domain: Domain) -> None:
        self.app, self.domain = app, domain
        self.handlers: dict[str, Handler] = {}
        self.admin_apis: set[str] = {"directory", "reports"}

    def method(self, key: str) -> Callable[[Handler], Handler]:
        def decorate(fn: Handler) -> Handler:
            if key in self.handlers:
                raise ValueError(f"two sandbox handlers for {key}")
            self.handlers[key] = fn
            return fn

        return decorate

    def require_admin(self, api: str) -> None:
        self.admin_apis.add(api)


__all__ = ["ApiError", "ApiRequest", "Handler", "HandlerResult", "Registry"]
