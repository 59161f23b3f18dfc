"""Gmail filters against the sandbox over real HTTP: read in the forwarding batch, planted breach found
`known` with its criteria, decoys quiet, and every request and answer checked against gmail discovery."""

from __future__ import annotations

from connectors.google.gmail import GmailReader
from connectors.google.scopes import SCOPES
from integration.audit import run_audit
from sandbox.activity import activity, audit_decoys
from sandbox.mail_settings import planted_filters


def _forwarding_filter(dom):
    """(mailbox, filter) of the planted filter that forwards outside the school."""
    return next((box, f) for box, fs in planted_filters(dom).filters.items() for f in fs
                if f.forward and not f.forward.endswith("@" + dom.domain))


def test_filters_are_read_in_the_same_batch_as_forwarding(school):
    env = school("tiny", 1)
    box, planted = _forwarding_filter(env.domain)
    env.server.reset_log()
    setting = GmailReader(env.ctx.google).forwarding(box)
    [got] = setting.filters
    assert (got.filter_id, got.forward_to) == (planted.id, planted.forward)
    assert dict(got.criteria) == {"from": planted.criteria["from"], "hasAttachment": "true"}
    assert got.remove_label_ids == ("INBOX",)
    methods = sorted(e.method_id for e in env.server.requests())
    assert "gmail.users.settings.filters.list" in methods
    assert len(methods) == 3 and all(e.batch for e in env.server.requests()), \
        "auto-forwarding, addresses and filters travel in one batch"
    assert env.server.problems() == []


def test_label_only_filters_are_not_kept_and_labels_list_and_filters_get_answer(school):
    env = school("tiny", 1)
    client = env.ctx.google
    scopes = SCOPES["gmail_settings"]
    box = next(b for b, fs in planted_filters(env.domain).filters.items() if all(not f.forward for f in fs))
    assert GmailReader(client).forwarding(box).filters == ()
    listed = client.execute("gmail", client.resource("gmail", "users", "settings", "filters").list(userId="me"),
                            subject=box, scopes=scopes)
    fid = listed["filter"][-1]["id"]
    one = client.execute("gmail", client.resource("gmail", "users", "settings", "filters").get(userId="me", id=fid),
                         subject=box, scopes=scopes)
    assert one == listed["filter"][-1]
    labels = client.execute("gmail", client.resource("gmail", "users", "labels").list(userId="me"), subject=box,
                            scopes=SCOPES["gmail_metadata"])["labels"]
    names = {lab["id"]: lab for lab in labels}
    assert {"INBOX", "SENT", "DRAFT"} <= names.keys()
    assert all(i in names for i in one["action"].get("addLabelIds", []))
    assert env.server.problems() == []


def test_the_audit_reports_the_forwarding_filter_known_with_its_criteria(school, school_variant):
    env = school("tiny", 1, shape=school_variant)
    box, planted = _forwarding_filter(env.domain)
    run_audit(env.ctx)
    [f] = [f for f in env.findings() if f["rule"] == "mail.auto_forward_external" and f["staff"] == box]
    assert (f["confidence"], f["counterpart"]) == ("known", planted.forward)
    assert f["evidence"]["filters"][0]["criteria"]["from"] == planted.criteria["from"]
    quiet = {d["staff"] for d in audit_decoys(env.domain) if d["rule"] == "mail.auto_forward_external"
             and "filter" in d["why"]}
    assert quiet and not quiet & {f["staff"] for f in env.findings() if f["rule"] == "mail.auto_forward_external"}
    assert activity(env.domain).forwarding[box].enabled is False  # only the filter forwards
