"""Google Chat API: spaces.get and spaces.members.list with administrator access, from the school's activity.

As Google documents them (chat v1 discovery): with ``useAdminAccess=true`` the caller must be a
Workspace administrator holding ``chat.admin.memberships(.readonly)`` (members) or
``chat.admin.spaces(.readonly)`` (spaces), and a members filter must include
``member.type = "HUMAN"`` or ``member.type != "BOT"``. Members come back as ``users/<Directory id>``
without an email (the email is only promised with user authentication). Without admin access the
delegated admin is not a member of anyone's DM, so the space is not visible to it.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.activity import activity, stamp
from sandbox.api import ApiRequest, Registry
from sandbox.errors import ApiError, bad_request, insufficient_scopes, not_found
from sandbox.model import Domain
from sandbox.paging import paginate

HUMANS_ONLY = re.compile(r'member\.type\s*(=\s*"HUMAN"|!=\s*"BOT")')


def register(api: Registry, domain: Domain) -> None:
    @api.method("chat.spaces.get")
    def spaces_get(req: ApiRequest) -> dict[str, Any]:
        name = f"spaces/{req.params['spacesId']}" if "spacesId" in req.params else req.params["name"]
        _admin_access(req, "chat.admin.spaces", "chat.admin.spaces.readonly")
        space_type, members = _room(req, name)
        body: dict[str, Any] = {"name": name, "spaceType": space_type, "spaceThreadingState": "THREADED_MESSAGES",
                                "spaceHistoryState": "HISTORY_ON", "createTime": stamp(activity(req.domain).start)}
        if space_type == "SPACE":
            body["displayName"] = f"Room {name.split('/', 1)[1][:4]}"
        if space_type == "DIRECT_MESSAGE":
            body["singleUserBotDm"] = False
        return body

    @api.method("chat.spaces.members.list")
    def members_list(req: ApiRequest) -> dict[str, Any]:
        name = f"spaces/{req.params['spacesId']}" if "spacesId" in req.params else req.params["parent"]
        _admin_access(req, "chat.admin.memberships", "chat.admin.memberships.readonly")
        if not HUMANS_ONLY.search(req.arg("filter") or ""):
            raise bad_request('Either member.type = "HUMAN" or member.type != "BOT" is required with admin access.')
        _, members = _room(req, name)
        users = activity(req.domain).users
        rows = []
        for user in (users[e] for e in members if e in users):
            rows.append({"name": f"{name}/members/{user.id}", "state": "JOINED", "role": "ROLE_MEMBER",
                         "member": {"name": f"users/{user.id}", "type": "HUMAN"},
                         "createTime": stamp(activity(req.domain).start)})
        page, token = paginate(req, rows, default=100, maximum=1000, param="pageSize", over="coerce")
        body: dict[str, Any] = {"memberships": page}
        if token:
            body["nextPageToken"] = token
        return body


def _admin_access(req: ApiRequest, *scopes: str) -> None:
    if not req.flag("useAdminAccess"):
        raise ApiError(403, "The caller is not a member of the space.", "forbidden")
    if not req.has_scope(*scopes):
        raise insufficient_scopes()
    if not req.is_admin:
        raise ApiError(403, "Admin access requires the manage chat and spaces conversations privilege.",
                       "forbidden")


def _room(req: ApiRequest, name: str) -> tuple[str, tuple[str, ...]]:
    act = activity(req.domain)
    room = act.rooms.get(name)
    if room is None:  # rooms are learnt as chat days are derived: this process may not have derived them yet
        for day in range(act.last_day + 1):
            act.chat_day(day)
        room = act.rooms.get(name)
    if room is None:
        raise not_found(name)
    return room
