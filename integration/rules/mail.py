"""Mail rules: personal addresses in staff–pupil and staff–guardian mail, forwarding, late mail.

Every message is read as sender→recipient pairs, whichever school mailbox logged it, so
a message seen in both the sender's and the recipient's mailbox yields the same
candidate; the event key (the Message-ID when there is one) makes the second sighting
a duplicate occurrence rather than a second one.
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


def _pairs(ev: MailEvent, ctx: RuleContext) -> list[tuple[str, Resolution, str, Resolution]]:
    """(sender, its resolution, recipient, its resolution) for every distinct recipient.

    The mail rules all read the same pairs: they are worked out once per event and reused.
    """
    return _read(ev, ctx)[0]


def _personal_pairs(ev: MailEvent, ctx: RuleContext) -> list[tuple[str, Resolution, str, Resolution]]:
    """The pairs, or none at all when no address in the message is attributed (most mail)."""
    pairs, attributed = _read(ev, ctx)
    return pairs if attributed else []


def _read(ev: MailEvent, ctx: RuleContext) -> tuple[list, bool]:
    cached = ctx.scratch.get("mail_pairs")
    if cached is not None and cached[0] is ev:
        return cached[1], cached[2]
    names = dict(ev.display_names) if ev.display_names else {}
    ident = ctx.identity
    sender = ev.sender
    s_res = ident.resolve(sender, names.get(sender, ""))
    pairs = [(sender, s_res, rcpt, ident.resolve(rcpt, names.get(rcpt, "")))
             for rcpt in dict.fromkeys(ev.recipients) if sender and rcpt and rcpt != sender]
    attributed = s_res.kind in ATTRIBUTED or any(p[3].kind in ATTRIBUTED for p in pairs)
    ctx.scratch["mail_pairs"] = (ev, pairs, attributed)
    return pairs, attributed


def _candidate(rule: str, ev: MailEvent, **people) -> Candidate:
    return Candidate(
        rule=rule, source=ev.source, time=ev.time,
        event_key=f"mail:{ev.message_id or ev.event_id}",
        evidence={"message_id": ev.message_id, "message_ids": [ev.message_id] if ev.message_id else [],
                  "event_ids": [ev.event_id], "mailbox": ev.mailbox,
                  "direction": ev.direction, "time": ev.time.isoformat()},
        **people,
    )


def _school(r: Resolution, roles) -> bool:
    return r.is_school and r.role in roles


def _personal(r: Resolution, roles) -> bool:
    return r.is_attributed and r.role in roles


def staff_to_pupil_personal(ev: MailEvent, ctx: RuleContext) -> list[Candidate]:
    """A staff school address and a (former) pupil's attributed personal address, either direction."""
    out = []
    for a, ra, b, rb in _personal_pairs(ev, ctx):
        for (_, staff), (addr, pupil) in (((a, ra), (b, rb)), ((b, rb), (a, ra))):
            if _school(staff, ("staff",)) and _personal(pupil, PUPILS):
                out.append(_candidate(STAFF_TO_PUPIL_PERSONAL, ev, staff=staff.person_email,
                                      pupil=pupil.person_email, counterpart=addr,
                                      confidence=pupil.confidence or "known"))
    return out


def staff_personal_to_pupil(ev: MailEvent, ctx: RuleContext) -> list[Candidate]:
    """A staff member's attributed personal address and a pupil's school address, either direction."""
    out = []
    for a, ra, b, rb in _personal_pairs(ev, ctx):
        for (addr, staff), (_, pupil) in (((a, ra), (b, rb)), ((b, rb), (a, ra))):
            if _personal(staff, ("staff",)) and _school(pupil, PUPILS):
                out.append(_candidate(STAFF_PERSONAL_TO_PUPIL, ev, staff=staff.person_email,
                                      pupil=pupil.person_email, counterpart=addr,
                                      confidence=staff.confidence or "known"))
    return out


def staff_personal_to_guardian(ev: MailEvent, ctx: RuleContext) -> list[Candidate]:
    """A staff member's attributed personal address and a guardian's address, either direction.

    A guardian mailed from the school mailbox is the approved channel and never matches.
    """
    out = []
    for a, ra, b, rb in _personal_pairs(ev, ctx):
        for (addr, staff), (g_addr, guardian) in (((a, ra), (b, rb)), ((b, rb), (a, ra))):
            if _personal(staff, ("staff",)) and guardian.is_guardian and not guardian.is_school \
                    and guardian.person_email != staff.person_email:
                c = _candidate(STAFF_PERSONAL_TO_GUARDIAN, ev, staff=staff.person_email, guardian=g_addr,
                               counterpart=addr, confidence=staff.confidence or "known")
                c.evidence["guardian_of"] = list(guardian.guardian_of)
                out.append(c)
    return out


def out_of_hours(ev: MailEvent, ctx: RuleContext) -> list[Candidate]:
    """One-to-one school mail between a staff member and a pupil outside working hours (local time)."""
    if len(ev.recipients) != 1 and len({r for r in ev.recipients if r and r != ev.sender}) != 1:
        return []
    if ctx.policy.in_working_hours(ev.time):
        return []
    for _, ra, _, rb in _pairs(ev, ctx):
        for staff, pupil in ((ra, rb), (rb, ra)):
            if _school(staff, ("staff",)) and _school(pupil, ("pupil",)):
                c = _candidate(OUT_OF_HOURS, ev, staff=staff.person_email, pupil=pupil.person_email)
                c.evidence["local_time"] = ev.time.astimezone(ctx.policy.timezone).isoformat()
                return [c]
    return []


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
