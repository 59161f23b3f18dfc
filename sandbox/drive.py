"""Drive API v3: files.list (the sharing crawl), permissions.list, drives.list, from the school's activity.

A user's files are derived on demand (`sandbox.activity`), so a crawl of ``school``
(≈200,000 files) costs no memory here. As on Google: ``permissions`` come back only on
files the caller can share (the owner can), never on shared-drive items; ``pageSize``
above the cap is coerced; ``q`` supports the subset the service uses
(``'me' in owners``, ``trashed``, ``modifiedTime``, ``mimeType``) and answers 400 for the rest.
Without ``'me' in owners`` a ``corpora=user`` list is, as on Google, My Drive plus "Shared with
me" (files shared with the user or a group they are in; no ``permissions`` on those).
"""

from __future__ import annotations

import re
from typing import Any

from sandbox import shared_drives
from sandbox.activity import Activity, File, Perm, SharedDrive, activity, stamp, utc
from sandbox.api import ApiRequest, Registry
from sandbox.errors import ApiError, not_found
from sandbox.model import Domain
from sandbox.paging import paginate

_TERM = re.compile(r"""^(?:'me'\s+in\s+owners|trashed\s*(=|!=)\s*(true|false)|modifiedTime\s*(>=|>|<=|<)\s*'([^']+)'|"""
                   r"""mimeType\s*(=|!=)\s*'([^']+)')$""")


_OWNED = re.compile(r"'me'\s+in\s+owners")


def register(api: Registry, domain: Domain) -> None:
    @api.method("drive.files.list")
    def files_list(req: ApiRequest) -> dict[str, Any]:
        act = activity(req.domain)
        me = req.subject_email.lower()
        corpora = req.arg("corpora", "user")
        if corpora not in ("user", "domain", "drive", "allDrives"):
            raise ApiError(400, f"Invalid value for corpora: {corpora}", "invalid", location="corpora")
        q = req.arg("q") or ""
        drive_id = req.arg("driveId") or ""
        if (corpora == "drive") != bool(drive_id):
            raise ApiError(400, "The driveId parameter must be specified if and only if corpora is set to drive.",
                           "invalid", location="driveId")
        if corpora == "drive":
            files = _drive_corpus(req, act, me, drive_id, q)
        else:
            files = [f for f in act.files(me) if _keep(f, q)]
        if corpora == "user" and not _OWNED.search(q):  # corpora=user is My Drive AND "Shared with me"
            files += [f for f in shared_with(act, me) if _keep(f, q)]
        page, token = paginate(req, files)
        body: dict[str, Any] = {"kind": "drive#fileList", "incompleteSearch": False,
                                "files": [file_json(act, f, me) for f in page]}
        if token:
            body["nextPageToken"] = token
        return body

    @api.method("drive.files.get")
    def files_get(req: ApiRequest) -> dict[str, Any]:
        """A file the caller can see: owned, shared with them, or in a shared drive they belong to
        (those only with supportsAllDrives, as on Google)."""
        act = activity(req.domain)
        me, fid = req.subject_email.lower(), req.params["fileId"]
        f = next((x for x in act.files(me) if x.id == fid), None) or act.find_file(fid)
        if f is not None and f.drive_id:
            drive = next((d for d in act.shared_drives if d.id == f.drive_id), None)
            if not req.flag("supportsAllDrives") or drive is None or not _member(drive, me):
                f = None
        elif f is not None and f.owner != me and not any(p.email == me for p in f.perms):
            f = None
        if f is None:
            raise not_found(f"File not found: {fid}.")
        return file_json(act, f, me)

    @api.method("drive.changes.getStartPageToken")
    def start_page_token(req: ApiRequest) -> dict[str, Any]:
        """The change feed's current position (the sandbox's feed is only used to open change channels)."""
        return {"kind": "drive#startPageToken", "startPageToken": str(int(activity(req.domain).horizon.timestamp()))}

    @api.method("drive.permissions.list")
    def permissions_list(req: ApiRequest) -> dict[str, Any]:
        act = activity(req.domain)
        fid = req.params["fileId"]
        drive = next((d for d in act.shared_drives if d.id == fid), None)
        item = shared_drives.find(act, fid) if drive is None else None
        if drive is not None:
            if not req.flag("supportsAllDrives"):
                raise not_found(f"File not found: {fid}.")
            if not (req.flag("useDomainAdminAccess") and req.is_admin) and not _member(drive, req.subject_email):
                raise ApiError(403, "The user does not have sufficient permissions for this file.",
                               "insufficientFilePermissions")
            perms = drive.perms
        elif item is not None:  # a shared-drive item: only with supportsAllDrives, only for a member
            holder = shared_drives.drive_of(act, item.drive_id)
            if not req.flag("supportsAllDrives") or holder is None or not _member(holder, req.subject_email):
                raise not_found(f"File not found: {fid}.")
            page, token = paginate(req, shared_drives.permissions(act, item))
            body = {"kind": "drive#permissionList", "permissions": page}
            return {**body, "nextPageToken": token} if token else body
        else:
            f = next((x for x in act.files(req.subject_email.lower()) if x.id == fid), None) or act.find_file(fid)
            if f is None or f.owner != req.subject_email.lower():
                raise not_found(f"File not found: {fid}.")
            perms = list(f.perms)
        page, token = paginate(req, perms)
        body: dict[str, Any] = {"kind": "drive#permissionList", "permissions": [perm_json(p) for p in page]}
        if token:
            body["nextPageToken"] = token
        return body

    @api.method("drive.drives.list")
    def drives_list(req: ApiRequest) -> dict[str, Any]:
        act = activity(req.domain)
        if req.flag("useDomainAdminAccess"):
            if not req.is_admin:
                raise ApiError(403, "The user does not have sufficient permissions for this operation.",
                               "insufficientAdministratorPrivileges")
            drives = list(act.shared_drives)
        else:
            drives = [d for d in act.shared_drives if _member(d, req.subject_email)]
        page, token = paginate(req, drives)
        body: dict[str, Any] = {"kind": "drive#driveList", "drives": [drive_json(d) for d in page]}
        if token:
            body["nextPageToken"] = token
        return body


