"""How a view reads: one transaction over the store, with the settings and one clock reading, and the
findings listing for the request's filters. Shared by the pages, the JSON API and the downloads, so
each lists the same findings for the same URL and none repeats the session plumbing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from flask import request
from sqlalchemy.orm import Session

from integration.settings import Settings
from integration.web import inbox, scope, services

T = TypeVar("T")


def read(fn: Callable[[Session, Settings, datetime], T]) -> T:
    """``fn(session, settings, now)`` in one transaction."""
    svc = services()
    with svc.store.session() as s:
        return fn(s, svc.settings, datetime.now(UTC))


def findings_listing(*, strict: bool = False, everything: bool = False) -> tuple[inbox.Filters, inbox.Listing]:
    """The request's filters (``strict``: a bad value raises InputError, for the API) and their findings,
    within the schools the request may see (`scope.chosen`: a school outside them is a 404)."""
    schools = scope.chosen("findings")
    f = inbox.parse(request.args, strict=strict)
    return f, read(lambda s, settings, _now: inbox.listing(s, f, settings.school.timezone, everything=everything,
                                                           schools=schools))
