"""Mail judged as whole messages: every sighting of one Message-ID merged, co-recipients related, receipts held
for their sender's event across runs, Google Groups as lists. Breaches and decoys.

Events are real-shaped Reports gmail `delivery` activities (shape: Google's Gmail activity appendix and
Elastic's data_stream/gmail_reports test-gmail-reports.log — nested message_info, destination as
multiMessageValue, a receipt naming its own mailbox only, sometimes with an empty source), run through
the real parser, engine and store; mailbox copies through the real Gmail metadata parser.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from audit_env import (
    DOMAIN,
    GUARDIAN,
    NOW,
    PUPIL,
    PUPIL2,
    PUPIL_GMAIL,
    TEACHER,
    TEACHER2,
    TEACHER_GMAIL,
    FakeContext,
    make_settings,
)
from sqlalchemy import func, select

from connectors.google.gmail import mail_event
from connectors.google.reports import mail_events, rfc3339
from integration.audit import run_audit
from integration.findings import fingerprint
from integration.records import ActivityBatch
from integration.rules.base import Candidate
from integration.store.models_audit import Finding, FindingOccurrence
from integration.store.models_mail import MailMessage

LATE = NOW.replace(hour=21, minute=40)  # 21:40 London (GMT in March): outside 07:00-21:00
CLASS_GROUP = f"class-7b@{DOMAIN}"  # the 7B course's Google Group (conftest school)
OOH = "mail.out_of_hours"


def delivery(kind: int, mailbox: str, mid: str, when: datetime, *, source: str | None, to: list[str],
             n: int = 0) -> dict:
    """One Reports gmail activity: the sender's event (1) names every destination; a receipt (2) its mailbox."""
    info: list[dict] = [{"name": "rfc2822_message_id", "value": mid}, {"name": "subject", "value": "Homework"}]
    info.append({"name": "source", "messageValue": {"parameter": [{"name": "address", "value": source}]}}
                if source else {"name": "source"})
    info.append({"name": "destination", "multiMessageValue": [
        {"parameter": [{"name": "address", "value": a}, {"name": "service", "value": "gmail-ui"}]} for a in to]})
    return {"kind": "admin#reports#activity",
            "id": {"time": rfc3339(when), "uniqueQualifier": f"{mid}{mailbox}{kind}{n}", "applicationName": "gmail"},
            "actor": {"callerType": "USER", "email": mailbox, "profileId": "1"},
            "events": [{"type": "delivery_type", "name": "delivery", "parameters": [
                {"name": "event_info", "messageValue": {"parameter": [{"name": "mail_event_type", "intValue": str(kind)}]}},
                {"name": "message_info", "messageValue": {"parameter": info}}]}]}


def sent(sender: str, mid: str, to: list[str], when: datetime = LATE) -> dict:
    return delivery(1, sender, mid, when, source=sender, to=to)


def receipt(mailbox: str, mid: str, sender: str | None, when: datetime = LATE) -> dict:
    return delivery(2, mailbox, mid, when + timedelta(seconds=2), source=sender, to=[mailbox])


@dataclass
class GmailSource:
    """Yields each page of activities as one batch, through the real parser."""

    pages: list[list[dict]] = field(default_factory=list)
    name: str = "google"
    streams: tuple[str, ...] = ("gmail",)
    stream_records = {"gmail": ("MailEvent",)}

    def fetch(self, stream, cursors, *, since, until, people) -> Iterator[ActivityBatch]:
        for i, page in enumerate(self.pages):
            yield ActivityBatch("gmail", [e for a in page for e in mail_events(a)], {"page": i})

    def check(self):
        return []


@pytest.fixture
def registers(tmp_path):
    personal = tmp_path / "personal.csv"
    personal.write_text(f"address,owner\n{TEACHER_GMAIL},{TEACHER}\n", encoding="utf-8")
    return personal


def audit(store, registers, pages: list[list[dict]], *, hours: float = 0, hold: int = 2, exceptions: str = ""):
    settings = make_settings(personal_address_register=str(registers), exceptions_register=exceptions)
    settings.audit.mail_hold_hours = hold
    return run_audit(FakeContext(store, settings, [GmailSource(pages)]), now=NOW.replace(hour=23) + timedelta(hours=hours))


