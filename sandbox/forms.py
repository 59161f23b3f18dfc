"""Google Forms API v1 in the sandbox: forms, atomic batchUpdate, responses with the timestamp
filter and bound page tokens, and Pub/Sub watches with their 7-day expiry.

Forms belong to an owner (plus editors): any other caller gets Google's bare 403 "The caller
does not have permission" (no ErrorInfo, unlike a missing scope), so the connector can tell
"share the form" from "delegate the scope". Tests drive it with the helpers at the bottom:
`seed_form` (an admin's existing form), `submit_response`, `resubmit`, and `forms_state(...).clock`.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.api import ApiRequest, Registry
from sandbox.errors import ApiError
from sandbox.model import Domain
from sandbox.paging import paginate

WATCH_LIFETIME = timedelta(days=7)
EMAIL_TYPES = ("DO_NOT_COLLECT", "VERIFIED", "RESPONDER_INPUT")
_FILTER = re.compile(r"^\s*timestamp\s*(>=|>)\s*(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z)\s*$")
_WATCH_ID = re.compile(r"^[a-z][a-z0-9-]{3,62}$")
_TOPIC = re.compile(r"^projects/[^/]+/topics/[^/]+$")


@dataclass
class SandboxForm:
    form_id: str
    owner: str
    info: dict[str, Any]
    settings: dict[str, Any]
    items: list[dict[str, Any]] = field(default_factory=list)
    revision: int = 1
    published: bool = True
    accepting: bool = True
    editors: set[str] = field(default_factory=set)
    responses: list[dict[str, Any]] = field(default_factory=list)
    watches: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def responder_uri(self) -> str:
        return f"https://docs.google.com/forms/d/e/1FAIpQL{self.form_id[:30]}/viewform"

    def as_json(self) -> dict[str, Any]:
        return {"formId": self.form_id, "info": copy.deepcopy(self.info), "settings": copy.deepcopy(self.settings),
                "items": copy.deepcopy(self.items), "revisionId": format(self.revision, "08x"),
                "responderUri": self.responder_uri,
                "publishSettings": {"publishState": {"isPublished": self.published,
                                                     "isAcceptingResponses": self.accepting}}}


@dataclass
class FormsState:
    forms: dict[str, SandboxForm] = field(default_factory=dict)
    default_email_collection: str = "VERIFIED"  # what a Workspace owner's new form collects
    clock: Any = None  # tests set a callable returning an aware datetime
    counter: int = 0

    def now(self) -> datetime:
        return self.clock() if self.clock else datetime.now(UTC)

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return hashlib.sha256(f"{prefix}:{self.counter}".encode()).hexdigest()


def forms_state(domain: Domain) -> FormsState:
    return domain.state("forms", FormsState)


def rfc3339(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _parse_time(text: str) -> datetime:
    text = re.sub(r"\.(\d{6})\d+", r".\1", text)
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class NoAccess(ApiError):
    """Google's answer when the caller may not open the form: 403 without an ErrorInfo reason."""

    def __init__(self) -> None:
        super().__init__(403, "The caller does not have permission", "forbidden", status="PERMISSION_DENIED")

    def body(self, api: str) -> dict[str, Any]:
        return {"error": {"code": 403, "message": self.message, "status": "PERMISSION_DENIED"}}


def invalid(message: str) -> ApiError:
    return ApiError(400, message, "badRequest", status="INVALID_ARGUMENT")


def _form(req: ApiRequest, *, write: bool = False) -> SandboxForm:
    form = forms_state(req.domain).forms.get(req.params["formId"])
    if form is None:
        raise ApiError(404, "Requested entity was not found.", "notFound", status="NOT_FOUND")
    who = req.subject_email.lower()
    if who != form.owner and who not in form.editors:
        raise NoAccess()
    return form


# ---------------------------------------------------------------- batchUpdate requests


