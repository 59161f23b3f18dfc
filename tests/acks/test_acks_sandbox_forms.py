"""The sandbox's Forms API, spoken to over HTTP as Google's clients would (paths and scopes from
the discovery document, Google's error bodies, atomic batchUpdate, bound page tokens, watches)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from sandbox import generate
from sandbox.forms import forms_state, seed_form, submit_response
from sandbox.server import SandboxServer

AUTH = "https://www.googleapis.com/auth/"
T = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def server():
    with SandboxServer(generate("tiny", 1)) as srv:
        yield srv


class Client:
    def __init__(self, server, subject, scopes=("forms.body", "forms.responses.readonly")):
        self.server, self.base = server, server.url + "/v1/forms"
        token = server.access_token(subject, [AUTH + s for s in scopes])
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, path, body=None, **params):
        return requests.post(self.base + path, json=body or {}, params=params, headers=self.headers, timeout=10)

    def get(self, path, **params):
        return requests.get(self.base + path, params=params, headers=self.headers, timeout=10)

    def delete(self, path):
        return requests.delete(self.base + path, headers=self.headers, timeout=10)


def owner(server) -> str:
    return server.domain.admin_email


def test_create_honours_only_the_title_and_unpublished(server):
    c = Client(server, owner(server))
    bad = c.post("", {"info": {"title": "T", "description": "not allowed here"}})
    assert bad.status_code == 400 and bad.json()["error"]["status"] == "INVALID_ARGUMENT"
    form = c.post("", {"info": {"title": "Acks"}}, unpublished="true").json()
    assert form["info"] == {"title": "Acks", "documentTitle": "Acks"} and form["responderUri"].startswith("https://")
    assert form["publishSettings"]["publishState"] == {"isPublished": False, "isAcceptingResponses": False}
    assert c.get(f"/{form['formId']}").json()["settings"]["emailCollectionType"] == "VERIFIED"
    assert server.problems() == []


def test_batch_update_is_atomic_and_validates_like_google(server):
    c = Client(server, owner(server))
    fid = c.post("", {"info": {"title": "Acks"}}).json()["formId"]
    bad = c.post(f"/{fid}:batchUpdate", {"requests": [
        {"updateFormInfo": {"info": {"description": "D"}, "updateMask": "description"}},
        {"createItem": {"item": {"title": "Q", "questionItem": {"question": {"choiceQuestion": {
            "type": "CHECKBOX", "options": [{"value": "yes"}]}}}}}}]})  # no location
    assert bad.status_code == 400 and "requests[1].createItem.location" in bad.json()["error"]["message"]
    form = c.get(f"/{fid}").json()
    assert "description" not in form["info"] and form.get("items", []) == []  # nothing half-applied
    good = c.post(f"/{fid}:batchUpdate", {"includeFormInResponse": True, "requests": [
        {"updateSettings": {"settings": {"emailCollectionType": "DO_NOT_COLLECT"},
                            "updateMask": "emailCollectionType"}},
        {"createItem": {"location": {"index": 0}, "item": {"title": "Q", "questionItem": {"question": {
            "required": True, "choiceQuestion": {"type": "RADIO", "options": [{"value": "yes"}]}}}}}}]}).json()
    qid = good["replies"][1]["createItem"]["questionId"][0]
    assert good["form"]["items"][0]["questionItem"]["question"]["questionId"] == qid
    assert good["form"]["settings"]["emailCollectionType"] == "DO_NOT_COLLECT"
    stale = c.post(f"/{fid}:batchUpdate", {"writeControl": {"requiredRevisionId": form["revisionId"]}, "requests": [
        {"updateFormInfo": {"info": {"title": "New"}, "updateMask": "title"}}]})
    assert stale.status_code == 400 and stale.json()["error"]["status"] == "FAILED_PRECONDITION"
    assert server.problems() == []


def test_responses_filter_paging_and_bound_page_tokens(server):
    fid = seed_form(server.domain, owner(server))
    for i in range(5):
        submit_response(server.domain, fid, f"staff{i}@{server.domain.domain}", T + timedelta(hours=i))
    c = Client(server, owner(server))
    assert len(c.get(f"/{fid}/responses").json()["responses"]) == 5
    ge = c.get(f"/{fid}/responses", filter="timestamp >= 2026-11-02T10:00:00Z").json()["responses"]
    gt = c.get(f"/{fid}/responses", filter="timestamp > 2026-11-02T10:00:00Z").json()["responses"]
    assert (len(ge), len(gt)) == (3, 2)
    assert "formId" not in ge[0] and ge[0]["respondentEmail"] == f"staff2@{server.domain.domain}"
    assert c.get(f"/{fid}/responses", filter="timestamp >= yesterday").status_code == 400
    assert c.get(f"/{fid}/responses", filter="timestamp >= 2026-11-02T10:00:00+01:00").status_code == 400
    page = c.get(f"/{fid}/responses", pageSize=2, filter="timestamp >= 2026-11-02T08:00:00Z").json()
    assert len(page["responses"]) == 2 and page["nextPageToken"]
    other = c.get(f"/{fid}/responses", pageSize=2, pageToken=page["nextPageToken"],
                  filter="timestamp > 2026-11-02T08:00:00Z")
    assert other.status_code == 400  # a token belongs to its filter
    assert len(c.get(f"/{fid}/responses", pageSize=6000).json()["responses"]) == 5  # coerced to 5000
    rid = ge[0]["responseId"]
    assert c.get(f"/{fid}/responses/{rid}").json()["formId"] == fid
    assert server.problems() == []


def test_scopes_follow_the_discovery_document(server):
    fid = seed_form(server.domain, owner(server))
    body_only = Client(server, owner(server), scopes=("forms.body",))
    assert body_only.get(f"/{fid}").status_code == 200
    assert body_only.get(f"/{fid}/responses").status_code == 403
    responses_only = Client(server, owner(server), scopes=("forms.responses.readonly",))
    assert responses_only.get(f"/{fid}/responses").status_code == 200
    assert responses_only.post("", {"info": {"title": "x"}}).status_code == 403


def test_someone_elses_form_is_a_bare_permission_denied(server):
    fid = seed_form(server.domain, f"someone@{server.domain.domain}")
    r = Client(server, owner(server)).get(f"/{fid}")
    assert r.status_code == 403 and r.json() == {"error": {
        "code": 403, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}}
    assert Client(server, owner(server)).get("/nope").status_code == 404


def test_watches_expire_after_seven_days(server):
    fid = seed_form(server.domain, owner(server))
    st = forms_state(server.domain)
    st.clock = lambda: T
    c = Client(server, owner(server))
    body = {"watch": {"eventType": "RESPONSES", "target": {"topic": {"topicName": "projects/p/topics/forms"}}},
            "watchId": "acks-responses"}
    watch = c.post(f"/{fid}/watches", body).json()
    assert watch["state"] == "ACTIVE" and watch["expireTime"] == "2026-11-09T08:00:00.000Z"
    assert c.post(f"/{fid}/watches", body).status_code == 409  # one per event type
    assert c.post(f"/{fid}/watches", {"watch": {"eventType": "SCHEMA", "target": {"topic": {
        "topicName": "projects/p/topics/forms"}}}, "watchId": "Bad_Id"}).status_code == 400
    st.clock = lambda: T + timedelta(days=6)
    assert c.post(f"/{fid}/watches/acks-responses:renew").json()["expireTime"] == "2026-11-15T08:00:00.000Z"
    assert [w["id"] for w in c.get(f"/{fid}/watches").json()["watches"]] == ["acks-responses"]
    st.clock = lambda: T + timedelta(days=14)
    assert c.post(f"/{fid}/watches/acks-responses:renew").status_code == 404  # expired: gone
    assert c.get(f"/{fid}/watches").json() == {}
    st.clock = lambda: T + timedelta(days=15)
    c.post(f"/{fid}/watches", body)
    assert c.delete(f"/{fid}/watches/acks-responses").status_code == 200
    assert c.delete(f"/{fid}/watches/acks-responses").status_code == 404
    assert server.problems() == []
