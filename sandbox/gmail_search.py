"""Gmail's search box (``users.messages.list`` ``q``) over the sandbox's message metadata.

Operators from Google's "Refine searches in Gmail" (support.google.com/mail/answer/7190) that
metadata can answer: ``from:`` ``to:`` ``cc:`` ``bcc:`` ``subject:`` ``rfc822msgid:``,
``after:``/``before:``/``newer:``/``older:`` (``YYYY/MM/DD``, ``YYYY-MM-DD`` or epoch seconds),
``newer_than:``/``older_than:`` (``Nd``, ``Nm``, ``Ny``), ``in:`` and ``label:`` (inbox, sent,
draft(s), anywhere), ``is:`` (read/unread/starred/important: the sandbox's mail is read and
unstarred), a leading ``-`` negation, ``OR`` between terms, quotes; any other word is matched
against the sender, recipients and subject, as Gmail's full-text search would find it in those
headers. Gmail never refuses a query: an operator it does not know is just text.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sandbox.activity import Mail

Predicate = Callable[[Mail], bool]
FOLDERS = {"inbox": "received", "sent": "sent", "draft": "draft", "drafts": "draft"}
AGE_UNITS = {"d": 1, "m": 30, "y": 365}


def matcher(query: str) -> Predicate:
    """One predicate for the whole query (terms are ANDed; ``OR`` joins its neighbours)."""
    try:
        words = shlex.split(query)
    except ValueError:
        words = query.split()
    groups: list[list[Predicate]] = []
    joining = False
    for word in words:
        if word == "OR" and groups:
            joining = True
            continue
        pred = _term(word)
        if joining:
            groups[-1].append(pred)
            joining = False
        else:
            groups.append([pred])
    return lambda m: all(any(p(m) for p in group) for group in groups)


def _term(word: str) -> Predicate:
    negate = word.startswith("-") and len(word) > 1
    word = word[1:] if negate else word
    op, sep, value = word.partition(":")
    pred = _operator(op.lower(), value.strip('"').lower()) if sep and value else None
    if pred is None:
        text = word.strip('"').lower()
        pred = lambda m: text in _headers(m)  # noqa: E731 - a tiny closure per term
    return (lambda m: not pred(m)) if negate else pred


def _operator(op: str, value: str) -> Predicate | None:  # noqa: C901 - one branch per operator
    if op == "from":
        return lambda m: value in m.sender.lower()
    if op in ("to", "cc", "bcc"):
        return lambda m: any(value in a.lower() for a in (m.to if op == "to" else m.cc if op == "cc" else ()))
    if op == "subject":
        return lambda m: value in m.subject.lower()
    if op == "rfc822msgid":
        return lambda m: value.strip("<>") == m.message_id.strip("<>").lower()
    if op in ("after", "newer", "before", "older"):
        when = _date(value)
        if when is None:
            return lambda m: False
        return (lambda m: m.time >= when) if op in ("after", "newer") else (lambda m: m.time < when)
    if op in ("newer_than", "older_than"):
        age = re.fullmatch(r"(\d+)([dmy])", value)
        if not age:
            return lambda m: False
        cutoff = datetime.now(UTC) - timedelta(days=int(age.group(1)) * AGE_UNITS[age.group(2)])
        return (lambda m: m.time >= cutoff) if op == "newer_than" else (lambda m: m.time < cutoff)
    if op in ("in", "label"):
        if value in ("anywhere", "all", "chats") and op == "in":
            return (lambda m: True) if value != "chats" else (lambda m: False)
        folder = FOLDERS.get(value)
        return (lambda m: m.direction == folder) if folder else (lambda m: False)
    if op == "is":
        return (lambda m: True) if value == "read" else (lambda m: False)
    return None


def _date(value: str) -> datetime | None:
    if value.isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    m = re.fullmatch(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})", value)
    if not m:
        return None
    # Gmail reads a date as midnight Pacific time; the sandbox's mail is UTC-stamped, so UTC midnight
    return datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)), tzinfo=UTC)


def _headers(m: Mail) -> str:
    names = " ".join(n for _, n in m.names)
    return " ".join((m.sender, *m.to, *m.cc, m.subject, names)).lower()
