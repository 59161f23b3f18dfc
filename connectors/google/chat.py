"""Google Chat API: the human members of DM spaces, read with administrator access (optional).

Reports `message_posted` events name only the poster, so a DM where only one side wrote shows one
member. With the optional scope group `chat_admin` (chat.admin.memberships.readonly, delegated to
the admin subject, who needs the "manage chat and spaces conversations" privilege),
`spaces.members.list(parent, useAdminAccess=true, filter='member.type = "HUMAN"')` names both.
Wire shape (chat v1 discovery, Membership/User): `memberships[].member` is `{name: "users/<id>",
type: HUMAN|BOT, email?}`; `<id>` is the Directory user id, and `email` is only promised with user
authentication, so both are accepted and the core maps ids through the roster.

A refusal (scope not delegated, no admin privilege) switches the lister off for the rest of the
process: the audit then works from Reports alone, as `doctor` says.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from connectors.google.scopes import SCOPES
from connectors.google.transport import GoogleClient, fan_out
from integration.errors import NotFound, SourceError, SourceRefused
from integration.logs import event

log = logging.getLogger("safechannels.google.chat")

HUMANS = 'member.type = "HUMAN"'  # required with useAdminAccess (discovery: spaces.members.list filter)
PAGE = 1000


class ChatMembers:
    """Lists DM spaces' human members as the delegated admin; off once Google refuses."""

    def __init__(self, client: GoogleClient, admin: str, workers: int = 4):
        self.client, self.admin, self.workers = client, admin, workers
        self.scopes = SCOPES["chat_admin"]
        self.refused: SourceRefused | None = None
        self._lock = threading.Lock()

    def members(self, rooms: list[str]) -> dict[str, list[str]]:
        """{space: member emails or "users/<id>" names} for every space that could be listed."""
        found: dict[str, list[str]] = {}
        for room, names, err in fan_out(self._space, rooms, workers=self.workers):
            if err is None and names is not None:
                found[room] = names
            elif isinstance(err, NotFound):  # listed as empty: not asked again every run (RELIST_AFTER)
                found[room] = []
                event(log, "chat.space_gone", logging.INFO, space=room)
            elif err is not None and not isinstance(err, SourceError):
                raise err
            elif err is not None and not isinstance(err, SourceRefused):
                event(log, "chat.members_failed", logging.WARNING, space=room, error=str(err))
        return found

    def _space(self, room: str) -> list[str] | None:
        if self.refused is not None:
            return None
        members = self.client.resource("chat", "spaces", "members")

        def make(token: str | None):
            kw: dict[str, Any] = {"parent": room, "useAdminAccess": True, "filter": HUMANS, "pageSize": PAGE}
            if token:
                kw["pageToken"] = token
            return members.list(**kw)

        names: list[str] = []
        try:
            for page in self.client.pages("chat", make, subject=self.admin, scopes=self.scopes):
                for m in page.get("memberships") or []:
                    user = m.get("member") or {}
                    if user.get("type", "HUMAN") != "HUMAN" or m.get("state", "JOINED") not in ("JOINED", ""):
                        continue
                    name = str(user.get("email") or user.get("name") or "").strip()
                    if name:
                        names.append(name)
        except SourceRefused as exc:
            with self._lock:
                if self.refused is None:
                    self.refused = exc
                    event(log, "chat.members_refused", logging.WARNING, error=str(exc),
                          mode="reports-only: DMs are judged once both members have posted")
            return None
        return names
