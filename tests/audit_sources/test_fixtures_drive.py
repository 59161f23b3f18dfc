"""Every real-shaped drive fixture through the real parser: the grants it must extract, nothing invented."""

from __future__ import annotations

import logging

from fixture_loader import reports_fixture

from connectors.google.drive_events import MIME_OF, drive_items, widest

FIX = reports_fixture("drive")


def _fields(item) -> tuple:
    (p,) = item.permissions
    return (item.event_id, item.item_id, item.mime_type, item.owner_email, item.actor, item.shared_drive_id,
            item.is_shared_drive, (p.type, p.role, p.email, p.domain, p.allow_discovery, p.inherited, p.roles))


def test_every_drive_fixture_extracts_its_grants(caplog):
    caplog.set_level(logging.WARNING)
    assert len(FIX.ACTIVITIES) == len(FIX.EXPECTED)
    for i, (activity, expected) in enumerate(zip(FIX.ACTIVITIES, FIX.EXPECTED, strict=True)):
        assert [_fields(item) for item in drive_items(activity)] == expected, f"activity {i}"
    assert sum("event_skipped" in r.getMessage() for r in caplog.records) == FIX.SKIPPED


def test_the_widest_role_wins_and_removals_grant_nothing():
    assert widest(["can_view", "can_edit", "can_comment"]) == "writer"
    assert widest(["none"]) == "" and widest([]) == ""
    assert widest(["can_view", "a_role_google_adds_later"]) == "reader"
    assert widest(["content_manager", "editor"]) == "fileOrganizer"


def test_every_documented_doc_type_has_a_mime_type_except_unknown():
    documented = ["document", "drawing", "folder", "form", "html", "jam", "jpeg", "mp4", "mpeg", "msexcel",
                  "mspowerpoint", "msword", "pdf", "png", "presentation", "quicktime", "script", "shortcut", "sites",
                  "spreadsheet", "shared_drive", "txt"]
    assert all(MIME_OF.get(t) for t in documented)
    assert MIME_OF["mpeg"].startswith("video/") and MIME_OF["quicktime"].startswith("video/")
    assert "unknown" not in MIME_OF