def found(store, rule: str | None = None) -> list[tuple]:
    with store.session() as s:
        rows = s.scalars(select(Finding).order_by(Finding.id))
        return [(f.rule, f.staff, f.pupil or f.guardian, f.status) for f in rows if rule in (None, f.rule)]


def held(store) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(MailMessage).where(MailMessage.held.is_(True)))


def occurrences(store) -> list[str]:
    with store.session() as s:
        return sorted(s.scalars(select(FindingOccurrence.event_key)))


# --- a late message to a whole class is not N one-to-one messages


def test_decoy_late_class_mail_through_the_course_group_with_a_receipt_per_pupil(store, school, registers):
    pages = [[sent(TEACHER, "<c1@x>", [CLASS_GROUP]), receipt(PUPIL, "<c1@x>", TEACHER),
              receipt(PUPIL2, "<c1@x>", None)]]
    audit(store, registers, pages)
    assert found(store) == [] and held(store) == 0


def test_decoy_receipts_read_before_the_sender_event_wait_for_it_across_runs(store, school, registers):
    audit(store, registers, [[receipt(PUPIL, "<c2@x>", TEACHER), receipt(PUPIL2, "<c2@x>", TEACHER)]], hours=-1)
    assert found(store) == [] and held(store) == 1  # within the hold window: held, not judged
    audit(store, registers, [[sent(TEACHER, "<c2@x>", [PUPIL, PUPIL2])]])
    assert found(store) == [] and held(store) == 0


def test_decoy_receipts_on_two_pages_of_one_run_join_the_sender_event(store, school, registers):
    pages = [[receipt(PUPIL, "<c3@x>", None)], [sent(TEACHER, "<c3@x>", [PUPIL, PUPIL2])],
             [receipt(PUPIL2, "<c3@x>", TEACHER)]]
    audit(store, registers, pages)
    assert found(store) == [] and held(store) == 0


# --- one-to-one late mail still is one, whichever sightings arrive and in what order


def expected(store) -> str:
    return fingerprint(Candidate(OOH, staff=TEACHER, pupil=PUPIL), store.crypto.address_hash)


def fingerprints(store) -> list[str]:
    with store.session() as s:
        return list(s.scalars(select(Finding.fingerprint)))


def test_late_one_to_one_mail_seen_by_both_mailboxes_is_one_finding(store, school, registers):
    audit(store, registers, [[receipt(PUPIL, "<o1@x>", TEACHER), sent(TEACHER, "<o1@x>", [PUPIL])]])
    assert found(store) == [(OOH, TEACHER, PUPIL, "new")] and fingerprints(store) == [expected(store)]
    assert occurrences(store) == ["mail:<o1@x>"]


def test_a_held_receipt_is_judged_when_its_sender_event_arrives_days_later_same_fingerprint(store, school, registers):
    audit(store, registers, [[receipt(PUPIL, "<o2@x>", None)]], hours=-1)
    assert found(store) == [] and held(store) == 1
    audit(store, registers, [[sent(TEACHER, "<o2@x>", [PUPIL])]], hours=48)
    assert found(store) == [(OOH, TEACHER, PUPIL, "new")] and fingerprints(store) == [expected(store)]
    again = audit(store, registers, [[sent(TEACHER, "<o2@x>", [PUPIL]), receipt(PUPIL, "<o2@x>", None)]], hours=49)
    assert again.findings_new == 0 and occurrences(store) == ["mail:<o2@x>"]


def test_a_receipt_whose_sender_event_never_comes_is_judged_alone_after_the_hold_window(store, school, registers):
    audit(store, registers, [[receipt(PUPIL, "<o3@x>", TEACHER)]], hours=-1)
    assert found(store) == [] and held(store) == 1
    audit(store, registers, [[]], hours=3)
    assert found(store) == [(OOH, TEACHER, PUPIL, "new")] and held(store) == 0
    assert fingerprints(store) == [expected(store)]


