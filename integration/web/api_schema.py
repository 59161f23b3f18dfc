"""The OpenAPI 3.0 document of the JSON API (/api/openapi.json): every response described field by field.

Why tight schemas: a school's own scripts (a CPOMS bridge, a governors' spreadsheet) are written
against this document, and the tests validate every answer against it, so a field that changes
shape, or appears without being described, fails there first. Objects with fixed fields say so
(``additionalProperties: false``); the maps whose keys are data (a finding's evidence, a job's
summary) name the type of their values.
"""

from __future__ import annotations

from integration.store.models_audit import FINDING_STATUSES
from integration.web.inbox import MAX_PAGE_SIZE, PAGE_SIZE, SEVERITIES, SORTS

REF = "#/components/schemas/"


def ref(name: str) -> dict:
    return {"$ref": REF + name}


def obj(required: dict[str, dict], optional: dict[str, dict] | None = None) -> dict:
    """A closed object: these fields (``required`` always present), nothing else."""
    return {"type": "object", "required": sorted(required), "additionalProperties": False,
            "properties": {**required, **(optional or {})}}


def arr(items: dict) -> dict:
    return {"type": "array", "items": items}


NULL = {"type": "object", "nullable": True, "enum": [None]}  # JSON null (OpenAPI 3.0 has no null type)


def nullable(schema: dict) -> dict:
    """``schema`` or null; a $ref takes no siblings, so it becomes anyOf [it, null]."""
    return {"anyOf": [schema, NULL]} if "$ref" in schema else {**schema, "nullable": True}


STR, INT, NUM, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}
EMAIL = {"type": "string", "format": "email"}
SEVERITY = {"type": "string", "enum": list(SEVERITIES)}
STATUS = {"type": "string", "enum": list(FINDING_STATUSES)}
STATUS_FILTER = {"type": "string", "enum": ["open", *FINDING_STATUSES]}
ROLE = {"type": "string", "enum": ["staff", "pupil", "former_pupil", "guardian", "other"]}

_FINDING = {"id": INT, "rule": STR, "severity": SEVERITY, "status": STATUS, "staff": nullable(EMAIL),
            "pupil": nullable(EMAIL), "guardian": nullable(STR), "counterpart": nullable(STR),
            "confidence": {"type": "string", "enum": ["known", "suspected"]}, "source": STR,
            "evidence": ref("Evidence"), "first_seen": nullable(TIME), "last_seen": nullable(TIME),
            "occurrences": INT}
SCHOOL_ID = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"}
# where a finding belongs: its staff member's school, else its pupil's, else null; and all its schools
_PLACED = {"school": nullable(SCHOOL_ID), "schools": arr(SCHOOL_ID)}
_RULE_COUNT = {"rule": STR, "severity": SEVERITY, "open": INT, "total": INT, **{s: INT for s in FINDING_STATUSES}}
_TOTALS = {"expected": INT, "acknowledged": INT, "outstanding": INT, "overdue": INT, "percent": nullable(NUM)}

