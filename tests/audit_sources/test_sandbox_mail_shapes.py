"""The sandbox's Reports gmail log follows the real shapes (tests/fixtures/reports/gmail.py): each receipt names
only the mailbox that logged it, some receipts from school senders have an empty source, the sender's event
names every destination, and late class mail through a Google Group is one sender event plus one receipt per
member — judged as one message, so not one out_of_hours finding per pupil. Run on both generated schools."""

from __future__ import annotations

import requests

from connectors.google.reports import mail_events
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
