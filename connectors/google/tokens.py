"""Directory tokens.list: the third-party apps each account has authorised ("Sign in with Google").

One call per user (tokens.list has no domain-wide form and no paging), so the calls go
through the Directory batch endpoint as the delegated admin — 1,650 users are two HTTP
round trips. ``admin.directory.user.security`` is the only scope that reads tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from connectors.google.scopes import SCOPES
from connectors.google.transport import GoogleClient
from integration.errors import NotFound, SourceError
from integration.logs import event
from integration.records import OAuthGrant

log = logging.getLogger("safechannels.google.tokens")

CHUNK = 500  # users per yielded page (the batch itself holds up to 1000 parts)


class TokenReader:
    def __init__(self, client: GoogleClient, admin: str):
        self.client, self.admin = client, admin

    def grants(self, users: list[str]) -> Iterator[list[OAuthGrant]]:
        """Pages of grants for `users`; a user deleted meanwhile is skipped, a refusal stops the read."""
        tokens = self.client.resource("directory", "tokens")
        for start in range(0, len(users), CHUNK):
            chunk = users[start:start + CHUNK]
            # short part ids: long ones get folded in the multipart headers
            reqs = [(str(i), tokens.list(userKey=u, fields="items(clientId,displayText,scopes)"))
                    for i, u in enumerate(chunk)]
            out: list[OAuthGrant] = []
            for key, resp, err in self.client.batch("directory", reqs, subject=self.admin, scopes=SCOPES["tokens"]):
                user = chunk[int(key)]
                if isinstance(err, NotFound):
                    continue
                if err is not None:
                    event(log, "tokens.user_failed", logging.WARNING, user=user, error=str(err))
                    raise err if isinstance(err, SourceError) else SourceError(str(err), api="directory")
                for item in (resp or {}).get("items") or []:
                    if item.get("clientId"):
                        out.append(OAuthGrant(user, str(item["clientId"]), str(item.get("displayText", "")),
                                              tuple(item.get("scopes") or ()), "directory.tokens"))
            yield out