def _create_item(form: SandboxForm, body: dict[str, Any], where: str, st: FormsState) -> dict[str, Any]:
    item = copy.deepcopy(body.get("item") or {})
    location = body.get("location")
    if not isinstance(location, dict) or "index" not in location:
        raise invalid(f"{where}.location: a location with an index is required")
    index = location["index"]
    if not isinstance(index, int) or not 0 <= index <= len(form.items):
        raise invalid(f"{where}.location.index: {index} is out of range [0, {len(form.items)}]")
    kinds = [k for k in ("questionItem", "textItem", "pageBreakItem", "imageItem", "videoItem",
                         "questionGroupItem") if k in item]
    if len(kinds) != 1:
        raise invalid(f"{where}.item: exactly one item kind (questionItem, textItem, ...) must be set")
    item["itemId"] = st.next_id("item")[:8]
    reply: dict[str, Any] = {"itemId": item["itemId"]}
    if kinds[0] == "questionItem":
        question = item["questionItem"].get("question")
        if not isinstance(question, dict):
            raise invalid(f"{where}.item.questionItem.question is required")
        qkinds = [k for k in question if k.endswith("Question")]
        if len(qkinds) != 1:
            raise invalid(f"{where}.item.questionItem.question: exactly one question kind must be set")
        if "choiceQuestion" in question:
            choice = question["choiceQuestion"]
            if choice.get("type") not in ("RADIO", "CHECKBOX", "DROP_DOWN"):
                raise invalid(f"{where}.item.questionItem.question.choiceQuestion.type must be RADIO, "
                              "CHECKBOX or DROP_DOWN")
            values = [o.get("value", "") for o in choice.get("options") or [] if not o.get("isOther")]
            if not values or any(not v for v in values):
                raise invalid(f"{where}: choice options must be non-empty strings")
            if len(set(values)) != len(values):
                raise invalid(f"{where}: choice options must be unique")
        question["questionId"] = st.next_id("question")[:8]
        reply["questionId"] = [question["questionId"]]
    form.items.insert(index, item)
    return {"createItem": reply}


def _mask(body: dict[str, Any], where: str, allowed: set[str]) -> list[str]:
    mask = body.get("updateMask")
    if not mask:
        raise invalid(f"{where}.updateMask is required")
    paths = [p.strip() for p in mask.split(",") if p.strip()]
    bad = [p for p in paths if p != "*" and p not in allowed]
    if bad:
        raise invalid(f"{where}.updateMask: unknown field(s) {', '.join(bad)}")
    return sorted(allowed) if "*" in paths else paths


def _update_info(form: SandboxForm, body: dict[str, Any], where: str) -> dict[str, Any]:
    info = body.get("info") or {}
    for path in _mask(body, where, {"title", "description"}):
        if path == "title" and not info.get("title"):
            raise invalid(f"{where}.info.title must not be empty")
        if info.get(path):
            form.info[path] = info[path]
        else:
            form.info.pop(path, None)
    return {}


def _update_settings(form: SandboxForm, body: dict[str, Any], where: str) -> dict[str, Any]:
    settings = body.get("settings") or {}
    for path in _mask(body, where, {"emailCollectionType", "quizSettings.isQuiz"}):
        if path == "emailCollectionType":
            value = settings.get("emailCollectionType")
            if value not in EMAIL_TYPES:
                raise invalid(f"{where}.settings.emailCollectionType must be one of {', '.join(EMAIL_TYPES)}")
            form.settings["emailCollectionType"] = value
        else:
            form.settings["quizSettings"] = {"isQuiz": bool((settings.get("quizSettings") or {}).get("isQuiz"))}
    return {}


def _delete_item(form: SandboxForm, body: dict[str, Any], where: str) -> dict[str, Any]:
    index = (body.get("location") or {}).get("index")
    if not isinstance(index, int) or not 0 <= index < len(form.items):
        raise invalid(f"{where}.location.index is out of range")
    form.items.pop(index)
    return {}


def batch_update(form: SandboxForm, body: dict[str, Any], st: FormsState) -> dict[str, Any]:
    """Apply every request to a copy; commit only if all succeed (Google's batchUpdate is atomic)."""
    control = body.get("writeControl") or {}
    required = control.get("requiredRevisionId")
    if required and required != format(form.revision, "08x"):
        raise ApiError(400, "The revision ID in the write control does not match the form's latest revision.",
                       "badRequest", status="FAILED_PRECONDITION")
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise invalid("requests: at least one request is required")
    work = copy.deepcopy(form)
    replies = []
    for i, r in enumerate(requests):
        kinds = [k for k in r if r.get(k) is not None] if isinstance(r, dict) else []
        if len(kinds) != 1:
            raise invalid(f"requests[{i}]: exactly one request kind must be set")
        kind, where = kinds[0], f"requests[{i}].{kinds[0]}"
        if kind == "createItem":
            replies.append(_create_item(work, r[kind], where, st))
        elif kind == "updateFormInfo":
            replies.append(_update_info(work, r[kind], where))
        elif kind == "updateSettings":
            replies.append(_update_settings(work, r[kind], where))
        elif kind == "deleteItem":
            replies.append(_delete_item(work, r[kind], where))
        else:
            raise ApiError(501, f"The sandbox does not implement {kind}.", "notImplemented", status="UNIMPLEMENTED")
    work.revision += 1
    form.__dict__.update(work.__dict__)
    out: dict[str, Any] = {"replies": replies, "writeControl": {"requiredRevisionId": format(form.revision, "08x")}}
    if body.get("includeFormInResponse"):
        out["form"] = form.as_json()
    return out


