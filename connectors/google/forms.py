"""The acknowledgement form through the Google Forms API (an AcknowledgementSource).

Every call impersonates the form's owner (``[acknowledgement] form_owner``, default the admin
subject) with the `forms` scope group. A new form is made the only way the API allows:
``forms.create`` (title only) then one atomic ``batchUpdate`` (description with the policy link,
one required confirmation checkbox, verified email collection). Domain restriction of
respondents cannot be set through the API; the core tells the admin to set it by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from connectors.google.scopes import SCOPES
from connectors.google.transport import GoogleClient
from integration.errors import SourceError, SourceRefused, Unreachable
from integration.protocols import Check
from integration.records import FormInfo, FormResponseRecord

API = "forms"
COLLECTING = ("VERIFIED", "RESPONDER_INPUT")
PAGE_SIZE = 5000


def parse_time(text: str) -> datetime:
    """RFC 3339 as Google writes it (up to nanoseconds, 'Z') -> aware UTC datetime."""
    text = re.sub(r"\.(\d{6})\d+", r".\1", text.strip())
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def rfc3339(t: datetime) -> str:
    """Whole seconds, rounded down, so a `>=` filter never skips the boundary response."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def form_info(form: dict[str, Any]) -> FormInfo:
    """Forms JSON -> FormInfo; the confirmation question is the first required choice question."""
    collection = (form.get("settings") or {}).get("emailCollectionType", "")
    qid, fallback = "", ""
    for item in form.get("items") or []:
        question = (item.get("questionItem") or {}).get("question") or {}
        if not question.get("required"):
            continue
        fallback = fallback or question.get("questionId", "")
        if (question.get("choiceQuestion") or {}).get("type") in ("CHECKBOX", "RADIO"):
            qid = question.get("questionId", "")
            break
    info = form.get("info") or {}
    return FormInfo(form_id=form.get("formId", ""), title=info.get("title", ""),
                    responder_uri=form.get("responderUri", ""), collects_email=collection in COLLECTING,
                    email_collection_type=collection, description=info.get("description", ""),
                    confirmation_question_id=qid or fallback)


def confirmed(response: dict[str, Any], question_id: str) -> bool:
    """True if the confirmation question was answered (a ticked box / chosen option)."""
    if not question_id:
        return True  # no such question: submitting is the acknowledgement
    answer = (response.get("answers") or {}).get(question_id) or {}
    values = [a.get("value", "") for a in (answer.get("textAnswers") or {}).get("answers") or []]
    return any(v.strip() for v in values)


def setup_requests(description: str, policy_url: str, question: str) -> list[dict[str, Any]]:
    """The one batchUpdate that turns a blank form into the acknowledgement form."""
    text = description + (f"\n\nRead the policy here: {policy_url}" if policy_url else "")
    return [
        {"updateFormInfo": {"info": {"description": text}, "updateMask": "description"}},
        {"createItem": {"location": {"index": 0}, "item": {
            "title": question,
            "questionItem": {"question": {"required": True, "choiceQuestion": {
                "type": "CHECKBOX", "options": [{"value": question}]}}}}}},
        {"updateSettings": {"settings": {"emailCollectionType": "VERIFIED"}, "updateMask": "emailCollectionType"}},
    ]


class FormsAcknowledgementSource:
    """AcknowledgementSource over the Forms API, as the form owner."""

    name = "forms"

    def __init__(self, client: GoogleClient, owner: str):
        self.client = client
        self.owner = owner
        self.scopes = SCOPES["forms"]
        self._infos: dict[str, FormInfo] = {}

    def _execute(self, request) -> dict:
        try:
            return self.client.execute(API, request, subject=self.owner, scopes=self.scopes)
        except SourceRefused as exc:
            if exc.status == 403 and not exc.reason:  # bare PERMISSION_DENIED: the owner cannot open the form
                raise SourceRefused(
                    f"Google Forms API: {self.owner} cannot open the acknowledgement form ({exc})", api=API,
                    status=403, reason="no_access",
                    fix=f"share the form with {self.owner} as an editor, or set [acknowledgement] form_owner to "
                        "the account that owns the form") from None
            raise

    def _forms(self):
        return self.client.service(API).forms()

    def create_form(self, title: str, description: str, policy_url: str, question: str) -> FormInfo:
        """forms.create then the setup batchUpdate. If the setup fails the error carries `form_id`,
        so the caller can store it and finish the setup later instead of creating a second form."""
        blank = self._execute(self._forms().create(body={"info": {"title": title, "documentTitle": title}}))
        form_id = blank["formId"]
        try:
            return self.configure_form(form_id, description, policy_url, question)
        except SourceError as exc:
            exc.form_id = form_id  # type: ignore[attr-defined]
            raise

    def configure_form(self, form_id: str, description: str, policy_url: str, question: str) -> FormInfo:
        body = {"requests": setup_requests(description, policy_url, question), "includeFormInResponse": True}
        reply = self._execute(self._forms().batchUpdate(formId=form_id, body=body))
        form = reply.get("form") or self._execute(self._forms().get(formId=form_id))
        info = form_info(form)
        self._infos[form_id] = info
        return info

    def get_form(self, form_id: str) -> FormInfo:
        info = form_info(self._execute(self._forms().get(formId=form_id)))
        self._infos[form_id] = info
        return info

    def responses(self, form_id: str, since: datetime | None) -> Iterator[FormResponseRecord]:
        """Responses submitted at or after `since` (the caller applies its overlap and dedupes)."""
        info = self._infos.get(form_id) or self.get_form(form_id)
        flt = f"timestamp >= {rfc3339(since)}" if since else None

        def page(token: str | None):
            kwargs: dict[str, Any] = {"formId": form_id, "pageSize": PAGE_SIZE}
            if flt:
                kwargs["filter"] = flt
            if token:
                kwargs["pageToken"] = token
            return self._forms().responses().list(**kwargs)

        for body in self.client.pages(API, page, subject=self.owner, scopes=self.scopes):
            for r in body.get("responses") or []:
                submitted = parse_time(r.get("lastSubmittedTime") or r["createTime"])
                yield FormResponseRecord(
                    response_id=r["responseId"], respondent_email=(r.get("respondentEmail") or "").strip().lower(),
                    submitted=submitted, created=parse_time(r["createTime"]) if r.get("createTime") else submitted,
                    confirmed=confirmed(r, info.confirmation_question_id))

    def check(self) -> list[Check]:
        """doctor: can the form owner get a Forms token with the scopes we need?"""
        try:
            self.client.check_token(self.owner, self.scopes)
        except Unreachable:
            raise  # nothing answers: not a delegation problem (the caller reports it once and skips)
        except SourceError as exc:
            return [Check("forms: delegation", False, str(exc), getattr(exc, "fix", ""))]
        return [Check("forms: delegation", True, f"{self.owner} can use {', '.join(self.scopes)}")]
