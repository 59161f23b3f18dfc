"""Reports ``drive`` acl_change events rebuilt into DriveItems (one grant each).

Shapes accepted, each from the Drive audit appendix
(developers.google.com/admin-sdk/reports/v1/appendix/activity/drive) or public fixtures
(elastic/integrations packages/google_workspace/data_stream/drive/_dev/test/pipeline/test-drive.log;
panther-labs/panther-analysis rules/gsuite_reports_rules/gsuite_drive_visibility_change.yml):

- ``change_user_access``: ``target_user`` + ``new_value`` role words. ``new_value`` is a
  ``multiValue`` list (Panther) or a single ``value`` (Elastic); every word is kept, the widest
  role is the grant.
- ``change_document_access_scope``: ``target_domain`` (``all`` = anyone) + role words, with
  ``visibility`` saying whether the file is discoverable.
- ``change_document_visibility``: sibling of the access-scope event; its ``new_value`` is a
  visibility word (``people_with_link``, ``public_on_the_web``, ``private`` ...).
- ``*_hierarchy_reconciled``: the same grants, inherited from a parent folder.
- ``shared_drive_membership_change``: a member added to a shared drive (``target``, ``added_role``).
- ``owner_is_shared_drive``: the item has no owner; the event's actor made the change.
- ``doc_type``: every documented value; ``unknown`` (or an undocumented one) gives an empty
  mimeType for the connector to resolve with one batched ``files.get``.
- ``events`` as a list (the API) or one object (Elastic's per-event log lines).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from connectors.google.reports import _event_list, _skip, _time, event_id, flat_params
from integration.records import DriveItem, Permission

EVENT_NAMES = ("change_user_access", "change_document_access_scope", "change_document_visibility",
               "change_user_access_hierarchy_reconciled", "change_document_access_scope_hierarchy_reconciled",
               "shared_drive_membership_change")
INHERITED = "_hierarchy_reconciled"

# Role words of new_value / added_role -> (Drive API role, width). Unknown words still grant (reader).
ROLES = {"owner": ("owner", 6), "organizer": ("organizer", 5), "manager": ("organizer", 5),
         "can_manage": ("organizer", 5), "content_manager": ("fileOrganizer", 4), "file_organizer": ("fileOrganizer", 4),
         "can_organize": ("fileOrganizer", 4), "fileorganizer": ("fileOrganizer", 4), "can_edit": ("writer", 3),
         "editor": ("writer", 3), "writer": ("writer", 3), "can_comment": ("commenter", 2),
         "commenter": ("commenter", 2), "can_view": ("reader", 1), "viewer": ("reader", 1), "reader": ("reader", 1),
         "can_view_published": ("reader", 1), "published_viewer": ("reader", 1)}
NO_ACCESS = {"", "none", "private", "no_access"}
# Visibility words -> (scope, discoverable). shared_internally/externally describe the file, not a grant.
VISIBILITY = {"people_with_link": ("anyone", False), "public_on_the_web": ("anyone", True),
              "people_within_domain_with_link": ("domain", False), "public_in_the_domain": ("domain", True)}

G = "application/vnd.google-apps."
MIME_OF = {"document": G + "document", "spreadsheet": G + "spreadsheet", "presentation": G + "presentation",
           "form": G + "form", "folder": G + "folder", "drawing": G + "drawing", "script": G + "script",
           "shortcut": G + "shortcut", "sites": G + "site", "jam": G + "jam", "shared_drive": G + "shared-drive",
           "pdf": "application/pdf", "msword": "application/msword", "msexcel": "application/vnd.ms-excel",
           "mspowerpoint": "application/vnd.ms-powerpoint", "html": "text/html", "txt": "text/plain",
           "jpeg": "image/jpeg", "png": "image/png", "mp4": "video/mp4", "mpeg": "video/mpeg",
           "quicktime": "video/quicktime",
           # seen in third-party data, not in the appendix
           "jpg": "image/jpeg", "gif": "image/gif", "heic": "image/heic", "mov": "video/quicktime"}


def _words(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [str(v).strip().lower() for v in values if v is not None and str(v).strip()]


def widest(words: list[str]) -> str:
    """The widest Drive role among role words ("" when every word is a removal)."""
    granted = [ROLES.get(w, ("reader", 1)) for w in words if w not in NO_ACCESS]
    return max(granted, key=lambda r: r[1])[0] if granted else ""


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class _Malformed(Exception):
    """A grant event missing the field that names the grantee."""


def _grant(name: str, p: dict[str, Any]) -> Permission | None:
    """The permission one event granted; None for a removal (or an event that grants nothing)."""
    words = _words(p.get("new_value"))
    inherited = name.endswith(INHERITED)
    base = name[: -len(INHERITED)] if inherited else name
    if base == "change_user_access":
        role, target = widest(words), str(p.get("target_user") or "").strip().lower()
        if role and not target:
            raise _Malformed("change_user_access without target_user")
        if not role:
            return None
        if "@" not in target:
            return Permission("domain", role, domain=target, inherited=inherited, roles=tuple(words))
        return Permission("user", role, email=target, inherited=inherited, roles=tuple(words))
    if base == "shared_drive_membership_change":
        if str(p.get("membership_change_type") or "").lower().startswith("remove"):
            return None
        added = _words(p.get("added_role"))
        role, target = widest(added), str(p.get("target") or "").strip().lower()
        if not role or "@" not in target:
            return None
        return Permission("user", role, email=target, roles=tuple(added))
    if base == "change_document_access_scope":
        role = widest(words)
        if not role:
            return None
        scope = VISIBILITY.get(str(p.get("visibility") or "").lower(), ("", False))
        return _scoped(p, role, words, inherited, discover=scope[1])
    if base == "change_document_visibility":
        # new_value is the new visibility; `visibility` may still show the old one (Panther's "became private")
        word = next((w for w in words if w in VISIBILITY), "") if words else str(p.get("visibility") or "").lower()
        if word not in VISIBILITY:
            return None  # private, or a word describing the file rather than a new scope
        kind, discover = VISIBILITY[word]
        target = "all" if kind == "anyone" else str(p.get("target_domain") or "").lower()
        return _scoped({**p, "target_domain": target}, "reader", words, inherited, discover)
    return None


def _scoped(p: dict[str, Any], role: str, words: list[str], inherited: bool, discover: bool) -> Permission:
    target = str(p.get("target_domain") or "").strip().lower()
    if target in ("all", ""):
        return Permission("anyone", role, allow_discovery=discover, inherited=inherited, roles=tuple(words))
    return Permission("domain", role, domain=target, allow_discovery=discover, inherited=inherited,
                      roles=tuple(words))


def drive_items(activity: dict[str, Any]) -> Iterator[DriveItem]:
    """A DriveItem holding the one grant each acl_change event made (removals are not grants)."""
    when = _time(activity)
    actor = str((activity.get("actor") or {}).get("email") or "").strip().lower()
    for i, ev in enumerate(_event_list(activity)):
        name = str(ev.get("name") or "")
        if name not in EVENT_NAMES:
            continue
        p = flat_params(ev.get("parameters") or [])
        try:
            perm = _grant(name, p)
        except _Malformed as exc:
            _skip("drive", activity, str(exc))
            continue
        if perm is None:
            continue
        membership = name == "shared_drive_membership_change"
        doc_id = str((p.get("shared_drive_id") if membership else None) or p.get("doc_id") or "")
        if not doc_id or when is None:
            _skip("drive", activity, "no doc_id or time")
            continue
        shared_drive_id = str(p.get("shared_drive_id") or "")
        owner = str(p.get("owner") or "").strip().lower()
        in_shared_drive = _true(p.get("owner_is_shared_drive")) or membership or (not owner and bool(shared_drive_id))
        doc_type = "shared_drive" if membership else str(p.get("doc_type") or "").lower()
        yield DriveItem(doc_id, str(p.get("doc_title") or ""), MIME_OF.get(doc_type, ""),
                        "" if in_shared_drive else owner, (perm,),
                        link=f"https://drive.google.com/open?id={doc_id}",
                        shared_drive_id=shared_drive_id or (doc_id if membership else ""),
                        is_shared_drive=membership, modified=when, source="reports.drive",
                        event_id=event_id(activity, i), actor=actor)
