"""Template filters shared by every page: times in the school's timezone, wrapping addresses, labels."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask
from markupsafe import Markup, escape

from integration.rules import rule_title
from integration.web import services


def localtime(value: datetime | str | None) -> str:
    """A timestamp in the school's timezone, e.g. '21 Nov 2026, 14:05'."""
    if not value:
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    tz = ZoneInfo(services().settings.school.timezone)
    return value.astimezone(tz).strftime("%d %b %Y, %H:%M")


def email_wrap(value: str | None) -> Markup:
    """An address that may wrap before the '@' (and nowhere else) in narrow table columns."""
    if not value:
        return Markup("—")
    local, _, domain = value.partition("@")
    return escape(local) + Markup("<wbr>@") + escape(domain) if domain else escape(value)


def label(value: str) -> str:
    return str(value).replace("_", " ").replace(".", " · ").capitalize() if value else ""


def install(app: Flask) -> None:
    for name, fn in (("localtime", localtime), ("email_wrap", email_wrap), ("label", label),
                     ("rule_title", rule_title)):
        app.add_template_filter(fn, name)