def _drive_corpus(req: ApiRequest, act: Activity, me: str, drive_id: str, q: str) -> list[File]:
    """corpora=drive: the items of one shared drive the caller is a member of (the admin flag does not
    apply to files.list), only from a client that says it supports shared drives."""
    if not (req.flag("includeItemsFromAllDrives") and req.flag("supportsAllDrives")):
        raise ApiError(400, "The includeItemsFromAllDrives and supportsAllDrives parameters must be set to true "
                       "when corpora is set to drive.", "invalid", location="includeItemsFromAllDrives")
    drive = shared_drives.drive_of(act, drive_id)
    if drive is None or not _member(drive, me):
        raise not_found(f"Shared drive not found: {drive_id}")
    return [f for f in shared_drives.files_in(act, drive_id) if _keep(f, q)]


def shared_with(act: Activity, me: str) -> list[File]:
    """Files others own that are shared with `me` directly or through a group `me` is in (Drive's
    "Shared with me"). The index over every owner's files is built once per activity state."""
    stamp_key = (act.horizon, sum(len(v) for v in act.plant_files.values()))
    cache = act.dom.state("drive.shared_with", dict)
    with act.dom.lock:
        if cache.get("key") != stamp_key:
            members: dict[str, set[str]] = {}
            for g in act.dom.groups:
                for m in g.members:
                    members.setdefault(g.email.lower(), set()).add(m.email.lower())
            index: dict[str, list[File]] = {}
            for owner in sorted(set(act.staff + act.pupils) | set(act.plant_files)):
                for f in act.files(owner):
                    if f.trashed:  # a file in its owner's trash is gone from everyone else's "Shared with me"
                        continue
                    to = {p.email.lower() for p in f.perms[1:] if p.type == "user" and p.email}
                    to |= {u for p in f.perms if p.type == "group" for u in members.get(p.email.lower(), ())}
                    for person in to - {f.owner}:
                        index.setdefault(person, []).append(f)
            cache.update(key=stamp_key, index=index)
        return list(cache["index"].get(me, []))


def _member(drive: SharedDrive, email: str) -> bool:
    return any(p.email == email.lower() for p in drive.perms)


def _keep(f: File, q: str) -> bool:
    """Whether a file matches `q` (terms joined by 'and'); 400 for syntax the sandbox does not know."""
    for term in filter(None, (t.strip() for t in re.split(r"\s+and\s+", q.strip()))):
        m = _TERM.match(term)
        if not m:
            raise ApiError(400, "Invalid Value", "invalid", location="q")
        if m.group(1):
            want = m.group(2) == "true"
            if (f.trashed == want) != (m.group(1) == "="):
                return False
        elif m.group(3):
            when, op = utc(m.group(4)), m.group(3)
            ok = {">": f.modified > when, ">=": f.modified >= when, "<": f.modified < when,
                  "<=": f.modified <= when}[op]
            if not ok:
                return False
        elif m.group(5) and (f.mime == m.group(6)) != (m.group(5) == "="):
            return False
    return True


def perm_json(p: Perm) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": "drive#permission", "id": p.id, "type": p.type, "role": p.role}
    if p.email:
        out["emailAddress"] = p.email
    if p.display:
        out["displayName"] = p.display
    if p.type == "domain":
        out["domain"] = p.domain
    if p.type in ("domain", "anyone"):
        out["allowFileDiscovery"] = p.discover
    return out


def file_json(act: Activity, f: File, me: str) -> dict[str, Any]:
    if f.drive_id:  # shared-drive items have no owners and never carry permissions here (as on Google)
        return {"kind": "drive#file", "id": f.id, "name": f.name, "mimeType": f.mime, "trashed": f.trashed,
                "modifiedTime": stamp(f.modified), "webViewLink": f"https://drive.google.com/file/d/{f.id}/view",
                "driveId": f.drive_id, "teamDriveId": f.drive_id, "parents": [f.parent or f.drive_id],
                "hasAugmentedPermissions": bool(f.perms)}
    owner = act.users.get(f.owner)
    out: dict[str, Any] = {
        "kind": "drive#file", "id": f.id, "name": f.name, "mimeType": f.mime, "trashed": f.trashed,
        "modifiedTime": stamp(f.modified), "webViewLink": f"https://drive.google.com/file/d/{f.id}/view",
        "shared": len(f.perms) > 1, "ownedByMe": f.owner == me,
        "owners": [{"kind": "drive#user", "emailAddress": f.owner, "displayName": owner.full_name if owner else "",
                    "permissionId": f.perms[0].id, "me": f.owner == me}],
    }
    if f.owner == me:  # only a user who can share the file sees its permissions
        out["permissions"] = [perm_json(p) for p in f.perms]
    return out


def drive_json(d: SharedDrive) -> dict[str, Any]:
    return {"kind": "drive#drive", "id": d.id, "name": d.name, "createdTime": stamp(d.created), "hidden": False}