# ---------------------------------------------------------------- responses


def _response_json(resp: dict[str, Any], with_form: str = "") -> dict[str, Any]:
    out = {"responseId": resp["responseId"], "createTime": resp["createTime"],
           "lastSubmittedTime": resp["lastSubmittedTime"], "answers": copy.deepcopy(resp["answers"])}
    if resp.get("respondentEmail"):
        out["respondentEmail"] = resp["respondentEmail"]
    if with_form:
        out["formId"] = with_form
    return out


def _filtered(form: SandboxForm, text: str | None) -> list[dict[str, Any]]:
    items = sorted(form.responses, key=lambda r: (r["lastSubmittedTime"], r["responseId"]))
    if not text:
        return items
    m = _FILTER.match(text)
    if not m:
        raise invalid("Invalid filter: expected 'timestamp > T' or 'timestamp >= T' with T in RFC 3339 UTC "
                      "(e.g. 2026-01-01T00:00:00Z)")
    op, bound = m.group(1), _parse_time(m.group(2))
    return [r for r in items if (_parse_time(r["lastSubmittedTime"]) > bound if op == ">"
                                 else _parse_time(r["lastSubmittedTime"]) >= bound)]


# ---------------------------------------------------------------- watches


def _live_watches(form: SandboxForm, now: datetime) -> dict[str, dict[str, Any]]:
    for wid in [w for w, watch in form.watches.items() if _parse_time(watch["expireTime"]) <= now]:
        del form.watches[wid]  # an expired watch is gone (renewing it answers NOT_FOUND)
    return form.watches


def _create_watch(form: SandboxForm, body: dict[str, Any], st: FormsState) -> dict[str, Any]:
    watch = (body or {}).get("watch") or {}
    event_type = watch.get("eventType")
    if event_type not in ("SCHEMA", "RESPONSES"):
        raise invalid("watch.eventType must be SCHEMA or RESPONSES")
    topic = ((watch.get("target") or {}).get("topic") or {}).get("topicName", "")
    if not _TOPIC.match(topic):
        raise invalid("watch.target.topic.topicName must be projects/{project}/topics/{topic}")
    watch_id = (body or {}).get("watchId") or "w" + st.next_id("watch")[:20]
    if not _WATCH_ID.match(watch_id):
        raise invalid("watchId must be 4-63 characters of [a-z0-9-], starting with a letter")
    now = st.now()
    live = _live_watches(form, now)
    if watch_id in live or any(w["eventType"] == event_type for w in live.values()):
        raise ApiError(409, f"A watch for {event_type} already exists on this form for this project.",
                       "alreadyExists", status="ALREADY_EXISTS")
    created = {"id": watch_id, "eventType": event_type, "target": {"topic": {"topicName": topic}},
               "createTime": rfc3339(now), "expireTime": rfc3339(now + WATCH_LIFETIME), "state": "ACTIVE"}
    live[watch_id] = created
    return copy.deepcopy(created)


