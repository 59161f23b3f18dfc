"""Admin SDK Directory → roster records: users, org units, groups and (configured) group members.

Everything is read as the delegated admin (`[google] admin_subject`) with the Directory scopes
of `scopes.py`. Page sizes are the API maxima (users 500, groups/members 200) and every list
carries a `fields` mask. The users are read from both ends of their address order at once
(`both_ends.py`): 2 × ceil((users + 1) / 1000) calls, the one-way minimum or up to two more, in
half the chain of dependent pages.

Group members are read only for the configured staff/pupil groups (and groups nested in them):
classification needs nothing else, and reading every group's members would cost a call per
group for data no rule uses. Member pages of many groups go out as one Directory batch.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from connectors.google.both_ends import read_both_ends
from connectors.google.scopes import SCOPES
from connectors.google.transport import GoogleClient
from integration.errors import NotFound, SkippableRecord, SourceError
from integration.logs import event
from integration.records import DirectoryUser, GroupMemberRecord, GroupRecord, OrgUnitRecord

log = logging.getLogger("safechannels.directory")

API = "directory"
USERS_PAGE = 500
GROUPS_PAGE = 200
MEMBERS_PAGE = 200
USER_FIELDS = ("nextPageToken,users(id,primaryEmail,name(givenName,familyName,fullName),orgUnitPath,"
               "suspended,archived,isAdmin,aliases,creationTime)")
GROUP_FIELDS = "nextPageToken,groups(id,email,name,aliases)"
MEMBER_FIELDS = "nextPageToken,members(email,role,type,status)"
OU_FIELDS = "organizationUnits(orgUnitId,orgUnitPath,name,parentOrgUnitPath)"


# ------------------------------------------------------------------ wire -> records


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def user_from_wire(item: Any) -> DirectoryUser:
    """One users[] entry; SkippableRecord when it has no id or address."""
    if not isinstance(item, dict) or not item.get("primaryEmail") or not item.get("id"):
        raise SkippableRecord("a Directory user without id or primaryEmail")
    name = item.get("name") if isinstance(item.get("name"), dict) else {}
    given, family = str(name.get("givenName") or ""), str(name.get("familyName") or "")
    full = str(name.get("fullName") or " ".join(p for p in (given, family) if p))
    email = str(item["primaryEmail"]).strip().lower()
    aliases = tuple(sorted({str(a).strip().lower() for a in item.get("aliases") or [] if a} - {email}))
    return DirectoryUser(
        google_id=str(item["id"]), email=email, name=full, org_unit=str(item.get("orgUnitPath") or "/"),
        suspended=bool(item.get("suspended")), archived=bool(item.get("archived")), aliases=aliases,
        is_admin=bool(item.get("isAdmin")), given_name=given, family_name=family,
        created=parse_time(item.get("creationTime")))


def org_unit_from_wire(item: Any) -> OrgUnitRecord:
    if not isinstance(item, dict) or not item.get("orgUnitPath"):
        raise SkippableRecord("an org unit without orgUnitPath")
    path = str(item["orgUnitPath"])
    parent = str(item.get("parentOrgUnitPath") or (path.rsplit("/", 1)[0] or "/"))
    return OrgUnitRecord(path=path, name=str(item.get("name") or path.rsplit("/", 1)[-1]),
                         parent_path=parent, org_unit_id=str(item.get("orgUnitId") or ""))


def group_from_wire(item: Any) -> GroupRecord:
    if not isinstance(item, dict) or not item.get("email"):
        raise SkippableRecord("a group without email")
    email = str(item["email"]).lower()
    return GroupRecord(email=email, name=str(item.get("name") or email), google_id=str(item.get("id") or ""),
                       aliases=tuple(sorted(str(a).lower() for a in item.get("aliases") or [])))


def member_from_wire(group_email: str, item: Any) -> GroupMemberRecord:
    if not isinstance(item, dict) or not item.get("email"):
        raise SkippableRecord(f"a member of {group_email} without email")
    return GroupMemberRecord(group_email=group_email, member_email=str(item["email"]).lower(),
                             role=str(item.get("role") or "MEMBER"), type=str(item.get("type") or "USER"))


def parse_items(items: Iterable[Any], parse, what: str) -> list:
    """Parse wire items, skipping (and logging) any that cannot be understood."""
    out = []
    for item in items:
        try:
            out.append(parse(item))
        except SkippableRecord as exc:
            event(log, "roster.record_skipped", logging.WARNING, what=what, reason=str(exc))
    return out


def _users_of(page: dict) -> list:
    users = page.get("users")
    return users if isinstance(users, list) else []


def _wire_id(item: Any) -> str | None:
    return str(item["id"]) if isinstance(item, dict) and item.get("id") else None


def _wire_email(item: Any) -> str | None:
    """The users list's order key: the address, case ignored (as Google sorts it)."""
    email = item.get("primaryEmail") if isinstance(item, dict) else None
    return email.lower() if isinstance(email, str) and email else None


