"""OAuth rule: a school account used to sign in to a social-networking app.

The list of apps is data (``social_apps.toml`` shipped in this package, or the file named
by ``[audit] social_apps_file``) so a school can keep it current without a release.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from integration.errors import ConfigError
from integration.identity import PUPILS, normalise_name
from integration.records import OAuthGrant
from integration.rules.base import Candidate, Rule, RuleContext

SOCIAL_APP_GRANT = "oauth.social_app_grant"
_NON_WORD = re.compile(r"[^0-9a-z]+")


def _words(text: str) -> str:
    return " ".join(_NON_WORD.sub(" ", normalise_name(text)).split())


@dataclass(frozen=True)
class SocialApp:
    name: str
    names: tuple[str, ...] = ()
    exact: tuple[str, ...] = ()
    client_id_prefixes: tuple[str, ...] = ()


class SocialApps:
    """Matches a token's display text (whole words, or the whole text) and client id prefixes."""

    def __init__(self, apps: list[SocialApp]):
        self.apps = apps
        self._exact = {_words(e): a.name for a in apps for e in (*a.exact, *a.names)}
        self._phrases = [(f" {_words(n)} ", a.name) for a in apps for n in a.names]
        self._prefixes = [(p, a.name) for a in apps for p in a.client_id_prefixes if p]

    def match(self, display_text: str, client_id: str = "") -> str | None:
        for prefix, name in self._prefixes:
            if client_id.startswith(prefix):
                return name
        words = _words(display_text)
        if not words:
            return None
        if words in self._exact:
            return self._exact[words]
        padded = f" {words} "
        for phrase, name in self._phrases:
            if phrase in padded:
                return name
        return None

    @classmethod
    def parse(cls, text: str, where: str) -> SocialApps:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{where}: not valid TOML: {exc}") from None
        apps = []
        for i, raw in enumerate(data.get("app", []), 1):
            if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
                raise ConfigError(f"{where}: [[app]] number {i} needs a name")
            fields = {}
            for key in ("names", "exact", "client_id_prefixes"):
                value = raw.get(key, [])
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ConfigError(f"{where}: [[app]] {raw['name']!r}: {key} must be a list of strings")
                fields[key] = tuple(value)
            apps.append(SocialApp(raw["name"], **fields))
        return cls(apps)

    @classmethod
    def load(cls, path: str | Path | None = None) -> SocialApps:
        """The configured file, else the list shipped in the package."""
        if path:
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"{path}: [audit] social_apps_file cannot be read ({exc.strerror})") from None
            return cls.parse(text, str(path))
        text = resources.files("integration.rules").joinpath("social_apps.toml").read_text(encoding="utf-8")
        return cls.parse(text, "integration/rules/social_apps.toml")


def social_app_grant(grant: OAuthGrant, ctx: RuleContext) -> list[Candidate]:
    """Staff (low) or pupils (medium: under-13s on social networks) granting a social app.

    A revocation (Reports token ``revoke``) grants nothing: it opens no finding and closes none,
    since the sign-in it ends did happen (the DSL resolves the finding)."""
    if grant.event == "revoke":
        return []
    owner = ctx.identity.resolve(grant.user_email)
    if not owner.is_school or owner.role not in ("staff", *PUPILS) or ctx.social_apps is None:
        return []
    app = ctx.social_apps.match(grant.display_text, grant.client_id)  # type: ignore[attr-defined]
    if app is None:
        return []
    is_pupil = owner.role in PUPILS
    return [Candidate(
        rule=SOCIAL_APP_GRANT, staff=None if is_pupil else owner.person_email,
        pupil=owner.person_email if is_pupil else None, source=grant.source,
        severity="medium" if is_pupil else "low",
        object_key=f"oauth:{grant.client_id}", event_key=f"oauth:{grant.user_email}:{grant.client_id}", time=grant.time,
        evidence={"client_id": grant.client_id, "app": app, "display_text": grant.display_text,
                  "scopes": list(grant.scopes)[:20]})]


RULES = (
    Rule(SOCIAL_APP_GRANT, "School account used to sign in to a social-networking app", "low",
         ("001 §401", "002 §32"), OAuthGrant, social_app_grant),
)