def test_hold_zero_judges_a_lone_receipt_in_the_same_run(store, school, registers):
    audit(store, registers, [[receipt(PUPIL, "<o4@x>", TEACHER)]], hold=0)
    assert found(store) == [(OOH, TEACHER, PUPIL, "new")] and held(store) == 0


def test_decoy_a_receipt_from_an_outside_sender_is_not_held(store, school, registers):
    audit(store, registers, [[receipt(TEACHER, "<o5@x>", "newsletter@example.org")]], hours=-1)
    assert held(store) == 0 and found(store) == []


def test_decoy_late_mail_copying_a_colleague_is_not_one_to_one(store, school, registers):
    audit(store, registers, [[sent(TEACHER, "<o6@x>", [PUPIL, TEACHER2]), receipt(PUPIL, "<o6@x>", TEACHER)]])
    assert found(store) == []


# --- co-recipients are related


def exceptions_file(tmp_path) -> str:
    path = tmp_path / "exceptions.csv"
    path.write_text(f"staff,counterpart,reason,approved_by,expires\n{TEACHER},{GUARDIAN},foster carer,dsl@{DOMAIN},"
                    f"{(NOW + timedelta(days=90)).date().isoformat()}\n", encoding="utf-8")
    return str(path)


def test_staff_personal_address_copied_into_mail_to_a_guardian_is_flagged(store, school, registers):
    audit(store, registers, [[sent(TEACHER, "<g1@x>", [GUARDIAN, TEACHER_GMAIL], when=NOW)]])
    assert found(store) == [("mail.staff_personal_to_guardian", TEACHER, GUARDIAN, "new")]


def test_guardian_in_cc_of_mail_to_the_staff_personal_address_and_its_exception_suppressed(
        store, school, registers, tmp_path):
    audit(store, registers, [[sent(TEACHER, "<g2@x>", [TEACHER_GMAIL, GUARDIAN], when=NOW)]],
          exceptions=exceptions_file(tmp_path))
    assert found(store) == [("mail.staff_personal_to_guardian", TEACHER, GUARDIAN, "suppressed")]


def test_decoy_school_mailbox_to_a_guardian_copying_a_colleague(store, school, registers):
    audit(store, registers, [[sent(TEACHER, "<g3@x>", [GUARDIAN, TEACHER2], when=NOW)]])
    assert found(store) == []


def test_a_mailbox_copy_and_the_reports_receipt_merge_into_one_message(store, school, registers):
    copy = mail_event(PUPIL, {"id": "18c1", "internalDate": str(int(NOW.timestamp() * 1000)), "labelIds": ["INBOX"],
                              "payload": {"headers": [{"name": "From", "value": TEACHER_GMAIL},
                                                      {"name": "To", "value": PUPIL},
                                                      {"name": "Cc", "value": PUPIL2},
                                                      {"name": "Message-ID", "value": "<mb1@x>"}]}})
    parsed = [e for a in [receipt(PUPIL2, "<mb1@x>", TEACHER_GMAIL, when=NOW)] for e in mail_events(a)]

    @dataclass
    class Mixed(GmailSource):
        def fetch(self, stream, cursors, *, since, until, people) -> Iterator[ActivityBatch]:
            yield ActivityBatch("gmail", parsed, {"page": 0})
            yield ActivityBatch("gmail", [copy], {"page": 1})

    settings = make_settings(personal_address_register=str(registers))
    run_audit(FakeContext(store, settings, [Mixed()]), now=NOW.replace(hour=23))
    assert sorted(found(store)) == [("mail.staff_personal_to_pupil", TEACHER, PUPIL, "new"),
                                    ("mail.staff_personal_to_pupil", TEACHER, PUPIL2, "new")]
    assert occurrences(store) == ["mail:<mb1@x>", "mail:<mb1@x>"]


# --- class mail through a Google Group with a personal address beside it


def pupil_registers(registers) -> None:
    registers.write_text(f"address,owner\n{TEACHER_GMAIL},{TEACHER}\n{PUPIL_GMAIL},{PUPIL}\n", encoding="utf-8")


