"""Reports parsers on Google's two gmail shapes and on events with fields missing (skipped, logged)."""

from __future__ import annotations

import logging

from connectors.google.drive_events import drive_items
from connectors.google.reports import mail_events, meet_calls

ID = {"time": "2026-11-02T22:30:00.000Z", "uniqueQualifier": "-42", "applicationName": "gmail"}


def delivery(params: list[dict], actor: str = "t.teacher@school.sch.uk") -> dict:
    return {"id": ID, "actor": {"callerType": "USER", "email": actor},
            "events": [{"type": "delivery_type", "name": "delivery", "parameters": params}]}


def test_nested_and_flattened_gmail_events_read_the_same():
    nested = delivery([
        {"name": "event_info", "messageValue": {"parameter": [{"name": "mail_event_type", "intValue": "2"}]}},
        {"name": "message_info", "messageValue": {"parameter": [
            {"name": "rfc2822_message_id", "value": "<m1@x>"},
            {"name": "source.address", "value": "Pupil.Home@Gmail.com"},
            {"name": "source.from_header_displayname", "value": "Zoë Smith"},
            {"name": "destination.address", "multiValue": ["t.teacher@school.sch.uk"]}]}}])
    flat = delivery([
        {"name": "event_info.mail_event_type", "intValue": "2"},
        {"name": "message_info.rfc2822_message_id", "value": "<m1@x>"},
        {"name": "message_info.source.address", "value": "pupil.home@gmail.com"},
        {"name": "message_info.source.from_header_displayname", "value": "Zoë Smith"},
        {"name": "message_info.flattened_destinations", "value": "gmail-ui::t.teacher@school.sch.uk"}])
    (a,), (b,) = list(mail_events(nested)), list(mail_events(flat))
    assert a == b
    assert (a.direction, a.sender, a.recipients) == ("received", "pupil.home@gmail.com", ("t.teacher@school.sch.uk",))
    assert a.display_names == (("pupil.home@gmail.com", "Zoë Smith"),)
    assert a.event_id == "2026-11-02T22:30:00.000Z|-42|gmail|0"


def test_a_sent_event_without_source_takes_the_sender_from_the_actor():
    sent = delivery([{"name": "event_info.mail_event_type", "intValue": "1"},
                     {"name": "message_info.flattened_destinations", "value": "smtp:out:x@gmail.com,gmail-ui::y@z.org"}])
    (ev,) = mail_events(sent)
    assert (ev.sender, ev.recipients) == ("t.teacher@school.sch.uk", ("x@gmail.com", "y@z.org"))


def test_a_receipt_without_source_is_kept_with_the_sender_unknown():
    receipt = delivery([{"name": "event_info.mail_event_type", "intValue": "2"}, {"name": "message_info.source"},
                        {"name": "message_info.flattened_destinations", "value": "gmail-ui::a@b.c"}])
    (ev,) = mail_events(receipt)
    assert (ev.direction, ev.sender, ev.recipients) == ("received", "", ("a@b.c",))


def test_events_missing_fields_are_skipped_with_a_log_line(caplog):
    caplog.set_level(logging.WARNING)
    no_sender = delivery([{"name": "event_info.mail_event_type", "intValue": "1"},
                          {"name": "message_info.flattened_destinations", "value": "gmail-ui::a@b.c"}], actor="")
    not_a_message = delivery([{"name": "event_info.mail_event_type", "intValue": "7"}])
    acl = {"id": {**ID, "applicationName": "drive"}, "actor": {"email": "t@school.sch.uk"},
           "events": [{"name": "change_user_access", "parameters": [{"name": "new_value", "multiValue": ["can_edit"]},
                                                                     {"name": "doc_id", "value": "f1"}]}]}
    call = {"id": {**ID, "applicationName": "meet"}, "events": [{"name": "call_ended", "parameters": []}]}
    assert list(mail_events(no_sender)) == [] and list(mail_events(not_a_message)) == []
    assert list(drive_items(acl)) == [] and meet_calls([call]) == []
    assert sum("event_skipped" in r.getMessage() for r in caplog.records) == 3


def test_a_call_is_grouped_from_its_participants_and_counts_anonymous_guests():
    def leg(who: str | None, external: bool = False) -> dict:
        params = [{"name": "conference_id", "value": "c1"}, {"name": "is_external", "boolValue": external}]
        actor = {"callerType": "KEY", "key": "HANGOUTS_EXTERNAL_OR_ANONYMOUS"} if who is None else \
            {"callerType": "USER", "email": who}
        if who:
            params.append({"name": "identifier", "value": who})
        return {"id": {**ID, "applicationName": "meet"}, "actor": actor,
                "events": [{"type": "call", "name": "call_ended", "parameters": params}]}

    (call,) = meet_calls([leg("t@s.sch.uk"), leg("p@s.sch.uk"), leg("p@s.sch.uk"), leg(None)])
    assert call.participants == ("p@s.sch.uk", "t@s.sch.uk") and call.external_count == 1
    assert len(call.event_ids) == 4
