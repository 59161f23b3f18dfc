"""Replies days later, on both generated schools (sandbox.activity_plant._replies_days_later).

A reply is its own message: its own Message-ID, the parent's in In-Reply-To and References, in the parent's
Gmail thread (RFC 5322 §3.6.4; Gmail API users.messages: threadId). It is judged whole and alone: a pupil's
late reply to the teacher alone, three days after the teacher's note to two pupils, is one-to-one (breach);
the other pupil's late reply-all is not (decoy). Near the end of the window the reply's receipt reaches
Reports before the pupil's sent event (Reports lag): the receipt is held per ``[audit] mail_hold_hours``, then
judged with the sent event when it comes — the breach on the sent event alone (the teacher's personal address
copied) is found then with the fingerprint it would always have had, and the decoy (the pupil's parent
copied: the receipt alone looks one-to-one and late) is never flagged. The school's clock is pinned to a late
evening so the decoy's receipt really is outside working hours in both schools.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import requests
from sources_env import compare
from sqlalchemy import func, select

from integration.audit import run_audit
from integration.findings import fingerprint
from integration.mail_messages import message_key
from integration.rules.base import Candidate
from integration.store.models_audit import Finding, FindingOccurrence
from integration.store.models_mail import MailMessage
from sandbox.activity import activity, audit_decoys, audit_truth
from sandbox.activity_plant import REPORTS_LAG_S

LONDON = ZoneInfo("Europe/London")
METADATA = "https://www.googleapis.com/auth/gmail.metadata"


def late_evening() -> datetime:
    """The latest 23:50 London at least three hours ago: the activity's horizon is then 22:50, and two
    hours can still pass on the pinned clock without overtaking the real one."""
    local = datetime.now(LONDON) - timedelta(hours=3)
    t = local.replace(hour=23, minute=50, second=0, microsecond=0)
    return (t if t <= local else t - timedelta(days=1)).astimezone(UTC)


def lagging(act) -> dict[str, object]:
    """Message-ID -> the planted message whose sender's Reports event lags."""
    return {m.message_id: m for ms in act.plant_mail.values() for m in ms if m.lag_s}


def headers(env, mailbox: str, message_id: str) -> dict:
    """The mailbox's copy of a message through the Gmail API (metadata only), as a real client reads it."""
    act = activity(env.domain)
    m = next(x for x in act.mailbox(mailbox) if x.message_id == message_id)
    token = env.server.access_token(mailbox, [METADATA])
    body = requests.get(f"{env.server.url}/gmail/v1/users/me/messages/{m.id}", timeout=30,
                        headers={"Authorization": f"Bearer {token}"},
                        params={"format": "metadata", "metadataHeaders": ["Message-ID", "In-Reply-To", "References"]}
                        ).json()
    return {"threadId": body["threadId"], **{h["name"]: h["value"] for h in body["payload"]["headers"]}}


def test_a_reply_days_later_is_its_own_message_in_its_parents_thread(school, school_variant):
    now = late_evening()
    env = school("tiny", 7, shape=school_variant, now=now)
    act = activity(env.domain)
    decoy = next(d for d in audit_decoys(env.domain) if "reply-all" in d["why"])
    breach = next(t for t in act.truth if t["rule"] == "mail.out_of_hours" and t["pupil"] != decoy["pupil"]
                  and t["staff"] == decoy["staff"] and any(m.message_id == t["object"] and m.in_reply_to
                                                           for ms in act.plant_mail.values() for m in ms))
    reply = headers(env, breach["staff"], breach["object"])
    parent = reply["In-Reply-To"]
    assert reply["Message-ID"] == breach["object"] != parent and reply["References"] == parent
    assert headers(env, breach["staff"], parent)["threadId"] == reply["threadId"]
    sent = next(m for ms in act.plant_mail.values() for m in ms if m.message_id == parent)
    assert len(sent.to) == 2 and breach["pupil"] in sent.to  # the teacher's note went to two pupils
    assert (act.day_of(next(m.time for ms in act.plant_mail.values() for m in ms if m.message_id == breach["object"]))
            - act.day_of(sent.time)) >= 3

    assert run_audit(env.ctx, now=now).errors == []
    late = [f for f in env.findings() if f["rule"] == "mail.out_of_hours" and f["staff"] == breach["staff"]]
    assert [f["evidence"]["message_id"] for f in late if f["pupil"] == breach["pupil"]] == [breach["object"]]
    assert not [f for f in late if f["pupil"] == decoy["pupil"]]
    assert compare(env.findings(), env.domain) == []


