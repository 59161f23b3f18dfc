"""Shared-drive permission shapes as documented, read by connectors.google.shared_drive_files.

Sources: the Drive v3 discovery document shipped in google-api-python-client (Permission.permissionDetails:
permissionType ``file`` | ``member``, ``inherited``, ``inheritedFrom``; the deprecated
``teamDrivePermissionDetails`` with ``teamDrivePermissionType``; File.hasAugmentedPermissions "only
populated for items in shared drives") and developers.google.com/workspace/drive/api/guides/shared-drives-diffs.
"""

from __future__ import annotations

from connectors.google.drive import permission
from connectors.google.shared_drive_files import file_permission, needs_permissions

SD = "0AExampleDrive"
GMAIL = {"kind": "drive#permission", "id": "0712", "type": "user", "role": "writer", "emailAddress": "kid@gmail.com"}


def test_the_drives_membership_is_dropped_and_a_members_own_grant_kept():
    member = {**GMAIL, "permissionDetails": [
        {"permissionType": "member", "role": "writer", "inherited": True, "inheritedFrom": SD}]}
    assert file_permission(member, permission) is None
    both = {**GMAIL, "permissionDetails": [
        {"permissionType": "member", "role": "reader", "inherited": True, "inheritedFrom": SD},
        {"permissionType": "file", "role": "writer", "inherited": False}]}
    kept = file_permission(both, permission)
    assert kept is not None and (kept.email, kept.inherited) == ("kid@gmail.com", False)


def test_a_folders_grant_is_kept_as_inherited_in_either_details_field():
    new = {**GMAIL, "permissionDetails": [{"permissionType": "file", "role": "writer", "inherited": True,
                                           "inheritedFrom": "1folder"}]}
    old = {**GMAIL, "teamDrivePermissionDetails": [{"teamDrivePermissionType": "file", "role": "writer",
                                                    "inherited": True, "inheritedFrom": "1folder"}]}
    assert file_permission(new, permission).inherited and file_permission(old, permission).inherited


def test_a_permission_without_details_is_kept_as_the_items_own():
    kept = file_permission(GMAIL, permission)
    assert kept is not None and not kept.inherited


def test_only_items_that_may_hold_more_than_the_membership_are_asked():
    files = [{"id": "plain", "parents": [SD], "hasAugmentedPermissions": False},
             {"id": "shared", "parents": [SD], "hasAugmentedPermissions": True},
             {"id": "folder", "parents": [SD], "hasAugmentedPermissions": True},
             {"id": "child", "parents": ["folder"], "hasAugmentedPermissions": False},
             {"id": "quiet", "parents": [SD], "hasAugmentedPermissions": False},
             {"id": "grandchild", "parents": ["sub"], "hasAugmentedPermissions": False},
             {"id": "sub", "parents": ["quiet"], "hasAugmentedPermissions": False},
             {"id": "unsaid", "parents": [SD]},  # the field missing: asked
             {"id": "orphan", "parents": ["elsewhere"], "hasAugmentedPermissions": False}]  # parent unknown: asked
    assert [f["id"] for f in needs_permissions(files, SD)] == ["shared", "folder", "child", "unsaid", "orphan"]
