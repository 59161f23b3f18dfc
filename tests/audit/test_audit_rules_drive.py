"""Drive rules: breaches and decoys (class groups, shared courses, documents, internal drives)."""

from __future__ import annotations

from audit_env import (
    DOMAIN,
    LEAVER,
    PUPIL,
    PUPIL2,
    PUPIL_GMAIL,
    TEACHER,
    TEACHER2,
    TEACHER_GMAIL,
)

from integration.records import DriveItem, Permission
from integration.rules import drive as rules


def item(owner: str, *perms: Permission, mime: str = "application/vnd.google-apps.document", shared_drive=False,
         item_id: str = "f1") -> DriveItem:
    return DriveItem(item_id=item_id, title="Worksheet", mime_type=mime, owner_email=owner,
                     permissions=(Permission("user", "owner", email=owner, permission_id="p0"),) + perms
                     if owner else perms, link=f"https://drive.google.com/file/d/{item_id}",
                     is_shared_drive=shared_drive)


def user(email: str, role: str = "reader", pid: str = "", name: str = "") -> Permission:
    return Permission("user", role, email=email, permission_id=pid or f"p-{email}", display_name=name)


# --- drive.shared_with_pupil_personal

def test_a_teacher_sharing_a_file_with_a_pupils_gmail(rctx):
    found = rules.shared_with_pupil_personal(item(TEACHER, user(PUPIL_GMAIL)), rctx)
    assert [(c.staff, c.pupil, c.counterpart) for c in found] == [(TEACHER, PUPIL, PUPIL_GMAIL)]
    assert found[0].evidence["file_id"] == "f1" and found[0].evidence["title"] == "Worksheet"


def test_a_teacher_sharing_with_an_address_named_like_a_pupil_is_suspected(rctx):
    found = rules.shared_with_pupil_personal(item(TEACHER, user("zz@gmail.com", name="Amy Smith")), rctx)
    assert found[0].confidence == "suspected"


def test_decoy_a_teacher_sharing_with_an_unknown_gmail(rctx):
    assert rules.shared_with_pupil_personal(item(TEACHER, user("stranger@gmail.com")), rctx) == []


# --- drive.pupil_shared_with_staff_personal

def test_a_pupil_sharing_homework_with_a_teachers_hotmail(rctx):
    found = rules.pupil_shared_with_staff_personal(item(PUPIL, user(TEACHER_GMAIL)), rctx)
    assert [(c.staff, c.pupil) for c in found] == [(TEACHER, PUPIL)]


def test_decoy_a_pupil_sharing_with_a_teachers_school_account(rctx):
    assert rules.pupil_shared_with_staff_personal(item(PUPIL, user(TEACHER)), rctx) == []


# --- drive.shared_drive_external_with_pupils

def test_a_shared_drive_with_pupils_and_an_outsider(rctx):
    drive = item("", Permission("user", "organizer", email=TEACHER, permission_id="o"), user(PUPIL), user(PUPIL2),
                 user("coach@football-club.org"), shared_drive=True)
    found = rules.shared_drive_external_with_pupils(drive, rctx)
    assert [(c.staff, c.counterpart) for c in found] == [(TEACHER, "coach@football-club.org")]
    assert found[0].evidence["pupil_count"] == 2


def test_decoy_a_shared_drive_with_pupils_and_only_school_members(rctx):
    drive = item("", Permission("user", "organizer", email=TEACHER, permission_id="o"), user(PUPIL),
                 user(TEACHER2), shared_drive=True)
    assert rules.shared_drive_external_with_pupils(drive, rctx) == []


def test_decoy_a_staff_shared_drive_with_an_outsider_but_no_pupils(rctx):
    drive = item("", user(TEACHER, "organizer"), user("auditor@la.gov.uk"), shared_drive=True)
    assert rules.shared_drive_external_with_pupils(drive, rctx) == []


# --- drive.public_media

def test_a_pupil_photo_shared_with_anyone_with_the_link(rctx):
    photo = item(TEACHER, Permission("anyone", "reader", permission_id="anyoneWithLink"), mime="image/jpeg")
    found = rules.public_media(photo, rctx)
    assert [(c.staff, c.counterpart) for c in found] == [(TEACHER, "anyone_with_link")]


def test_a_video_shared_with_an_external_account(rctx):
    found = rules.public_media(item(PUPIL, user("fan@gmail.com"), mime="video/mp4"), rctx)
    assert [(c.pupil, c.counterpart) for c in found] == [(PUPIL, "fan@gmail.com")]


def test_decoy_a_public_document_and_an_internally_shared_photo(rctx):
    assert rules.public_media(item(TEACHER, Permission("anyone", "reader", permission_id="a")), rctx) == []
    assert rules.public_media(item(TEACHER, user(TEACHER2), mime="image/png"), rctx) == []
    domain = Permission("domain", "reader", domain=DOMAIN, permission_id="d")
    assert rules.public_media(item(TEACHER, domain, mime="image/png"), rctx) == []


# --- drive.direct_share_outside_course

def test_a_teacher_sharing_directly_with_a_pupil_they_do_not_teach(rctx):
    found = rules.direct_share_outside_course(item(TEACHER, user(PUPIL2)), rctx)
    assert [(c.staff, c.pupil) for c in found] == [(TEACHER, PUPIL2)]


def test_former_pupils_count_as_pupils_for_drive(rctx):
    assert rules.direct_share_outside_course(item(TEACHER, user(LEAVER)), rctx)


def test_decoy_a_teacher_sharing_with_a_pupil_in_a_course_they_teach(rctx):
    assert rules.direct_share_outside_course(item(TEACHER, user(PUPIL)), rctx) == []


def test_decoy_a_teacher_sharing_with_a_classroom_course_group(rctx):
    group = Permission("group", "reader", email=f"class-7b@{DOMAIN}", permission_id="g")
    assert rules.direct_share_outside_course(item(TEACHER, group), rctx) == []
    assert rules.shared_with_pupil_personal(item(TEACHER, group), rctx) == []


def test_decoy_a_teacher_sharing_with_a_colleague(rctx):
    assert rules.direct_share_outside_course(item(TEACHER, user(TEACHER2)), rctx) == []


def test_a_crawl_and_an_audit_event_of_one_grant_give_the_same_event_key(rctx):
    crawled = rules.direct_share_outside_course(item(TEACHER, user(PUPIL2, pid="perm9")), rctx)
    event = rules.direct_share_outside_course(item(TEACHER, user(PUPIL2, pid="", role="writer")), rctx)
    assert crawled[0].event_key == event[0].event_key
    assert crawled[0].event_key.startswith("drive:f1:user:") and PUPIL2 not in crawled[0].event_key