def register(api: Registry, domain: Domain) -> None:
    st = forms_state(domain)

    @api.method("forms.forms.create")
    def create(req: ApiRequest) -> dict:
        body = req.body if isinstance(req.body, dict) else {}
        info = body.get("info") or {}
        if set(body) - {"info"} or set(info) - {"title", "documentTitle"}:
            raise invalid("Only info.title and info.documentTitle can be set when creating a form; add items, "
                          "description and settings with forms.batchUpdate.")
        with domain.lock:
            fid = st.next_id("form")[:44]
            title = info.get("title") or "Untitled form"
            form = SandboxForm(fid, req.subject_email.lower(),
                               {"title": title, "documentTitle": info.get("documentTitle") or title},
                               {"emailCollectionType": st.default_email_collection})
            unpublished = req.flag("unpublished")
            form.published = form.accepting = not unpublished
            st.forms[fid] = form
            return form.as_json()

    @api.method("forms.forms.get")
    def get(req: ApiRequest) -> dict:
        with domain.lock:
            return _form(req).as_json()

    @api.method("forms.forms.batchUpdate")
    def update(req: ApiRequest) -> dict:
        with domain.lock:
            return batch_update(_form(req, write=True), req.body if isinstance(req.body, dict) else {}, st)

    @api.method("forms.forms.responses.list")
    def responses_list(req: ApiRequest) -> dict:
        with domain.lock:
            form = _form(req)
            page, token = paginate(req, _filtered(form, req.arg("filter")), f"responses:{form.form_id}")
            out: dict[str, Any] = {"responses": [_response_json(r) for r in page]} if page else {}
            if token:
                out["nextPageToken"] = token
            return out

    @api.method("forms.forms.responses.get")
    def responses_get(req: ApiRequest) -> dict:
        with domain.lock:
            form = _form(req)
            for r in form.responses:
                if r["responseId"] == req.params["responseId"]:
                    return _response_json(r, form.form_id)
            raise ApiError(404, "Requested entity was not found.", "notFound", status="NOT_FOUND")

    @api.method("forms.forms.watches.create")
    def watches_create(req: ApiRequest) -> dict:
        with domain.lock:
            return _create_watch(_form(req), req.body if isinstance(req.body, dict) else {}, st)

    @api.method("forms.forms.watches.list")
    def watches_list(req: ApiRequest) -> dict:
        with domain.lock:
            live = _live_watches(_form(req), st.now())
            return {"watches": [copy.deepcopy(w) for w in live.values()]} if live else {}

    @api.method("forms.forms.watches.renew")
    def watches_renew(req: ApiRequest) -> dict:
        with domain.lock:
            live = _live_watches(_form(req), st.now())
            watch = live.get(req.params["watchId"])
            if watch is None:
                raise ApiError(404, "Requested entity was not found.", "notFound", status="NOT_FOUND")
            watch["expireTime"] = rfc3339(st.now() + WATCH_LIFETIME)
            return copy.deepcopy(watch)

    @api.method("forms.forms.watches.delete")
    def watches_delete(req: ApiRequest) -> dict:
        with domain.lock:
            live = _live_watches(_form(req), st.now())
            if live.pop(req.params["watchId"], None) is None:
                raise ApiError(404, "Requested entity was not found.", "notFound", status="NOT_FOUND")
            return {}


# ---------------------------------------------------------------- test helpers


def seed_form(domain: Domain, owner: str, title: str = "Policy acknowledgement", *,
              email_collection: str = "VERIFIED", question: str = "I have read and understood the policy",
              accepting: bool = True, editors: tuple[str, ...] = ()) -> str:
    """An existing form (as an admin would make by hand) with one required checkbox; returns its id."""
    st = forms_state(domain)
    with domain.lock:
        fid = st.next_id("form")[:44]
        form = SandboxForm(fid, owner.lower(), {"title": title, "documentTitle": title},
                           {"emailCollectionType": email_collection}, editors={e.lower() for e in editors})
        form.accepting = accepting
        form.items.append({"itemId": st.next_id("item")[:8], "title": question, "questionItem": {"question": {
            "questionId": st.next_id("question")[:8], "required": True,
            "choiceQuestion": {"type": "CHECKBOX", "options": [{"value": question}]}}}})
        st.forms[fid] = form
        return fid


def submit_response(domain: Domain, form_id: str, email: str, submitted: datetime, *,
                    created: datetime | None = None, confirm: bool = True, response_id: str = "") -> str:
    """A respondent submits the form; the address is kept only if the form collects it. Returns the id."""
    st = forms_state(domain)
    with domain.lock:
        form = st.forms[form_id]
        if not form.accepting:
            raise ValueError(f"form {form_id} is not accepting responses")
        answers: dict[str, Any] = {}
        for item in form.items:
            q = (item.get("questionItem") or {}).get("question") or {}
            if "choiceQuestion" in q and confirm:
                value = q["choiceQuestion"]["options"][0]["value"]
                answers[q["questionId"]] = {"questionId": q["questionId"],
                                            "textAnswers": {"answers": [{"value": value}]}}
        rid = response_id or "ACYDBN" + st.next_id("response")[:40]
        collects = form.settings.get("emailCollectionType") in ("VERIFIED", "RESPONDER_INPUT")
        form.responses.append({"responseId": rid, "createTime": rfc3339(created or submitted),
                               "lastSubmittedTime": rfc3339(submitted), "answers": answers,
                               "respondentEmail": email.lower() if collects else ""})
        return rid


def resubmit(domain: Domain, form_id: str, response_id: str, submitted: datetime) -> None:
    """The respondent edits and resubmits their response (same id, later lastSubmittedTime)."""
    with domain.lock:
        for r in forms_state(domain).forms[form_id].responses:
            if r["responseId"] == response_id:
                r["lastSubmittedTime"] = rfc3339(submitted)
                return
        raise KeyError(response_id)
