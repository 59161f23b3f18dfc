"""Mail rules: personal addresses in staff–pupil and staff–guardian mail, forwarding, late mail.

A record is a whole message (the engine merges its sightings, integration/mail_messages.py): the rules
relate every pair of its participants — sender and recipients, and co-recipients — not only
sender→recipient. Whichever sightings a message had, it yields the same candidates; the event key
(the Message-ID when there is one) makes a second judgement a duplicate occurrence, not a second one.
"""

from __future__ import annotations

from integration.identity import ATTRIBUTED, PUPILS, Resolution
from integration.records import ForwardingSetting, MailEvent
from integration.rules.base import Candidate, Rule, RuleContext
from integration.rules.forwarding import AUTO_FORWARD_EXTERNAL, auto_forward_external

STAFF_TO_PUPIL_PERSONAL = "mail.staff_to_pupil_personal"
STAFF_PERSONAL_TO_PUPIL = "mail.staff_personal_to_pupil"
STAFF_PERSONAL_TO_GUARDIAN = "mail.staff_personal_to_guardian"
OUT_OF_HOURS = "mail.out_of_hours"


Participant = tuple[str, Resolution]


def _participants(ev: MailEvent, ctx: RuleContext) -> tuple[list[Participant], bool]:
    """(every distinct address of the message with its resolution, whether any is attributed).

    The mail rules all read the same participants: worked out once per message and reused.
    """
    cached = ctx.scratch.get("mail_people")
    if cached is not None and cached[0] is ev:
        return cached[1], cached[2]
    names = dict(ev.display_names) if ev.display_names else {}
    ident = ctx.identity
    people = [(a, ident.resolve(a, names.get(a, ""))) for a in dict.fromkeys((ev.sender, *ev.recipients)) if a]
    attributed = any(r.kind in ATTRIBUTED for _, r in people)
    ctx.scratch["mail_people"] = (ev, people, attributed)
    return people, attributed


def _related(ev: MailEvent, ctx: RuleContext, first, second) -> list[tuple[str, Resolution, str, Resolution]]:
    """Every pair of distinct participants (a, b) with first(a) and second(b), in either role, when the
    message has an attributed personal address (most mail has none: no pair is then looked at)."""
    people, attributed = _participants(ev, ctx)
    if not attributed:
        return []
    firsts = [p for p in people if first(p[1])]
    seconds = [p for p in people if second(p[1])] if firsts else []
    return [(a, ra, b, rb) for a, ra in firsts for b, rb in seconds if a != b]


def _candidate(rule: str, ev: MailEvent, **people) -> Candidate:
    ids = list(ev.event_ids or (ev.event_id,))
    return Candidate(
        rule=rule, source=ev.source, time=ev.time,
        event_key=f"mail:{ev.message_id or ev.event_id}",
        evidence={"message_id": ev.message_id, "message_ids": [ev.message_id] if ev.message_id else [],
                  "event_ids": ids[:20], "mailbox": ev.mailbox,
                  "direction": ev.direction, "time": ev.time.isoformat()},
        **people,
    )


def _school(r: Resolution, roles) -> bool:
    return r.is_school and r.role in roles


def _personal(r: Resolution, roles) -> bool:
    return r.is_attributed and r.role in roles


def _staff_school(r: Resolution) -> bool:
    return _school(r, ("staff",))


def _staff_personal(r: Resolution) -> bool:
    return _personal(r, ("staff",))


def staff_to_pupil_personal(ev: MailEvent, ctx: RuleContext) -> list[Candidate]:
    """A staff school address and a (former) pupil's attributed personal address in one message."""
    return [_candidate(STAFF_TO_PUPIL_PERSONAL, ev, staff=staff.person_email, pupil=pupil.person_email,
                       counterpart=addr, confidence=pupil.confidence or "known")
            for _, staff, addr, pupil in _related(ev, ctx, _staff_school, lambda r: _personal(r, PUPILS))]


def staff_personal_to_pupil(ev: MailEvent, ctx: RuleContext) -> list[Candidate]:
    """A staff member's attributed personal address and a pupil's school address in one message."""
    return [_candidate(STAFF_PERSONAL_TO_PUPIL, ev, staff=staff.person_email, pupil=pupil.person_email,
                       counterpart=addr, confidence=staff.confidence or "known")
            for addr, staff, _, pupil in _related(ev, ctx, _staff_personal, lambda r: _school(r, PUPILS))]


def staff_personal_to_guardian(ev: MailEvent, ctx: RuleContext) -> list[Candidate]:
    """A staff member's attributed personal address and a guardian's address in one message — as
    sender and recipient or as co-recipients.

    A guardian mailed from the school mailbox is the approved channel and never matches.
    """
    out = []
    for addr, staff, g_addr, guardian in _related(ev, ctx, _staff_personal,
                                                  lambda r: r.is_guardian and not r.is_school):
        if guardian.person_email != staff.person_email:
            c = _candidate(STAFF_PERSONAL_TO_GUARDIAN, ev, staff=staff.person_email, guardian=g_addr,
                           counterpart=addr, confidence=staff.confidence or "known")
            c.evidence["guardian_of"] = list(guardian.guardian_of)
            out.append(c)
    return out


def out_of_hours(ev: MailEvent, ctx: RuleContext) -> list[Candidate]:
    """One-to-one school mail between a staff member and a pupil outside working hours (local time):
    the working hours of the staff member's school, whose day it is.

    One-to-one: the whole message has exactly two people, one staff member and one pupil, on school
    addresses. A Google Group (a roster group, a class's group) is a list, never a person.
    """
    if ctx.policy.in_every_school_hours(ev.time):
        return []
    people, _ = _participants(ev, ctx)
    if any(ctx.identity.is_group(a) for a, _ in people):
        return []
    if len({r.person_email or a for a, r in people}) != 2:  # a person's own other address is still them
        return []
    staff = next((r for _, r in people if _school(r, ("staff",))), None)
    pupil = next((r for _, r in people if _school(r, ("pupil",))), None)
    if staff is None or pupil is None or ctx.policy.in_working_hours(ev.time, staff.person_email):
        return []
    c = _candidate(OUT_OF_HOURS, ev, staff=staff.person_email, pupil=pupil.person_email)
    c.evidence["local_time"] = ev.time.astimezone(ctx.policy.timezone).isoformat()
    return [c]


RULES = (
    Rule(STAFF_TO_PUPIL_PERSONAL, "Staff school mailbox in contact with a pupil's personal address", "high",
         ("000", "002 §42–43", "004"), MailEvent, staff_to_pupil_personal),
    Rule(STAFF_PERSONAL_TO_PUPIL, "Staff personal address in contact with a pupil's school address", "high",
         ("002 §43", "002 §46", "004"), MailEvent, staff_personal_to_pupil),
    Rule(STAFF_PERSONAL_TO_GUARDIAN, "Staff personal address in contact with a guardian", "medium",
         ("002 §46", "004"), MailEvent, staff_personal_to_guardian),
    Rule(AUTO_FORWARD_EXTERNAL, "Staff mailbox forwards outside the approved domains", "high",
         ("002 §30", "002 §41", "004 GDPR"), ForwardingSetting, auto_forward_external),
    Rule(OUT_OF_HOURS, "One-to-one staff–pupil mail outside working hours", "low",
         ("001 §303", "002 §22a"), MailEvent, out_of_hours),
)
