"""A finding in the school's words: the quoted policy clause, what happened, what to do next, and
links into Google for the evidence.

The texts are data (``policy_texts.toml`` shipped here, or ``[web] policy_texts_file``) so a school
quotes its own policy rather than a bare "002 §42"; they are re-read when the file changes, so an
edit shows on the next page load without a restart.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from urllib.parse import quote

from integration.errors import ConfigError
from integration.settings import Settings

_PLACEHOLDER = re.compile(r"\{(staff|pupil|guardian|counterpart|times|object)\}")
_cache: dict[str, tuple[float, dict[str, PolicyText]]] = {}

# Admin console pages (support.google.com/a/answer/4579579 "Audit and investigation", answer/2604578
# "Email Log Search"). Google documents no query parameters for them, so the link opens the tool and
# the page says what to search for.
INVESTIGATION = "https://admin.google.com/ac/sc/investigation"
EMAIL_LOG_SEARCH = "https://admin.google.com/ac/emaillogsearch"
DRIVE_OPEN = "https://drive.google.com/open?id="  # Drive's documented "open" link for a file id


@dataclass(frozen=True)
class PolicyText:
    policy: str = ""
    clause: str = ""
    what: str = ""
    next: str = ""


@dataclass(frozen=True)
class GoogleLink:
    label: str
    href: str
    search_for: str = ""  # what to type into the tool the link opens


def _parse(text: str, where: str) -> dict[str, PolicyText]:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: [web] policy_texts_file is not valid TOML ({exc})") from None
    out = {}
    for rule, entry in doc.items():
        if not isinstance(entry, dict) or any(not isinstance(v, str) for v in entry.values()):
            raise ConfigError(f"{where}: [{rule}] must be a table of strings (policy, clause, what, next)")
        unknown = set(entry) - {"policy", "clause", "what", "next"}
        if unknown:
            raise ConfigError(f"{where}: [{rule}] has unknown keys {', '.join(sorted(unknown))} "
                              "(known: policy, clause, what, next)")
        out[rule] = PolicyText(**entry)
    return out


def policy_texts(settings: Settings) -> dict[str, PolicyText]:
    """Rule id -> texts, from the configured file (re-read when it changes) or the shipped one."""
    if not settings.web.policy_texts_file:
        key = "(shipped)"
        if key not in _cache:
            text = resources.files("integration.web").joinpath("policy_texts.toml").read_text(encoding="utf-8")
            _cache[key] = (0.0, _parse(text, "integration/web/policy_texts.toml"))
        return _cache[key][1]
    path = settings.resolve(settings.web.policy_texts_file)
    try:
        mtime = path.stat().st_mtime
        cached = _cache.get(str(path))
        if cached and cached[0] == mtime:
            return cached[1]
        texts = _parse(path.read_text(encoding="utf-8"), str(path))
    except OSError as exc:
        raise ConfigError(f"{path}: [web] policy_texts_file cannot be read ({exc.strerror})") from None
    _cache[str(path)] = (mtime, texts)
    return texts


def text_for(settings: Settings, rule: str) -> PolicyText:
    return policy_texts(settings).get(rule, PolicyText())


def times(occurrences: int, first: str, last: str) -> str:
    """'once on 21 Nov 2026, 14:05' / '3 times between … and …' (dates already formatted)."""
    if occurrences <= 1 or first == last:
        return f"once on {last}"
    return f"{occurrences} times between {first} and {last}"


def what_happened(template: str, values: dict[str, str]) -> str:
    """Fill the placeholders; an unknown or empty value reads as "—" (no str.format: the file is data)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1)) or "—", template)


def object_label(evidence: dict) -> str:
    for key in ("title", "app", "display_text", "drive_name", "mailbox", "meeting_code", "room_id"):
        if evidence.get(key):
            return f"“{evidence[key]}”" if key == "title" else str(evidence[key])
    return "the item"


def google_links(rule: str, evidence: dict) -> list[GoogleLink]:
    """Where to look at the evidence in Google: the Drive file itself, the Admin console's searches."""
    links: list[GoogleLink] = []
    link = str(evidence.get("link") or "")
    if evidence.get("file_id") or link.startswith("https://"):
        href = link if link.startswith("https://") else DRIVE_OPEN + quote(str(evidence["file_id"]), safe="")
        links.append(GoogleLink("Open the file in Google Drive", href))
        links.append(GoogleLink("Drive log events (Admin console investigation)", INVESTIGATION,
                                f"Data source: Drive log events; Document ID is {evidence.get('file_id', '')}"))
    message_id = str(evidence.get("message_id") or "")
    if rule.startswith("mail.") and message_id:
        links.append(GoogleLink("Email Log Search (Admin console)", EMAIL_LOG_SEARCH, f"Message ID {message_id}"))
        links.append(GoogleLink("Gmail log events (Admin console investigation)", INVESTIGATION,
                                f"Data source: Gmail log events; Message ID is {message_id}"))
    if rule.startswith("chat."):
        links.append(GoogleLink("Chat log events (Admin console investigation)", INVESTIGATION,
                                f"Data source: Chat log events; room {evidence.get('room_id', '')}"))
    if rule.startswith("meet."):
        links.append(GoogleLink("Meet log events (Admin console investigation)", INVESTIGATION,
                                f"Data source: Meet log events; meeting code {evidence.get('meeting_code', '')}"))
    if rule.startswith("oauth."):
        links.append(GoogleLink("OAuth log events (Admin console investigation)", INVESTIGATION,
                                f"Data source: OAuth log events; app {evidence.get('app') or evidence.get('client_id', '')}"))
    if rule == "mail.auto_forward_external":
        links.append(GoogleLink("User log events (Admin console investigation)", INVESTIGATION,
                                f"Data source: User log events; user {evidence.get('mailbox', '')}"))
    return links
