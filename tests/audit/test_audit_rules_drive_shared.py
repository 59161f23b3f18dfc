"""Drive rules on shared-drive items, inherited grants, multi-value roles and event-only media types."""

from __future__ import annotations

from audit_env import DOMAIN, NOW, PUPIL, PUPIL2, PUPIL_GMAIL, TEACHER, TEACHER2

from integration.findings import fingerprint
from integration.records import DriveItem, Permission
from integration.rules import drive as rules

SD = "0AKDeptDrive"


def shared_item(*perms: Permission, actor: str = "", organizers: tuple[str, ...] = (), item_id: str = "s1",
                mime: str = "application/vnd.google-apps.document") -> DriveItem:
    """A file in a shared drive: no owner; from an event (actor) or a crawl (the drive's organizers)."""
    return DriveItem(item_id, "Department plan", mime, "", perms, link=f"https://drive.google.com/file/d/{item_id}",
                     shared_drive_id=SD, actor=actor, organizers=organizers,
                     source="reports.drive" if actor else "drive.files.list")


def user(email: str, role: str = "reader", **kw) -> Permission:
    return Permission("user", role, email=email, **kw)


def test_a_teacher_sharing_a_shared_drive_file_with_a_pupils_gmail_is_attributed_to_the_teacher(rctx):
    (c,) = rules.shared_with_pupil_personal(shared_item(user(PUPIL_GMAIL, "writer"), actor=TEACHER), rctx)
    assert (c.staff, c.pupil, c.counterpart) == (TEACHER, PUPIL, PUPIL_GMAIL)
    assert c.evidence["attributed_by"] == "actor" and c.evidence["shared_drive_id"] == SD


def test_without_an_event_a_shared_drive_file_is_attributed_to_the_drives_staff_organizer(rctx):
    crawled = shared_item(user(PUPIL_GMAIL, "writer"), organizers=(PUPIL, TEACHER2))
    (c,) = rules.shared_with_pupil_personal(crawled, rctx)
    assert c.staff == TEACHER2 and c.evidence["attributed_by"] == "organizer"


def test_the_crawl_and_the_event_of_one_shared_drive_grant_are_one_finding(rctx):
    ident = rctx.identity
    (event,) = rules.shared_with_pupil_personal(shared_item(user(PUPIL_GMAIL), actor=TEACHER), rctx)
    (crawl,) = rules.shared_with_pupil_personal(shared_item(user(PUPIL_GMAIL), organizers=(TEACHER2,)), rctx)
    assert fingerprint(event, ident.address_hash) == fingerprint(crawl, ident.address_hash)
    assert event.event_key == crawl.event_key


def test_decoy_a_pupil_sharing_a_shared_drive_file_is_not_a_staff_share(rctx):
    assert rules.shared_with_pupil_personal(shared_item(user(PUPIL_GMAIL), actor=PUPIL), rctx) == []


def test_decoy_a_staff_only_department_drive_file_is_not_a_direct_share(rctx):
    members = (user(TEACHER, "organizer"), user(TEACHER2, "writer"))
    assert rules.direct_share_outside_course(shared_item(*members, organizers=(TEACHER,)), rctx) == []


def test_decoy_a_department_drive_share_with_a_pupil_an_organizer_teaches(rctx):
    """The crawl cannot say who shared: a course shared with any organizer is the learning platform."""
    item = shared_item(user(PUPIL), organizers=(TEACHER2, TEACHER))
    assert rules.direct_share_outside_course(item, rctx) == []


def test_a_department_drive_share_with_a_pupil_no_organizer_teaches(rctx):
    (c,) = rules.direct_share_outside_course(shared_item(user(PUPIL2), actor=TEACHER), rctx)
    assert (c.staff, c.pupil) == (TEACHER, PUPIL2)


def test_an_inherited_grant_is_one_finding_whatever_the_number_of_files(rctx):
    ident = rctx.identity
    grant = user(PUPIL_GMAIL, inherited=True, roles=("can_view",))
    found = [c for n in range(3) for c in rules.shared_with_pupil_personal(
        DriveItem(f"child{n}", "Sheet", "application/pdf", TEACHER, (grant,), source="reports.drive"), rctx)]
    assert len({fingerprint(c, ident.address_hash) for c in found}) == 1
    assert len({c.event_key for c in found}) == 3 and all(c.evidence["inherited"] for c in found)


def test_a_folders_own_grant_and_the_grants_its_files_inherit_are_one_finding(rctx):
    ident = rctx.identity
    folder = DriveItem("fold", "Coursework", rules.FOLDER, TEACHER, (user(PUPIL_GMAIL),))
    child = DriveItem("c1", "Essay", "", TEACHER, (user(PUPIL_GMAIL, inherited=True),), source="reports.drive")
    (a,), (b,) = rules.shared_with_pupil_personal(folder, rctx), rules.shared_with_pupil_personal(child, rctx)
    assert fingerprint(a, ident.address_hash) == fingerprint(b, ident.address_hash)
    assert a.event_key != b.event_key


def test_every_role_word_of_a_multi_value_grant_is_kept_in_the_evidence(rctx):
    grant = user(PUPIL_GMAIL, "commenter", roles=("can_view", "can_comment"))
    (c,) = rules.shared_with_pupil_personal(DriveItem("f9", "Essay", "x", TEACHER, (grant,)), rctx)
    assert c.evidence["new_value"] == ["can_view", "can_comment"]


def test_a_public_mpeg_video_in_a_shared_drive_is_public_media_of_the_actor(rctx):
    public = Permission("anyone", "reader", allow_discovery=True)
    (c,) = rules.public_media(shared_item(public, actor=TEACHER, mime="video/mpeg"), rctx)
    assert (c.staff, c.counterpart) == (TEACHER, "anyone")


def test_decoy_a_quicktime_video_shared_with_the_school_domain(rctx):
    inside = Permission("domain", "reader", domain=DOMAIN)
    assert rules.public_media(DriveItem("v1", "Clip", "video/quicktime", TEACHER, (inside,)), rctx) == []


def test_a_crawled_shared_drive_finding_moves_to_the_sharer_when_the_event_arrives(store, rctx):
    """The crawl cannot say who shared (organizer); the Drive event that names the actor, read later (a
    streams' order, or Reports' lag), moves the finding to them. The reverse order never moves it back."""
    from integration.findings import Prepared, record
    from integration.store.models_audit import Finding

    h = rctx.identity.address_hash

    def prepared(item):
        (c,) = rules.shared_with_pupil_personal(item, rctx)
        return Prepared(c, "high", ("000",), None, fingerprint(c, h), h(c.counterpart))

    crawl = shared_item(user(PUPIL_GMAIL, "writer"), organizers=(TEACHER2,))
    event = shared_item(user(PUPIL_GMAIL, "writer"), actor=TEACHER)
    with store.session() as s:
        record(s, [prepared(crawl)], NOW)
    with store.session() as s:
        out = record(s, [prepared(event)], NOW)
        assert len(out.updated) == 1
    with store.session() as s:
        record(s, [prepared(crawl)], NOW)
    with store.session() as s:
        (f,) = s.query(Finding).all()
        assert (f.staff, f.evidence["attributed_by"], f.occurrences) == (TEACHER, "actor", 1)
