"""Drive sharing crawl: each user's own files with their permissions, and the domain's shared drives.

Per user, impersonating the owner (only a user who can share a file sees its
permissions): ``files.list(q="'me' in owners and trashed=false", pageSize=1000)`` with the
permissions in the same call through the fields mask — never one call per file. Shared
drives: ``drives.list(useDomainAdminAccess)`` as the admin, then every drive's
permissions in Drive batches (≤100 parts); the files inside each drive and their own
permissions as one of its members (`connectors.google.shared_drive_files`). Only metadata
is read; never contents.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from connectors.google.reports import parse_time
from connectors.google.scopes import SCOPES
from connectors.google.shared_drive_files import SharedDriveFiles
from connectors.google.transport import GoogleClient
from integration.errors import SourceError
from integration.logs import event
from integration.records import DriveItem, Permission

log = logging.getLogger("safechannels.google.drive")

PERM_FIELDS = "id,type,role,emailAddress,domain,allowFileDiscovery,displayName"
FILE_FIELDS = (f"nextPageToken,incompleteSearch,files(id,name,mimeType,modifiedTime,owners(emailAddress),"
               f"webViewLink,driveId,permissions({PERM_FIELDS}))")
CRAWL_QUERY = "'me' in owners and trashed=false"


def permission(p: dict[str, Any]) -> Permission:
    return Permission(str(p.get("type", "")), str(p.get("role", "")), str(p.get("emailAddress", "")).lower(),
                      str(p.get("domain", "")).lower(), str(p.get("displayName", "")), str(p.get("id", "")),
                      bool(p.get("allowFileDiscovery", False)))


def drive_item(f: dict[str, Any], owner: str) -> DriveItem:
    owners = f.get("owners") or []
    owner_email = str(owners[0].get("emailAddress", "")).lower() if owners else ("" if f.get("driveId") else owner)
    modified = parse_time(f["modifiedTime"]) if f.get("modifiedTime") else None
    return DriveItem(str(f["id"]), str(f.get("name", "")), str(f.get("mimeType", "")), owner_email,
                     tuple(permission(p) for p in f.get("permissions") or []), link=str(f.get("webViewLink", "")),
                     shared_drive_id=str(f.get("driveId", "")), modified=modified, source="drive.files.list")


class DriveCrawler:
    def __init__(self, client: GoogleClient, admin: str):
        self.client, self.admin = client, admin
        self._mimes: dict[str, str] = {}  # file id -> mimeType resolved this process (one action, several events)
        self._drive_files = SharedDriveFiles(client, PERM_FIELDS, permission)

    def drive_files(self, drive: DriveItem, impersonable: set[str]) -> list[DriveItem]:
        """The files of one shared drive (a `shared_drives` item) that are shared beyond its members,
        read as a member in `impersonable`; SourceRefused when none of them can be impersonated."""
        return self._drive_files.read(drive, impersonable)

    def user_files(self, owner: str, modified_after: datetime | None = None) -> list[DriveItem]:
        """Every file `owner` owns and has not binned, with its sharing."""
        files = self.client.resource("drive", "files")
        q = CRAWL_QUERY
        if modified_after is not None:
            q += f" and modifiedTime > '{modified_after.strftime('%Y-%m-%dT%H:%M:%S')}'"

        def make(token: str | None):
            return files.list(q=q, corpora="user", pageSize=1000, fields=FILE_FIELDS, pageToken=token)

        items: list[DriveItem] = []
        for page in self.client.pages("drive", make, subject=owner, scopes=SCOPES["drive"]):
            items += [drive_item(f, owner) for f in page.get("files") or [] if f.get("id")]
        return items

    def shared_drives(self) -> Iterator[list[DriveItem]]:
        """Shared drives (as DriveItems with is_shared_drive) with their members, a page of drives at a time."""
        drives_res = self.client.resource("drive", "drives")
        scopes = SCOPES["shared_drives"]

        def make(token: str | None):
            return drives_res.list(useDomainAdminAccess=True, pageSize=100, pageToken=token,
                                     fields="nextPageToken,drives(id,name,createdTime)")

        for page in self.client.pages("drive", make, subject=self.admin, scopes=scopes):
            drives = {d["id"]: d for d in page.get("drives") or [] if d.get("id")}
            perms = self._drive_permissions(list(drives), scopes)
            yield [DriveItem(did, str(d.get("name", "")), "application/vnd.google-apps.shared-drive", "",
                             tuple(perms.get(did, ())), link=f"https://drive.google.com/drive/folders/{did}",
                             shared_drive_id=did, is_shared_drive=True,
                             modified=parse_time(d["createdTime"]) if d.get("createdTime") else None,
                             source="drive.drives") for did, d in drives.items()]

    def _list_permissions(self, drive_id: str, token: str | None = None):
        return self.client.resource("drive", "permissions").list(
            fileId=drive_id, supportsAllDrives=True, useDomainAdminAccess=True, pageSize=100, pageToken=token,
            fields=f"nextPageToken,permissions({PERM_FIELDS})")

    def _drive_permissions(self, drive_ids: list[str], scopes: tuple[str, ...]) -> dict[str, list[Permission]]:
        """First pages in batches; the rare drive with more than 100 members is paged on its own."""
        out: dict[str, list[Permission]] = {}
        more: list[tuple[str, str]] = []
        reqs = [(str(i), self._list_permissions(did)) for i, did in enumerate(drive_ids)]  # short part ids
        for key, resp, err in self.client.batch("drive", reqs, subject=self.admin, scopes=scopes):
            did = drive_ids[int(key)]
            if err is not None:
                raise err if isinstance(err, SourceError) else SourceError(str(err), api="drive")
            out[did] = [permission(p) for p in (resp or {}).get("permissions") or []]
            if (resp or {}).get("nextPageToken"):
                more.append((did, resp["nextPageToken"]))
        for did, token in more:  # pages() asks for None first: start it at the batch's next token
            for page in self.client.pages("drive", lambda t, d=did, t0=token: self._list_permissions(d, t or t0),
                                          subject=self.admin, scopes=scopes):
                out[did] += [permission(p) for p in page.get("permissions") or []]
        return out

    def resolve_mime(self, items: list[DriveItem]) -> list[DriveItem]:
        """Fill the mimeType of event items whose doc_type was ``unknown``: one batched files.get per
        person able to see them (owner, else the actor, else the admin), never one call per file."""
        by_subject: dict[str, list[str]] = {}
        for item in items:
            if not item.mime_type and item.item_id not in self._mimes:
                ids = by_subject.setdefault(item.owner_email or item.actor or self.admin, [])
                if item.item_id not in ids:
                    ids.append(item.item_id)
        files = self.client.resource("drive", "files")
        found = self._mimes
        for subject, ids in by_subject.items():
            reqs = [(str(i), files.get(fileId=fid, supportsAllDrives=True, fields="id,mimeType"))
                    for i, fid in enumerate(ids)]
            try:
                for key, resp, err in self.client.batch("drive", reqs, subject=subject, scopes=SCOPES["drive"]):
                    if err is None and (resp or {}).get("mimeType"):
                        found[ids[int(key)]] = str(resp["mimeType"])
                    elif err is not None:
                        event(log, "drive.mime_unresolved", logging.WARNING, file=ids[int(key)], error=str(err))
            except SourceError as exc:  # this person cannot be impersonated: their items stay untyped (logged)
                event(log, "drive.mime_unresolved", logging.WARNING, subject=subject, error=str(exc))
        return [dataclasses.replace(i, mime_type=found[i.item_id]) if not i.mime_type and i.item_id in found else i
                for i in items]
