"""mail.auto_forward_external from Gmail filters: a forwarding filter is `known`, with its criteria."""

from __future__ import annotations

from audit_env import PUPIL, TEACHER, TEACHER2, TEACHER_GMAIL

from integration.records import ForwardingSetting, MailFilter
from integration.rules.forwarding import AUTO_FORWARD_EXTERNAL, auto_forward_external

PUPIL_FILTER = MailFilter("ANe1BmA", TEACHER_GMAIL, (("from", PUPIL), ("hasAttachment", "true")), (), ("INBOX",))


def test_a_filter_forwarding_a_pupils_mail_to_the_teachers_gmail_is_known_with_its_criteria(rctx):
    fs = ForwardingSetting(TEACHER, False, "", (TEACHER_GMAIL,), filters=(PUPIL_FILTER,))
    [c] = auto_forward_external(fs, rctx)
    assert (c.rule, c.staff, c.counterpart, c.confidence) == (AUTO_FORWARD_EXTERNAL, TEACHER, TEACHER_GMAIL, "known")
    assert c.evidence["setting"] == "filter"
    assert c.evidence["filters"] == [{"id": "ANe1BmA", "criteria": {"from": PUPIL, "hasAttachment": "true"},
                                      "add_label_ids": [], "remove_label_ids": ["INBOX"]}]


def test_the_same_address_as_a_verified_forwarding_address_alone_is_one_finding(rctx):
    """Filter and forwarding address name the same target: one candidate, same fingerprint as the
    earlier `suspected` one (object key), so the stored finding is upgraded, not duplicated."""
    alone = auto_forward_external(ForwardingSetting(TEACHER, False, "", (TEACHER_GMAIL,)), rctx)
    both = auto_forward_external(ForwardingSetting(TEACHER, False, "", (TEACHER_GMAIL,), filters=(PUPIL_FILTER,)),
                                 rctx)
    assert [c.confidence for c in alone] == ["suspected"] and len(both) == 1
    assert alone[0].object_key == both[0].object_key and alone[0].event_key != both[0].event_key


def test_auto_forwarding_and_a_filter_to_the_same_address_name_the_auto_forward(rctx):
    fs = ForwardingSetting(TEACHER, True, TEACHER_GMAIL, (TEACHER_GMAIL,), filters=(PUPIL_FILTER,))
    [c] = auto_forward_external(fs, rctx)
    assert (c.evidence["setting"], c.confidence, c.evidence["filter_ids"]) == ("auto_forward", "known", ["ANe1BmA"])


def test_decoy_a_filter_forwarding_to_a_colleague(rctx):
    f = MailFilter("ANe1BmB", TEACHER2, (("query", "subject:(cover)"),))
    assert auto_forward_external(ForwardingSetting(TEACHER, False, "", (TEACHER2,), filters=(f,)), rctx) == []


def test_decoy_a_pupils_forwarding_filter_is_not_a_staff_mailbox(rctx):
    f = MailFilter("ANe1BmC", "amy.smith.2011@gmail.com", (("from", TEACHER),))
    assert auto_forward_external(ForwardingSetting(PUPIL, False, filters=(f,)), rctx) == []