SCHEMAS: dict[str, dict] = {
    "Error": obj({"error": STR}),
    "Scalar": {"anyOf": [nullable(STR), nullable(NUM), nullable(BOOL)]},
    # a rule's metadata about the activity (ids, titles, times; never a body or file content)
    "EvidenceValue": {"anyOf": [ref("Scalar"), arr(ref("EvidenceValue")),
                                {"type": "object", "additionalProperties": ref("EvidenceValue")}]},
    "Evidence": {"type": "object", "additionalProperties": ref("EvidenceValue")},
    "Me": obj({"email": EMAIL, "roles": arr({"type": "string", "enum": ["admin", "dsl", "viewer"]}),
               "csrf_token": STR, "schools": arr(SCHOOL_ID), "all_schools": BOOL,
               "school_roles": {"type": "object", "description": "role -> its schools (null = every school)",
                                "additionalProperties": nullable(arr(SCHOOL_ID))}}),
    "RuleCount": obj(_RULE_COUNT),
    "AckProgress": obj({"school": SCHOOL_ID, "policy_version": STR, "form_id": STR, "expected": INT,
                        "acknowledged": INT, "outstanding": INT, "overdue": INT, "percent": NUM}),
    "Summary": obj({"findings_by_rule": arr(ref("RuleCount")), "acknowledgement": nullable(ref("AckProgress")),
                    "acknowledgement_by_school": arr(ref("AckProgress"))}),
    "Run": obj({"job": STR, "status": STR, "started_at": nullable(TIME), "finished_at": nullable(TIME),
                "summary": {"type": "object", "additionalProperties": ref("EvidenceValue")}, "error": STR}),
    "Status": obj({"ready": BOOL, "reason": STR, "runs": arr(ref("Run")),
                   "outbox": obj({"pending": INT, "sent": INT, "failed": INT, "cancelled": INT,
                                  "oldest_pending_due": nullable(TIME)}),
                   "push": arr(obj({"source": STR, "mode": STR, "detail": STR})),
                   "config": arr(obj({"name": STR, "ok": BOOL, "fix": STR}))}),
    "Finding": obj({**_FINDING, **_PLACED}),
    "FindingListed": obj({**_FINDING, "guardian": {"type": "string", "nullable": True, "enum": [None]},
                          "counterpart": {"type": "string", "nullable": True, "enum": [None]},
                          "staff_name": STR, "pupil_name": STR, **_PLACED}),
    "FindingPage": obj({"findings": arr(ref("FindingListed")), "total": INT, "page": INT, "pages": INT,
                        "per_page": INT}),
    "HistoryEntry": obj({"action": STR, "actor": STR, "at": nullable(TIME), "from": STR, "to": STR, "note": STR}),
    "FindingDetail": obj({**_FINDING, **_PLACED, "policy": arr(STR), "history": arr(ref("HistoryEntry"))}),
    "Transition": obj({"to": {"type": "string", "enum": ["reviewing", "resolved", "false_positive"]},
                       "note": {"type": "string", "minLength": 1, "maxLength": 2000}}),
    "Person": obj({
        "email": EMAIL, "name": STR, "role": {"type": "string", "enum": ["", *ROLE["enum"]]}, "org_unit": STR,
        "school": nullable(SCHOOL_ID),
        "role_sources": arr(STR), "conflicts": arr(STR),
        "courses": arr(obj({"platform": STR, "name": STR, "as": STR})),
        "acknowledgement": obj({"state": {"type": "string", "enum": ["acknowledged", "outstanding", "overdue",
                                                                     "not_expected", "no_round"]},
                                "policy_version": STR, "at": nullable(TIME), "due": nullable(TIME)}),
        "findings": arr(obj({"id": INT, "rule": STR, "severity": SEVERITY, "status": STATUS,
                             "staff": nullable(EMAIL), "pupil": nullable(EMAIL), "last_seen": nullable(TIME),
                             **_PLACED}))}),
    "AckTotals": obj(_TOTALS),
    "AckNoRound": obj({"school": SCHOOL_ID, "school_name": STR, "round": NULL}),
    "AckReport": obj({
        "school": SCHOOL_ID, "school_name": STR, "policy_version": STR, "form_id": STR, "responder_uri": STR, "generated_at": TIME,
        "opened_at": nullable(TIME), "deadline_days": INT, "totals": ref("AckTotals"),
        "groups": arr(obj({"org_unit": STR, "role": STR, "expected": INT, "acknowledged": INT,
                           "percent": nullable(NUM),
                           "outstanding": arr(obj({"name": STR, "email": EMAIL, "asked": nullable(TIME),
                                                   "due": nullable(TIME), "days_overdue": INT,
                                                   "new_starter": BOOL}))})),
        "responses": obj({"counts": {"type": "object", "additionalProperties": INT},
                          "not_counted": arr(obj({"response_id": STR, "email": STR, "submitted": nullable(TIME),
                                                  "status": STR, "resubmissions": INT}))}),
        "no_longer_expected": arr(EMAIL),
        "form": obj({"collects_email": BOOL, "email_collection_type": STR, "setup_state": STR,
                     "problems": arr(obj({"problem": STR, "fix": STR, "blocking": BOOL})),
                     "manual_steps": arr(STR)}),
        "history": arr(obj({"policy_version": STR, "form_id": STR, "opened_at": nullable(TIME),
                            "closed_at": nullable(TIME)}, {"acknowledged": INT, "outstanding": INT}))}),
    "Reports": obj({
        "weeks": arr(TIME),
        "by_severity": obj({s: arr(INT) for s in SEVERITIES}),
        "by_rule": arr(obj({"rule": STR, "title": STR, "weekly": arr(INT), "total": INT})),
        "triage": arr(obj({"severity": SEVERITY, "findings": INT, "triaged": INT, "closed": INT,
                           "untriaged": INT, "median_to_first": nullable(NUM), "median_to_close": nullable(NUM)})),
        "acknowledgement": nullable(obj({
            "policy_version": STR, "totals": ref("AckTotals"),
            "by_org_unit": arr(obj({"org_unit": STR, "percent": nullable(NUM), "acknowledged": INT,
                                    "expected": INT}))})),
        "schools": arr(SCHOOL_ID),
        "by_school": arr(obj({"school": nullable(SCHOOL_ID), "name": STR, "open": obj({s: INT for s in SEVERITIES}),
                              "total": INT, "new": INT, "acknowledgement": nullable(ref("AckProgress"))}))}),
    "RosterEntry": obj({"email": EMAIL, "name": STR, "role": ROLE, "status": STR, "org_unit": STR,
                        "school": nullable(SCHOOL_ID),
                        "role_sources": arr(STR), "conflicts": arr(STR), "courses": INT}),
    "AccessEntry": obj({"at": TIME, "actor": STR, "action": STR, "finding_id": nullable(INT),
                        "person": nullable(EMAIL), "from": STR, "to": STR}),
    "OpenApi": {"type": "object", "required": ["openapi", "info", "paths", "components"],
                "properties": {"openapi": STR, "info": obj({"title": STR, "version": STR, "description": STR}),
                               "paths": {"type": "object", "additionalProperties": ref("EvidenceValue")},
                               "components": {"type": "object", "additionalProperties": ref("EvidenceValue")}}},
}


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


