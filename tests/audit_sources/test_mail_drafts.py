"""Mailbox mode (Gmail API metadata) never counts a draft as mail: the sandbox lists the planted draft with
its DRAFT label, as Gmail's messages.list does, and the audit reads it and flags nothing for it."""

from __future__ import annotations

from sources_env import compare

from connectors.google.gmail import mail_event
from integration.audit import run_audit
from sandbox.activity import activity


def test_a_draft_in_a_mailbox_is_listed_but_never_judged(school):
    env = school("tiny", 2, reports_gmail=False)
    act = activity(env.domain)
    drafts = [m for box in act.plant_mail.values() for m in box if m.direction == "draft"]
    assert drafts, "the generator plants a draft"
    draft = drafts[0]
    run_audit(env.ctx)
    gets = [e for e in env.server.requests("gmail.users.messages.get") if e.path.endswith("/" + draft.id)]
    assert gets, "the audit read the draft's metadata"
    assert all(draft.message_id not in f["evidence"].get("message_ids", []) for f in env.findings())
    assert compare(env.findings(), env.domain) == []


def test_the_parser_skips_a_draft_but_reads_the_same_message_once_sent():
    headers = [{"name": "From", "value": "t@school.sch.uk"}, {"name": "To", "value": "pupil.home@gmail.com"},
               {"name": "Message-ID", "value": "<d1@x>"}]
    msg = {"id": "18c0", "internalDate": "1767225600000", "labelIds": ["DRAFT"], "payload": {"headers": headers}}
    assert mail_event("t@school.sch.uk", msg) is None
    sent = mail_event("t@school.sch.uk", {**msg, "labelIds": ["SENT"]})
    assert sent is not None and (sent.direction, sent.recipients) == ("sent", ("pupil.home@gmail.com",))
