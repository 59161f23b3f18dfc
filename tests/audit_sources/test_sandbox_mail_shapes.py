"""The sandbox's Reports gmail log follows the real shapes (tests/fixtures/reports/gmail.py): each receipt names
only the mailbox that logged it, some receipts from school senders have an empty source, the sender's event
names every destination, and late class mail through a Google Group is one sender event plus one receipt per
member — judged as one message, so not one out_of_hours finding per pupil. Run on both generated schools."""

from __future__ import annotations

import requests
from sources_env import compare

from connectors.google.reports import mail_events
from integration.audit import run_audit
from sandbox import generate
from sandbox.activity import activity, audit_decoys
from sandbox.server import SandboxServer

SCOPE = "https://www.googleapis.com/auth/admin.reports.audit.readonly"


def gmail_log(server: SandboxServer, dom) -> list[dict]:
    act = activity(dom)
    headers = {"Authorization": "Bearer " + server.access_token(dom.admin_email, [SCOPE])}
    url = server.url + "/admin/reports/v1/activity/users/all/applications/gmail"
    params = {"startTime": act.start.strftime("%Y-%m-%dT%H:%M:%SZ"), "maxResults": "1000",
              "endTime": act.horizon.strftime("%Y-%m-%dT%H:%M:%SZ")}
    items: list[dict] = []
    while True:
        body = requests.get(url, params=params, headers=headers, timeout=30).json()
        items += body.get("items", [])
        if not body.get("nextPageToken"):
            return items
        params["pageToken"] = body["nextPageToken"]


def test_receipts_name_their_own_mailbox_and_class_mail_reaches_each_member(school_variant):
    dom = generate("tiny", 1, school_variant)
    act = activity(dom)
    with SandboxServer(dom) as server:
        events = [e for a in gmail_log(server, dom) for e in mail_events(a)]
        assert server.problems() == []
    receipts = [e for e in events if e.direction == "received"]
    assert receipts and all(e.recipients == (e.mailbox,) for e in receipts)
    assert any(not e.sender for e in receipts), "some receipts carry an empty source"
    if not act.mail_groups:  # the classic school mails classes directly; the academy through tutor groups
        return
    decoy = next(d for d in audit_decoys(dom) if "class group" in d["why"])
    group = next(g for g, (tutor, _) in act.mail_groups.items() if tutor == decoy["staff"])
    late = [e for e in events if group in e.recipients and e.direction == "sent" and e.sender == decoy["staff"]]
    planted = {e.message_id for e in late if e.message_id.startswith("<plant-")}
    assert len(planted) == 1
    mid = planted.pop()
    members = set(act.mail_groups[group][1]) - {decoy["staff"]}
    assert {e.mailbox for e in receipts if e.message_id == mid} == members and len(members) > 1


def test_class_mail_through_a_group_with_a_personal_address_beside_it(school, school_variant):
    """The academy mails tutor groups: a pupil's personal address copied beside the group is one breach, the
    tutor's own personal address beside it one per pupil of the group; copying a colleague late is a decoy.
    The Reports log shows the copied address only on the tutor's sent event. The classic school mails
    classes directly (no mail groups), so there the plant is absent and nothing is expected of it."""
    env = school("tiny", 1, shape=school_variant)
    act = activity(env.domain)
    beside = [t for t in act.truth if t["object"] and any(
        set(m.to) & set(act.mail_groups) for ms in act.plant_mail.values() for m in ms if m.message_id == t["object"])]
    if not act.mail_groups:
        assert beside == []
        return
    rules = sorted({t["rule"] for t in beside})
    assert rules == ["mail.staff_personal_to_pupil", "mail.staff_to_pupil_personal"]
    events = [e for a in gmail_log(env.server, env.domain) for e in mail_events(a)]
    for mid in {t["object"] for t in beside}:
        sightings = [e for e in events if e.message_id == mid]
        sent = [e for e in sightings if e.direction == "sent"]
        counterparts = {t["counterpart"] for t in beside if t["object"] == mid}
        assert len(sent) == 1 and counterparts <= set(sent[0].recipients)
        assert all(e.recipients == (e.mailbox,) for e in sightings if e.direction == "received")
    run_audit(env.ctx)
    found = {(f["rule"], f["staff"], f["pupil"], f["counterpart"]) for f in env.findings()}
    assert {(t["rule"], t["staff"], t["pupil"], t["counterpart"]) for t in beside} <= found
    decoy = next(d for d in audit_decoys(env.domain) if "group copying a colleague is not" in d["why"])
    assert not [f for f in env.findings() if f["evidence"].get("message_id") == decoy["obj"]]
    assert compare(env.findings(), env.domain) == []
