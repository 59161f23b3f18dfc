"""Mail rules: breaches and the decoys that must stay quiet."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from audit_env import (
    DOMAIN,
    GUARDIAN,
    LEAVER,
    PUPIL,
    PUPIL2,
    PUPIL_GMAIL,
    TEACHER,
    TEACHER2,
    TEACHER_GMAIL,
    mail,
)

from integration.records import ForwardingSetting
from integration.rules import mail as rules
from integration.rules.base import ChannelPolicy, RuleContext


def ids(candidates):
    return [(c.rule, c.staff, c.pupil or c.guardian, c.confidence) for c in candidates]


# --- mail.staff_to_pupil_personal

def test_a_teacher_mailing_a_pupils_gmail(rctx):
    found = rules.staff_to_pupil_personal(mail(TEACHER, PUPIL_GMAIL), rctx)
    assert ids(found) == [(rules.STAFF_TO_PUPIL_PERSONAL, TEACHER, PUPIL, "known")]
    assert found[0].counterpart == PUPIL_GMAIL and found[0].event_key == "mail:<m1@x>"


def test_a_teacher_receiving_from_a_pupils_gmail(rctx):
    ev = mail(PUPIL_GMAIL, TEACHER, mailbox=TEACHER, direction="received")
    assert ids(rules.staff_to_pupil_personal(ev, rctx)) == [(rules.STAFF_TO_PUPIL_PERSONAL, TEACHER, PUPIL, "known")]


def test_a_teacher_mailing_an_unregistered_address_named_like_a_pupil_is_suspected(rctx):
    ev = mail(TEACHER, "xx.gamer@gmail.com", names=(("xx.gamer@gmail.com", "Amy  SMITH"),))
    assert ids(rules.staff_to_pupil_personal(ev, rctx)) == [(rules.STAFF_TO_PUPIL_PERSONAL, TEACHER, PUPIL, "suspected")]


def test_a_teacher_mailing_a_former_pupils_registered_gmail(rctx):
    rctx.identity.add_personal("cara@yahoo.com", LEAVER)
    assert ids(rules.staff_to_pupil_personal(mail(TEACHER, "cara@yahoo.com"), rctx))[0][2] == LEAVER


def test_decoy_a_teacher_mailing_a_pupils_school_address(rctx):
    assert rules.staff_to_pupil_personal(mail(TEACHER, PUPIL), rctx) == []


def test_decoy_a_teacher_mailing_an_unattributed_gmail(rctx):
    assert rules.staff_to_pupil_personal(mail(TEACHER, "someone@gmail.com"), rctx) == []


def test_decoy_a_display_name_shared_by_two_people_attributes_nobody(rctx):
    rctx.identity.add_person(f"amy.smith2@{DOMAIN}", "pupil", "Amy Smith")
    ev = mail(TEACHER, "x@gmail.com", names=(("x@gmail.com", "Amy Smith"),))
    assert rules.staff_to_pupil_personal(ev, rctx) == []


# --- mail.staff_personal_to_pupil

def test_a_teachers_hotmail_mailing_a_pupils_school_address(rctx):
    ev = mail(TEACHER_GMAIL, PUPIL, mailbox=PUPIL, direction="received")
    found = rules.staff_personal_to_pupil(ev, rctx)
    assert ids(found) == [(rules.STAFF_PERSONAL_TO_PUPIL, TEACHER, PUPIL, "known")]
    assert found[0].counterpart == TEACHER_GMAIL


def test_a_pupil_mailing_a_teachers_hotmail(rctx):
    assert ids(rules.staff_personal_to_pupil(mail(PUPIL, TEACHER_GMAIL), rctx))[0][1:3] == (TEACHER, PUPIL)


def test_decoy_a_pupil_mailing_a_teachers_school_address(rctx):
    assert rules.staff_personal_to_pupil(mail(PUPIL, TEACHER), rctx) == []


# --- mail.staff_personal_to_guardian

def test_a_teachers_hotmail_mailing_a_guardian(rctx):
    ev = mail(TEACHER_GMAIL, GUARDIAN, TEACHER, mailbox=TEACHER, direction="received")
    found = rules.staff_personal_to_guardian(ev, rctx)
    assert ids(found) == [(rules.STAFF_PERSONAL_TO_GUARDIAN, TEACHER, GUARDIAN, "known")]
    assert found[0].evidence["guardian_of"] == [PUPIL]


def test_decoy_a_teacher_mailing_a_guardian_from_the_school_mailbox(rctx):
    ev = mail(TEACHER, GUARDIAN)
    assert rules.staff_personal_to_guardian(ev, rctx) == []
    assert rules.staff_to_pupil_personal(ev, rctx) == []


def test_decoy_an_unattributed_address_mailing_a_guardian(rctx):
    assert rules.staff_personal_to_guardian(mail("someone@gmail.com", GUARDIAN, mailbox=TEACHER), rctx) == []


# --- mail.auto_forward_external

def test_a_teacher_forwarding_to_their_own_gmail_is_still_a_breach(rctx):
    fs = ForwardingSetting(mailbox=TEACHER, auto_forward_enabled=True, auto_forward_address=TEACHER_GMAIL)
    found = rules.auto_forward_external(fs, rctx)
    assert ids(found) == [(rules.AUTO_FORWARD_EXTERNAL, TEACHER, None, "known")]
    assert found[0].counterpart == TEACHER_GMAIL


def test_a_verified_external_forwarding_address_is_suspected(rctx):
    fs = ForwardingSetting(mailbox=TEACHER, auto_forward_enabled=False, forwarding_addresses=("me@icloud.com",))
    assert ids(rules.auto_forward_external(fs, rctx))[0][3] == "suspected"


def test_decoy_forwarding_to_another_approved_domain(identity):
    ctx = RuleContext(identity, ChannelPolicy(frozenset({DOMAIN, "northfield-trust.org.uk"})))
    identity.approved_domains = frozenset({DOMAIN, "northfield-trust.org.uk"})
    fs = ForwardingSetting(mailbox=TEACHER, auto_forward_enabled=True,
                           auto_forward_address="t.jones@northfield-trust.org.uk")
    assert rules.auto_forward_external(fs, ctx) == []


def test_decoy_auto_forward_disabled_and_no_forwarding_addresses(rctx):
    fs = ForwardingSetting(mailbox=TEACHER, auto_forward_enabled=False, auto_forward_address=TEACHER_GMAIL)
    assert rules.auto_forward_external(fs, rctx) == []


# --- mail.out_of_hours

@pytest.mark.parametrize("when, flagged", [
    (datetime(2026, 1, 15, 21, 30, tzinfo=UTC), True),  # 21:30 GMT
    (datetime(2026, 1, 15, 20, 30, tzinfo=UTC), False),  # 20:30 GMT
    (datetime(2026, 6, 15, 20, 30, tzinfo=UTC), True),  # 21:30 BST: DST moves the boundary
    (datetime(2026, 6, 15, 6, 30, tzinfo=UTC), False),  # 07:30 BST
    (datetime(2026, 6, 15, 5, 30, tzinfo=UTC), True),  # 06:30 BST
])
def test_a_teacher_mailing_a_pupil_late_at_night(rctx, when, flagged):
    found = rules.out_of_hours(mail(TEACHER, PUPIL, when=when), rctx)
    assert bool(found) is flagged
    if flagged:
        assert (found[0].staff, found[0].pupil) == (TEACHER, PUPIL)


def test_a_pupil_mailing_a_teacher_late_at_night(rctx):
    assert rules.out_of_hours(mail(PUPIL, TEACHER, when=datetime(2026, 1, 15, 23, 0, tzinfo=UTC)), rctx)


def test_decoy_late_mail_to_a_whole_class_or_between_staff(rctx):
    late = datetime(2026, 1, 15, 23, 0, tzinfo=UTC)
    assert rules.out_of_hours(mail(TEACHER, PUPIL, PUPIL2, when=late), rctx) == []
    assert rules.out_of_hours(mail(TEACHER, TEACHER2, when=late), rctx) == []
    assert rules.out_of_hours(mail(TEACHER, PUPIL_GMAIL, when=late), rctx) == []


def test_decoy_late_mail_to_a_class_group_or_a_roster_group_is_not_one_to_one(rctx):
    late = datetime(2026, 1, 15, 23, 0, tzinfo=UTC)
    assert rules.out_of_hours(mail(TEACHER, f"class-7b@{DOMAIN}", PUPIL, when=late), rctx) == []
    rctx.identity.groups.add(f"year7-maths@{DOMAIN}")
    assert rules.out_of_hours(mail(TEACHER, f"year7-maths@{DOMAIN}", when=late), rctx) == []
    assert rules.out_of_hours(mail(TEACHER, PUPIL, TEACHER_GMAIL, when=late), rctx)  # still two people


# --- every pair of participants, co-recipients included


def test_staff_personal_address_and_a_guardian_as_co_recipients(rctx):
    for ev in (mail(TEACHER, GUARDIAN, TEACHER_GMAIL), mail(TEACHER, TEACHER_GMAIL, GUARDIAN),
               mail(TEACHER2, GUARDIAN, TEACHER_GMAIL)):
        found = rules.staff_personal_to_guardian(ev, rctx)
        assert ids(found) == [(rules.STAFF_PERSONAL_TO_GUARDIAN, TEACHER, GUARDIAN, "known")]
        assert found[0].counterpart == TEACHER_GMAIL


def test_a_pupils_gmail_copied_beside_a_teacher_by_an_outside_sender(rctx):
    ev = mail("coach@club.org", TEACHER, PUPIL_GMAIL, mailbox=TEACHER, direction="received")
    assert ids(rules.staff_to_pupil_personal(ev, rctx)) == [(rules.STAFF_TO_PUPIL_PERSONAL, TEACHER, PUPIL, "known")]


def test_decoy_a_receipt_with_an_unknown_sender_relates_nobody(rctx):
    ev = mail("", PUPIL, mailbox=PUPIL, direction="received", when=datetime(2026, 1, 15, 23, 0, tzinfo=UTC))
    assert [r.evaluate(ev, rctx) for r in rules.RULES if r.record_type is type(ev)] == [[], [], [], []]


def test_a_message_seen_in_both_mailboxes_has_one_event_key(rctx):
    sent = rules.staff_to_pupil_personal(mail(TEACHER, PUPIL_GMAIL, event_id="a"), rctx)
    seen = rules.staff_to_pupil_personal(mail(TEACHER, PUPIL_GMAIL, event_id="b", mailbox=TEACHER2), rctx)
    assert sent[0].event_key == seen[0].event_key


def test_decoy_a_guardian_address_displaying_the_pupils_name(rctx):
    ev = mail(TEACHER, GUARDIAN, names=((GUARDIAN, "Amy Smith"),))
    assert rules.staff_to_pupil_personal(ev, rctx) == []


def test_working_hours_across_midnight_and_in_another_zone():
    night_shift = ChannelPolicy(frozenset({DOMAIN}), work_start=22 * 60, work_end=6 * 60)
    assert night_shift.in_working_hours(datetime(2026, 1, 15, 23, 0, tzinfo=UTC))
    assert not night_shift.in_working_hours(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    from zoneinfo import ZoneInfo

    overseas = ChannelPolicy(frozenset({DOMAIN}), timezone=ZoneInfo("Asia/Dubai"))  # UTC+4, no DST
    assert not overseas.in_working_hours(datetime(2026, 1, 15, 17, 30, tzinfo=UTC))  # 21:30 local


def test_resolutions_are_cached_per_display_name(rctx):
    ident = rctx.identity
    assert ident.resolve("who@gmail.com").kind == "external_unknown"
    assert ident.resolve("who@gmail.com", "Ben Khan").person_email == PUPIL2
    assert ident.resolve("who@gmail.com").kind == "external_unknown"