def test_a_pupils_personal_address_copied_beside_the_class_group_is_a_breach(store, school, registers):
    pupil_registers(registers)
    pages = [[sent(TEACHER, "<gp1@x>", [CLASS_GROUP, PUPIL_GMAIL], when=NOW), receipt(PUPIL, "<gp1@x>", TEACHER, NOW),
              receipt(PUPIL2, "<gp1@x>", None, NOW)]]
    audit(store, registers, pages)
    assert found(store) == [("mail.staff_to_pupil_personal", TEACHER, PUPIL, "new")]
    assert occurrences(store) == ["mail:<gp1@x>"]


def test_the_tutors_own_personal_address_beside_the_class_group_reaches_every_pupil(store, school, registers):
    pages = [[receipt(PUPIL, "<gp2@x>", None, NOW), sent(TEACHER, "<gp2@x>", [CLASS_GROUP, TEACHER_GMAIL], when=NOW),
              receipt(PUPIL2, "<gp2@x>", TEACHER, NOW)]]
    audit(store, registers, pages)
    assert sorted(found(store)) == [("mail.staff_personal_to_pupil", TEACHER, PUPIL, "new"),
                                    ("mail.staff_personal_to_pupil", TEACHER, PUPIL2, "new")]


def test_decoy_late_class_group_mail_copying_a_colleague(store, school, registers):
    pupil_registers(registers)
    pages = [[sent(TEACHER, "<gp3@x>", [CLASS_GROUP, TEACHER2]), receipt(PUPIL, "<gp3@x>", TEACHER),
              receipt(PUPIL2, "<gp3@x>", None), receipt(TEACHER2, "<gp3@x>", TEACHER)]]
    audit(store, registers, pages)
    assert found(store) == [] and held(store) == 0


# --- replies days later: each reply is its own message (own Message-ID; the parent's in In-Reply-To/References)


def reply_copy(gid: str, mid: str, parent: str, sender: str, to: str, when: datetime) -> dict:
    """A reply as the Gmail API's metadata format shows it (users.messages.get: threadId is the parent's)."""
    return {"id": gid, "threadId": "18c0parent", "internalDate": str(int(when.timestamp() * 1000)),
            "labelIds": ["INBOX"], "payload": {"headers": [
                {"name": "From", "value": sender}, {"name": "To", "value": to}, {"name": "Message-ID", "value": mid},
                {"name": "In-Reply-To", "value": parent}, {"name": "References", "value": parent}]}}


def test_a_late_reply_three_days_later_is_one_to_one_though_its_thread_was_not(store, school, registers):
    later = LATE + timedelta(days=3)
    copy = mail_event(TEACHER, reply_copy("18c9", "<r1@x>", "<p1@x>", PUPIL, TEACHER, later))
    assert copy is not None and copy.message_id == "<r1@x>"  # the reply's own id, never its parent's
    pages = [[sent(TEACHER, "<p1@x>", [PUPIL, PUPIL2], when=NOW), receipt(PUPIL, "<p1@x>", TEACHER, NOW),
              receipt(PUPIL2, "<p1@x>", None, NOW)],
             [receipt(TEACHER, "<r1@x>", None, later), sent(PUPIL, "<r1@x>", [TEACHER], when=later)]]
    audit(store, registers, pages, hours=72)
    assert found(store) == [(OOH, TEACHER, PUPIL, "new")] and occurrences(store) == ["mail:<r1@x>"]


def test_decoy_a_late_reply_all_three_days_later_is_not_one_to_one(store, school, registers):
    later = LATE + timedelta(days=3)
    pages = [[sent(TEACHER, "<p2@x>", [PUPIL, PUPIL2], when=NOW)],
             [receipt(TEACHER, "<r2@x>", PUPIL2, later), receipt(PUPIL, "<r2@x>", PUPIL2, later),
              sent(PUPIL2, "<r2@x>", [TEACHER, PUPIL], when=later)]]
    audit(store, registers, pages, hours=72)
    assert found(store) == [] and held(store) == 0
