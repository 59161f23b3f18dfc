"""The web UI, its JSON API and sign-in. Blueprints are registered by `integration.app.create_app`.

What the views need (settings, store, the ID-token verifier) is handed in by the app factory
as one `WebServices` object, so nothing here imports Google code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from flask import current_app

from integration.settings import Settings
from integration.store import Store


class IdTokenVerifier(Protocol):
    def verify(self, token: str, audience: str) -> dict: ...


@dataclass
class WebServices:
    settings: Settings
    store: Store
    id_tokens: IdTokenVerifier
    invalid_token: type[Exception]  # what id_tokens.verify raises for a bad token
    dev_login: bool = False  # only ever True when bound to a loopback address
    delegation_text: Callable[[], str] | None = None  # `doctor --scopes`: client ID + scopes to paste
    doctor_checks: Callable[[], list] | None = None  # `doctor`: live checks (Google calls), on request only


def services() -> WebServices:
    return current_app.extensions["safechannels"]
