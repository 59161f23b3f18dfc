"""Google's ``fields=`` partial-response masks.

Syntax: ``a,b/c,d(e,f/g),*`` — commas separate selections, ``/`` selects a sub-field,
parentheses select several sub-fields, ``*`` keeps everything at that level. Applied
to lists element by element. Connectors rely on masks for speed, so the sandbox must
return exactly what was asked for and nothing more.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

Mask = dict[str, "Mask"]  # field -> sub-mask; an empty sub-mask keeps the whole value


class FieldsError(ValueError):
    """A mask that does not parse (Google answers 400 'Invalid field selection')."""


def parse(text: str) -> Mask:
    mask, rest = _parse_list(text.replace(" ", ""), 0)
    if rest != len(text.replace(" ", "")):
        raise FieldsError(f"Invalid field selection {text}")
    return mask


def _parse_list(text: str, pos: int) -> tuple[Mask, int]:
    mask: Mask = {}
    while pos < len(text):
        pos = _parse_item(text, pos, mask)
        if pos < len(text) and text[pos] == ",":
            pos += 1
            continue
        break
    return mask, pos


def _parse_item(text: str, pos: int, into: Mask) -> int:
    start = pos
    while pos < len(text) and text[pos] not in ",/()":
        pos += 1
    name = text[start:pos]
    if not name:
        raise FieldsError(f"Invalid field selection {text}")
    child = into.setdefault(name, {})
    if pos < len(text) and text[pos] == "/":
        return _parse_item(text, pos + 1, child)
    if pos < len(text) and text[pos] == "(":
        sub, pos = _parse_list(text, pos + 1)
        if pos >= len(text) or text[pos] != ")":
            raise FieldsError(f"Invalid field selection {text}")
        _merge(child, sub)
        return pos + 1
    into[name] = {}  # a bare name selects the whole value, even if a sub-path was seen earlier
    return pos


def _merge(into: Mask, other: Mask) -> None:
    for key, sub in other.items():
        if key in into and into[key] and sub:
            _merge(into[key], sub)
        else:
            into[key] = {} if (key in into and not into[key]) or not sub else sub


def apply(value: Any, mask: Mask) -> Any:
    """The parts of `value` selected by `mask` (an empty mask keeps everything)."""
    if not mask or "*" in mask and len(mask) == 1:
        return value
    if isinstance(value, list):
        return [apply(v, mask) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, sub in mask.items():
        if key == "*":
            for k, v in value.items():
                out.setdefault(k, v)
        elif key in value:
            out[key] = apply(value[key], sub) if sub else value[key]  # a leaf: one call less per item
    return out


def filter_json(value: Any, fields: str | None) -> Any:
    return value if not fields else apply(value, _parsed(fields))


@lru_cache(maxsize=256)
def _parsed(text: str) -> Mask:
    """`parse`, once per distinct mask: a connector sends the same few on every page (`apply` only reads it)."""
    return parse(text)
