"""The simulated activity itself: planted breaches for every rule at every size, different people
for different seeds, and Google's own refusals (gmail windows, metadata-only mail access)."""

from __future__ import annotations

import pytest
import requests

from sandbox import generate
from sandbox.activity import audit_decoys, audit_truth
from sandbox.server import SandboxServer

RULES = {"mail.staff_to_pupil_personal", "mail.staff_personal_to_pupil", "mail.staff_personal_to_guardian",
         "mail.auto_forward_external", "drive.shared_with_pupil_personal", "drive.pupil_shared_with_staff_personal",
         "drive.shared_drive_external_with_pupils", "drive.public_media", "drive.direct_share_outside_course",
         "chat.staff_pupil_direct", "meet.staff_pupil_one_to_one", "mail.out_of_hours", "oauth.social_app_grant"}
SCOPE = "https://www.googleapis.com/auth/"


@pytest.mark.parametrize("size", ["tiny", "demo", "school"])
def test_every_rule_has_planted_breaches_and_decoys_at_every_size(size):
    truth = audit_truth(generate(size, 1))
    assert {t["rule"] for t in truth} == RULES
    assert {"suspected", "known"} <= {t["confidence"] for t in truth}
    assert {"new", "suppressed"} <= {t["status"] for t in truth}
    assert len(audit_decoys(generate(size, 1))) >= 20


def test_the_same_seed_plants_the_same_and_another_seed_other_people():
    one, again, other = (audit_truth(generate("demo", s)) for s in (1, 1, 2))
    assert one == again
    people = {(t["staff"], t["pupil"]) for t in one}
    assert len(people & {(t["staff"], t["pupil"]) for t in other}) == 0


def test_google_refusals_are_reproduced():
    dom = generate("tiny", 1)
    with SandboxServer(dom) as server:
        admin = {"Authorization": "Bearer " + server.access_token(dom.admin_email, [SCOPE + "admin.reports.audit.readonly"])}
        url = server.url + "/admin/reports/v1/activity/users/all/applications/gmail"
        assert requests.get(url, params={"startTime": "2026-01-01T00:00:00Z"}, headers=admin, timeout=10).status_code == 400
        wide = {"startTime": "2026-01-01T00:00:00Z", "endTime": "2026-02-01T00:00:00Z"}
        assert requests.get(url, params=wide, headers=admin, timeout=10).status_code == 400
        user = sorted(dom.personal_addresses)[0]
        box = {"Authorization": "Bearer " + server.access_token(user, [SCOPE + "gmail.metadata"])}
        base = server.url + "/gmail/v1/users/me/messages"
        assert requests.get(base, params={"q": "from:x"}, headers=box, timeout=10).status_code == 403
        first = requests.get(base, headers=box, timeout=10).json()["messages"][0]["id"]
        assert requests.get(f"{base}/{first}", params={"format": "full"}, headers=box, timeout=10).status_code == 403
        meta = requests.get(f"{base}/{first}", params={"format": "metadata"}, headers=box, timeout=10).json()
        assert "snippet" not in meta and "body" not in str(meta["payload"])
