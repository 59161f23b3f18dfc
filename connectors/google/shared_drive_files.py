"""The files inside one shared drive, with their own per-file permissions.

Why this shape (Drive v3 discovery document and developers.google.com/workspace/drive/api/guides/
shared-drives-diffs):

- ``files.list`` has no ``useDomainAdminAccess``: a drive's files are listed as one of its members
  (``corpora=drive``, ``driveId``, ``includeItemsFromAllDrives``, ``supportsAllDrives``), preferably an
  organizer; a member who cannot be impersonated (suspended, outside the domain) is passed over.
- ``File.permissions`` is "not populated for items in shared drives": each file's sharing comes from
  ``permissions.list(supportsAllDrives)``, sent in Drive batches (≤100 parts), never one call per file.
- ``hasAugmentedPermissions`` ("whether any users are granted file access directly on this file") is
  only populated for shared-drive items: a file without it whose folders up to the drive have none
  either holds only the drive's members, which the drive's own read already judged, so it is not asked.
  A file missing the field, or whose parent is not in the listing, is asked (never assume).
- ``permissionDetails`` (``teamDrivePermissionDetails`` in older answers) says per permission whether
  it is the drive's membership (``permissionType: member``), inherited from a folder (``file``,
  ``inherited``, ``inheritedFrom``) or on the file itself. Membership is dropped (the drive's finding
  covers it); a folder's grant is kept marked ``inherited`` (one finding per folder grant).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from connectors.google.reports import parse_time
from connectors.google.scopes import SCOPES
from connectors.google.transport import GoogleClient
from integration.errors import NotFound, SourceError, SourceRefused
from integration.logs import event
from integration.records import DriveItem, Permission

log = logging.getLogger("safechannels.google.drive")

FILE_FIELDS = ("nextPageToken,incompleteSearch,files(id,name,mimeType,modifiedTime,webViewLink,driveId,parents,"
               "trashed,hasAugmentedPermissions)")
DETAIL_FIELDS = "permissionType,inherited,inheritedFrom,role"
MEMBER_ORDER = {"organizer": 0, "fileOrganizer": 1, "writer": 2, "commenter": 3, "reader": 4}
MAX_SUBJECTS = 3  # members tried before a drive is left unread for this run


def readers(drive: DriveItem, impersonable: set[str]) -> list[str]:
    """Members of the drive who can be impersonated, organizers first (they see every file)."""
    users = [p for p in drive.permissions if p.type == "user" and p.email in impersonable]
    users.sort(key=lambda p: MEMBER_ORDER.get(p.role, 9))
    return list(dict.fromkeys(p.email for p in users))


def needs_permissions(files: list[dict[str, Any]], drive_id: str) -> list[dict[str, Any]]:
    """The files whose permissions may hold more than the drive's membership (see module docstring)."""
    by_id = {str(f["id"]): f for f in files}
    memo: dict[str, bool] = {}

    def augmented(fid: str, depth: int = 0) -> bool:
        if fid == drive_id:
            return False
        if fid in memo:
            return memo[fid]
        f = by_id.get(fid)
        if f is None or depth > 50 or f.get("hasAugmentedPermissions") is not False:
            memo[fid] = True  # unknown parent, a loop, or a file that says it has (or does not say)
            return True
        parents = f.get("parents") or []
        memo[fid] = not parents or any(augmented(str(p), depth + 1) for p in parents)
        return memo[fid]

    return [f for f in files if augmented(str(f["id"]))]


def _details(p: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"permissionType": d.get("permissionType", d.get("teamDrivePermissionType")), **d}
            for d in (p.get("permissionDetails") or p.get("teamDrivePermissionDetails") or [])]