# ------------------------------------------------------------------ reader


class DirectoryReader:
    """Reads the Directory as the delegated admin. Each method reads one collection to the end or raises."""

    def __init__(self, client: GoogleClient, *, admin: str, customer: str = "my_customer"):
        self.client = client
        self.admin = admin
        self.customer = customer or "my_customer"
        self.scopes = SCOPES["directory"]

    def _svc(self):
        return self.client.service(API)

    def users(self) -> list[DirectoryUser]:
        """Every user, read in address order from both ends at once (`both_ends`): the list is the
        longest chain of dependent pages in a roster read."""
        def pages(order: str | None, start: str | None = None, more: Callable[[dict], bool] | None = None):
            def req(token: str | None):
                by = {"orderBy": "email", "sortOrder": order} if order else {}
                return self.client.resource(API, "users").list(
                    customer=self.customer, projection="basic", maxResults=USERS_PAGE, fields=USER_FIELDS,
                    pageToken=token or start, **by)
            return self.client.pages(API, req, subject=self.admin, scopes=self.scopes, ahead=True, more=more)

        def parse(page: dict) -> list[DirectoryUser]:
            return parse_items(_users_of(page), user_from_wire, "directory user")

        try:
            found = read_both_ends(lambda desc, start, more: pages("DESCENDING" if desc else "ASCENDING", start, more),
                                   _users_of, parse, ident=_wire_id, key=_wire_email, what="directory users")
        except SourceError as exc:
            if type(exc) is not SourceError:  # refused, gone, still failing after retries: so would a plain read
                raise
            # the request itself was refused (an HTTP 400, say, from a server that knows no orderBy): read it plain
            event(log, "directory.users_order_refused", logging.WARNING, error=str(exc))
            found = [user for page in pages(None) for user in parse(page)]
        unique: dict[str, DirectoryUser] = {}  # the two reads' overlap comes twice
        for user in found:
            unique.setdefault(user.google_id, user)
        return list(unique.values())

    def org_units(self) -> list[OrgUnitRecord]:
        req = self._svc().orgunits().list(customerId=self.customer, type="all", fields=OU_FIELDS)
        page = self.client.execute(API, req, subject=self.admin, scopes=self.scopes)
        return parse_items(page.get("organizationUnits") or [], org_unit_from_wire, "org unit")

    def groups(self) -> list[GroupRecord]:
        def req(token: str | None):
            return self._svc().groups().list(customer=self.customer, maxResults=GROUPS_PAGE,
                                             fields=GROUP_FIELDS, pageToken=token)

        out: list[GroupRecord] = []
        for page in self.client.pages(API, req, subject=self.admin, scopes=self.scopes, ahead=True):
            out.extend(parse_items(page.get("groups") or [], group_from_wire, "group"))
        return out

    def members(self, group_emails: Iterable[str]) -> list[GroupMemberRecord]:
        """Members of the given groups and of every group nested in them, a batch per nesting level.
        A configured group that does not exist raises NotFound naming it."""
        todo = sorted({g.lower() for g in group_emails})
        done: set[str] = set()
        out: list[GroupMemberRecord] = []
        while todo:
            done.update(todo)

            def starter(group: str):
                return lambda token: self.client.resource(API, "members").list(
                    groupKey=group, maxResults=MEMBERS_PAGE, fields=MEMBER_FIELDS, pageToken=token)

            nested: set[str] = set()
            starts = {g: starter(g) for g in todo}
            for group, page, err in self.client.batch_pages(API, starts, subject=self.admin, scopes=self.scopes):
                if err is not None:
                    if isinstance(err, NotFound):
                        raise NotFound(f"group {group} ([roster] staff_groups / pupil_groups) does not exist",
                                       api=API, fix="correct the group address in the [roster] section") from None
                    raise err
                for m in parse_items((page or {}).get("members") or [], lambda i, g=group: member_from_wire(g, i),
                                     "group member"):
                    out.append(m)
                    if m.type == "GROUP" and m.member_email not in done:
                        nested.add(m.member_email)
            todo = sorted(nested - done)
        return out

    def probe(self) -> int:
        """users.list maxResults=1: the cheapest call that proves the admin, scope and API all work."""
        req = self.client.resource(API, "users").list(customer=self.customer, maxResults=1, fields="users(primaryEmail)")
        page = self.client.execute(API, req, subject=self.admin, scopes=self.scopes)
        return len(page.get("users") or [])


def describe(err: Exception) -> str:
    """An operator message for a failed collection: the API (named by the error itself) and the fix."""
    if not isinstance(err, SourceError):
        return f"unexpected error: {err!r}"
    return f"{err} — fix: {err.fix}" if err.fix else str(err)