ERROR = {"$ref": "#/components/responses/Error"}


def _op(summary: str, role: str, schema: dict, *, params: list | None = None, errors=("401", "403"),
        school: bool = True) -> dict:
    """An operation; ``school``: it takes the picker's parameter (and answers 404 for a school not yours)."""
    if school:
        params = [*(params or []), SCHOOL_PARAM]
        errors = tuple(sorted({*errors, "404"}))
    op = {"summary": f"{summary} (role: {role})", "security": [{"session": []}],
          "responses": {"200": {"description": "OK", "content": _json(schema)}, **{e: ERROR for e in errors}}}
    if params:
        op["parameters"] = params
    return op


def _q(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema or STR}


FINDINGS_PARAMS = [
    _q("status", "open (new + reviewing) or one status", STATUS_FILTER), _q("rule", "a rule id"),
    _q("severity", "high, medium or low", SEVERITY), _q("staff", "a staff address, or part of one"),
    _q("pupil", "a pupil address, or part of one"),
    _q("from", "findings with activity on or after this date (school timezone)", {"type": "string", "format": "date"}),
    _q("to", "findings with activity on or before this date", {"type": "string", "format": "date"}),
    _q("q", "free text: rule, addresses, staff and pupil names, evidence, a finding id"),
    _q("sort", "a column, - in front for descending; default severity then newest",
       {"type": "string", "enum": [p + s for s in SORTS for p in ("", "-")]}),
    _q("page", "page number, from 1", {"type": "integer", "minimum": 1, "default": 1}),
    _q("per_page", "findings per page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                                         "default": PAGE_SIZE}),
]
SCHOOL_PARAM = _q("school", "one of the schools you may see (the picker); omitted: all of them. A school you "
                  "may not see, or an unknown id, is a 404", SCHOOL_ID)
PATH_ID = [{"name": "finding_id", "in": "path", "required": True, "schema": INT}]
PATH_EMAIL = [{"name": "email", "in": "path", "required": True, "schema": STR}]


def openapi_document() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "SafeChannels web API", "version": "2",
                 "description": "The same data as the pages, with the same sign-in (the session cookie) and roles. "
                                "POST requests need the session's CSRF token (from GET /api/me) in X-CSRF-Token. "
                                "Lists never return guardian or counterpart addresses."},
        "components": {
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "safechannels_session"}},
            "schemas": SCHEMAS,
            "responses": {"Error": {"description": "Not signed in, not allowed, not found or bad input",
                                    "content": _json(ref("Error"))}}},
        "paths": {
            "/api/me": {"get": _op("Who is signed in, their roles (each with its schools) and the CSRF token", "any",
                                   ref("Me"), school=False)},
            "/api/summary": {"get": _op("Findings by rule and acknowledgement progress", "viewer", ref("Summary"))},
            "/api/status": {"get": _op("Readiness, last job runs, outbox, push channels, configuration checks",
                                       "admin", ref("Status"))},
            "/api/findings": {"get": _op("The findings inbox: the same filters, order and pages as /findings, names "
                                         "from the roster (no guardian or counterpart addresses)", "dsl",
                                         ref("FindingPage"), params=FINDINGS_PARAMS, errors=("400", "401", "403"))},
            "/api/findings/{finding_id}": {"get": _op("One finding with its history (the view is logged)", "dsl",
                                                      ref("FindingDetail"), params=PATH_ID,
                                                      errors=("401", "403", "404"))},
            "/api/findings/{finding_id}/transition": {"post": {
                **_op("Triage: move a finding, with a required note", "dsl", ref("Finding"), params=PATH_ID,
                      errors=("400", "401", "403", "404", "409")),
                "requestBody": {"required": True, "content": _json(ref("Transition"))}}},
            "/api/people/{email}": {"get": _op("A person: role and its sources, classes, acknowledgement, findings "
                                               "(the view is logged)", "dsl", ref("Person"), params=PATH_EMAIL,
                                               errors=("401", "403", "404"))},
            "/api/acks": {"get": _op("Acknowledgement of the current policy by org unit and role: one school's report "
                                     "(null before its first round), or, when you see several schools and pick "
                                     "none, one entry per school", "dsl",
                                     {"anyOf": [ref("AckReport"), NULL,
                                                arr({"anyOf": [ref("AckReport"), ref("AckNoRound")]})]})},
            "/api/reports": {"get": _op("Counts for governors: by week and rule, triage times, acknowledgement",
                                        "viewer", ref("Reports"))},
            "/api/admin/roster": {"get": _op("Everyone with role, school, its sources and conflicts (admins see "
                                             "every school)", "admin", arr(ref("RosterEntry")), school=False)},
            "/api/admin/access-log": {"get": _op("Views, downloads and triage of findings and views of people's "
                                                 "pages, newest first (1,000 at most)", "admin",
                                                 arr(ref("AccessEntry")), school=False)},
            "/api/openapi.json": {"get": _op("This document", "any", ref("OpenApi"), school=False)},
        },
    }