def file_permission(p: dict[str, Any], perm: Callable[[dict[str, Any]], Permission]) -> Permission | None:
    """A file's own (or folder-inherited) permission; None for the drive's membership."""
    details = _details(p)
    own = [d for d in details if str(d.get("permissionType") or "").lower() != "member"]
    if details and not own:
        return None
    base = perm(p)
    if own and all(d.get("inherited") is True or str(d.get("inherited")).lower() == "true" for d in own):
        return Permission(base.type, base.role, base.email, base.domain, base.display_name, base.permission_id,
                          base.allow_discovery, inherited=True)
    return base


class SharedDriveFiles:
    """Lists one shared drive's files as a member and reads their permissions in batches."""

    def __init__(self, client: GoogleClient, perm_fields: str, perm: Callable[[dict[str, Any]], Permission]):
        self.client, self.perm = client, perm
        self.perm_fields = f"nextPageToken,permissions({perm_fields},permissionDetails({DETAIL_FIELDS}))"

    def read(self, drive: DriveItem, impersonable: set[str]) -> list[DriveItem]:
        """The drive's files that carry sharing of their own. Raises SourceRefused when no member can be
        impersonated (the caller logs it and tries again next run)."""
        tried: list[str] = []
        for subject in readers(drive, impersonable)[:MAX_SUBJECTS]:
            tried.append(subject)
            try:
                files = self._list(drive.item_id, subject)
            except SourceRefused as exc:
                event(log, "drive.shared_drive_member_refused", logging.INFO, drive=drive.item_id, error=str(exc))
                continue
            return self._items(drive, files, subject)
        raise SourceRefused(f"drive: no member of shared drive {drive.item_id} could be impersonated "
                            f"(tried {len(tried)})", api="drive",
                            fix="make a member of staff an organizer of the shared drive")

    def _list(self, drive_id: str, subject: str) -> list[dict[str, Any]]:
        files = self.client.resource("drive", "files")

        def make(token: str | None):
            return files.list(corpora="drive", driveId=drive_id, includeItemsFromAllDrives=True,
                              supportsAllDrives=True, q="trashed=false", pageSize=1000, fields=FILE_FIELDS,
                              pageToken=token)

        out: list[dict[str, Any]] = []
        for page in self.client.pages("drive", make, subject=subject, scopes=SCOPES["drive"], ahead=True):
            out += [f for f in page.get("files") or [] if f.get("id") and not f.get("trashed")]
        return out

    def _items(self, drive: DriveItem, files: list[dict[str, Any]], subject: str) -> list[DriveItem]:
        asked = needs_permissions(files, drive.item_id)
        perms = self._permissions([str(f["id"]) for f in asked], subject)
        organizers = tuple(p.email for p in drive.permissions if p.role == "organizer" and p.email)
        out = []
        for f in asked:
            own = tuple(perms.get(str(f["id"]), ()))
            if own:
                out.append(DriveItem(str(f["id"]), str(f.get("name", "")), str(f.get("mimeType", "")), "", own,
                                     link=str(f.get("webViewLink", "")), shared_drive_id=drive.item_id,
                                     modified=parse_time(f["modifiedTime"]) if f.get("modifiedTime") else None,
                                     source="drive.files.list", organizers=organizers))
        return out

    def _permissions(self, ids: Iterable[str], subject: str) -> dict[str, list[Permission]]:
        res = self.client.resource("drive", "permissions")
        starts = {fid: (lambda token, fid=fid: res.list(fileId=fid, supportsAllDrives=True, pageSize=100,
                                                        pageToken=token, fields=self.perm_fields))
                  for fid in ids}
        out: dict[str, list[Permission]] = {}
        for fid, page, err in self.client.batch_pages("drive", starts, subject=subject, scopes=SCOPES["drive"]):
            if isinstance(err, NotFound):  # deleted since the listing: nothing left to share
                continue
            if err is not None:
                raise err if isinstance(err, SourceError) else SourceError(str(err), api="drive")
            for p in (page or {}).get("permissions") or []:
                kept = file_permission(p, self.perm)
                if kept is not None:
                    out.setdefault(fid, []).append(kept)
        return out
