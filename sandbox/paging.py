"""Real paging: opaque page tokens bound to the query, and each API's page-size rules.

A token encodes (collection, offset, hash of the query) so a token replayed with
different filters is refused with 400 as Google does, and a connector that loops on a
repeated token is caught by its own loop detection rather than by luck. Page sizes
follow google-apis.md: above the maximum either 400 (where the discovery document
declares a maximum that Google enforces) or coerced down (Drive, Classroom).
``page_caps`` on the server can lower any method's effective page size to force many
pages in tests, the way Google often returns short pages.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

from sandbox.errors import ApiError

T = TypeVar("T")

NOT_PART_OF_QUERY = {"pageToken", "maxResults", "pageSize", "fields", "alt", "prettyPrint", "quotaUser", "key",
                     "access_token", "$.xgafv", "oauth_token", "userIp", "callback"}

# method key -> (size parameter, default, maximum, "error" | "coerce")
RULES: dict[str, tuple[str, int, int, str]] = {
    "directory.users.list": ("maxResults", 100, 500, "error"),
    "directory.groups.list": ("maxResults", 200, 200, "error"),
    "directory.members.list": ("maxResults", 200, 200, "error"),
    "directory.roleAssignments.list": ("maxResults", 100, 200, "error"),
    "classroom.courses.list": ("pageSize", 100, 1000, "coerce"),
    "classroom.courses.teachers.list": ("pageSize", 30, 1000, "coerce"),
    "classroom.courses.students.list": ("pageSize", 30, 1000, "coerce"),
    "classroom.userProfiles.guardians.list": ("pageSize", 100, 1000, "coerce"),
    "classroom.userProfiles.guardianInvitations.list": ("pageSize", 100, 1000, "coerce"),
    "drive.files.list": ("pageSize", 100, 1000, "coerce"),
    "drive.permissions.list": ("pageSize", 100, 100, "coerce"),
    "drive.drives.list": ("pageSize", 10, 100, "coerce"),
    "drive.changes.list": ("pageSize", 100, 1000, "coerce"),
    "reports.activities.list": ("maxResults", 1000, 1000, "error"),
    "gmail.users.messages.list": ("maxResults", 100, 500, "coerce"),
    "gmail.users.history.list": ("maxResults", 100, 500, "coerce"),
    "forms.forms.responses.list": ("pageSize", 5000, 5000, "coerce"),
}


class PagedRequest(Protocol):
    method: str
    query: Mapping[str, list[str]]
    page_cap: int | None


def query_hash(query: Mapping[str, list[str]]) -> str:
    items = sorted((k, sorted(v)) for k, v in query.items() if k not in NOT_PART_OF_QUERY)
    return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]


def encode_token(collection: str, offset: int, qhash: str) -> str:
    raw = json.dumps({"c": collection, "o": offset, "h": qhash}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, collection: str, qhash: str) -> int:
    """The offset a token stands for; 400 if it is malformed or belongs to another query."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        offset = int(data["o"])
        ok = data["c"] == collection and data["h"] == qhash and offset >= 0
    except (ValueError, KeyError, TypeError):
        ok = False
    if not ok:
        raise ApiError(400, "Invalid page token.", "invalid", location="pageToken")
    return offset


def page_size(req: PagedRequest, default: int, maximum: int, param: str, over: str) -> int:
    raw = (req.query.get(param) or [""])[0]
    if raw in ("", "0"):
        size = default
    else:
        try:
            size = int(raw)
        except ValueError:
            raise ApiError(400, f"Invalid value '{raw}'. Values must be integers.", "invalid") from None
        if size < 1:
            raise ApiError(400, f"Invalid value '{raw}'. Values must be within the range: [1, {maximum}]", "invalid")
        if size > maximum:
            if over == "error":
                raise ApiError(400, f"Invalid value '{raw}'. Values must be within the range: [1, {maximum}]",
                               "invalid")
            size = maximum
    if req.page_cap:
        size = min(size, req.page_cap)
    return size


def paginate(req: PagedRequest, items: Sequence[T], collection: str = "", *, default: int | None = None,
             maximum: int | None = None, param: str | None = None, over: str | None = None) -> tuple[list[T], str | None]:
    """One page of `items` for this request and the next page token (None on the last page).

    Defaults come from `RULES` for the request's method; pass them explicitly for methods not listed.
    """
    rule = RULES.get(req.method, ("pageSize", 100, 1000, "coerce"))
    param, default = param or rule[0], default if default is not None else rule[1]
    maximum, over = maximum if maximum is not None else rule[2], over or rule[3]
    collection = collection or req.method
    qhash = query_hash(req.query)
    token = (req.query.get("pageToken") or [""])[0]
    offset = decode_token(token, collection, qhash) if token else 0
    size = page_size(req, default, maximum, param, over)
    page = list(items[offset:offset + size])
    nxt = offset + size
    return page, (encode_token(collection, nxt, qhash) if nxt < len(items) else None)