def held_keys(env) -> set[str]:
    with env.ctx.store.session() as s:
        return set(s.scalars(select(MailMessage.key).where(MailMessage.held.is_(True))))


def test_a_receipt_logged_before_its_sender_event_is_held_then_judged_with_it(school, school_variant):
    now = late_evening()
    env = school("tiny", 7, shape=school_variant, now=now)
    act = activity(env.domain)
    late = lagging(act)
    breach = next(t for t in act.truth if t.get("lags"))
    decoy = next(d for d in audit_decoys(env.domain) if "receipt (read before" in d["why"])
    assert set(late) == {breach["object"], decoy["obj"]} and {m.lag_s for m in late.values()} == {REPORTS_LAG_S}
    receipt = next(m for ms in act.plant_mail.values() for m in ms
                   if m.message_id == decoy["obj"] and m.direction == "received" and m.mailbox == decoy["staff"])
    hours = env.ctx.settings.channels.working_hours.split("-")
    local = receipt.time.astimezone(LONDON).strftime("%H:%M")
    assert not hours[0] <= local < hours[1], "the decoy's receipt is outside working hours"

    first = run_audit(env.ctx, now=now)
    assert first.errors == []
    assert {message_key(breach["object"]), message_key(decoy["obj"])} <= held_keys(env)  # receipts wait
    assert compare(env.findings(), env.domain) == []  # the breach is not expected yet, the decoy never
    assert not [t for t in audit_truth(env.domain) if t["object"] == breach["object"]]

    act.advance(2)  # two hours on: the pupils' sent events are in the log
    second = run_audit(env.ctx, now=now + timedelta(hours=2))
    assert second.errors == [] and second.findings_new >= 1
    assert not {message_key(breach["object"]), message_key(decoy["obj"])} & held_keys(env)
    assert compare(env.findings(), env.domain) == []  # found now; the decoy still not flagged
    with env.ctx.store.session() as s:
        row = s.scalars(select(Finding).where(Finding.rule == breach["rule"], Finding.pupil == breach["pupil"],
                                              Finding.staff == breach["staff"])).one()
        want = fingerprint(Candidate(breach["rule"], staff=breach["staff"], pupil=breach["pupil"],
                                     counterpart=breach["counterpart"]), env.ctx.store.crypto.address_hash)
        assert row.fingerprint == want
        occ = s.scalar(select(func.count()).select_from(FindingOccurrence).where(
            FindingOccurrence.finding_id == row.id, FindingOccurrence.event_key == f"mail:{breach['object']}"))
    assert occ == 1

    third = run_audit(env.ctx, now=now + timedelta(hours=2, minutes=30))
    assert (third.findings_new, third.errors) == (0, [])
    assert compare(env.findings(), env.domain) == []


def test_mailbox_mode_sees_the_lagging_replies_at_once(school, school_variant):
    """Mailboxes have no Reports lag: the sent copy is there with the receipt, nothing waits."""
    now = late_evening()
    env = school("tiny", 7, shape=school_variant, now=now, reports_gmail=False)
    act = activity(env.domain)
    breach = next(t for t in act.truth if t.get("lags"))
    assert run_audit(env.ctx, now=now).errors == []
    assert compare(env.findings(), env.domain) == []
    assert (breach["rule"], breach["staff"], breach["pupil"]) in {(f["rule"], f["staff"], f["pupil"])
                                                                 for f in env.findings()}
