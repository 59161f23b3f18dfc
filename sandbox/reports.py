"""Admin SDK Reports API: activities.list for drive, gmail, chat, meet, token and user_accounts.

Served newest first, day by day, so a 30-day window over ``school`` (≈500,000 gmail
events) is derived one day at a time; the page token carries (day, offset) bound to the
query. Gmail follows Google's rules: both startTime and endTime are required and at most
30 days apart (400 otherwise). An edition without Reports gmail events
(``set_reports_gmail(domain, False)``) answers an empty list, as Google does for an
application with no events — so a connector cannot tell "no mail" from "not available"
by the status and must probe. About one gmail event in ten uses the flattened
dotted-name parameter shape some tenants return (``message_info.flattened_destinations``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox import reports_accounts
from sandbox.activity import Activity, Chat, DriveEvent, Mail, MeetLeg, activity, h, stamp, utc
from sandbox.api import ApiRequest, Registry
from sandbox.errors import ApiError, bad_request
from sandbox.model import Domain
from sandbox.paging import query_hash

APPS = ("drive", "gmail", "chat", "meet", *reports_accounts.APPS)
G = "application/vnd.google-apps."
DOC_TYPES = {G + "document": "document", G + "spreadsheet": "spreadsheet", G + "presentation": "presentation",
             G + "folder": "folder", G + "form": "form", G + "drawing": "drawing", G + "shortcut": "shortcut",
             "application/pdf": "pdf", "image/jpeg": "jpeg", "image/png": "png", "video/mp4": "mp4",
             "video/mpeg": "mpeg", "video/quicktime": "quicktime", "application/msword": "msword",
             "text/plain": "txt"}  # the appendix's doc_type values; anything else is logged as "unknown"
ROLE_WORDS = {"writer": "can_edit", "commenter": "can_comment", "reader": "can_view", "organizer": "can_manage"}
_FILTER = re.compile(r"^([\w.]+)(==|<>|<=|>=|<|>)(.*)$")  # activities.list `filters`: the documented operators


def register(api: Registry, domain: Domain) -> None:
    activity(domain)  # plant now: the planted OAuth grants must be in place before tokens.list is asked

    @api.method("reports.activities.list")
    def activities_list(req: ApiRequest) -> dict[str, Any]:
        act = activity(req.domain)
        app = req.params["applicationName"]
        size = _max_results(req)
        start, end = _window(req, app, act)
        body: dict[str, Any] = {"kind": "admin#reports#activities", "etag": f'"{h(req.path, start, end)[:27]}"'}
        gmail_logs = getattr(req.domain, "reports_gmail", act.reports_gmail)  # domain.reports_gmail = False works too
        if app not in APPS or (app == "gmail" and not gmail_logs):
            return body
        actor = _actor_filter(req)
        filters = _filters(req)
        qhash = query_hash(req.query)
        day, offset = _decode(req.arg("pageToken"), qhash) if req.arg("pageToken") else (act.day_of(end), 0)
        first = max(0, act.day_of(start))
        items: list[dict[str, Any]] = []
        while day >= first and len(items) < size:
            rows = _day_rows(act, app, day)
            while offset < len(rows) and len(items) < size:
                row = rows[offset]
                offset += 1
                when = row.time
                if not (start <= when < end) or (actor and _actor_of(row) != actor):
                    continue
                if isinstance(row, Mail) and row.lag_s and not act.logged(row):
                    continue  # not in the log yet (Reports lag): a later call sees it
                item = _render(act, app, row)
                if _matches(item, req.arg("eventName"), filters):
                    items.append(item)
            if offset >= len(rows):
                day, offset = day - 1, 0
        if items:
            body["items"] = items
        if day >= first and items:
            body["nextPageToken"] = _encode(day, offset, qhash)
        return body


# ---------------------------------------------------------------------------- request parsing


def _max_results(req: ApiRequest) -> int:
    raw = req.arg("maxResults") or "1000"
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise bad_request(f"Invalid value '{raw}'. Values must be within the range: [1, 1000]")
    return min(int(raw), req.page_cap or 1000)


def _window(req: ApiRequest, app: str, act: Activity) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    start_raw, end_raw = req.arg("startTime"), req.arg("endTime")
    if app == "gmail" and not (start_raw and end_raw):
        raise bad_request("Start time and end time are both required for the gmail application.")
    try:
        start = utc(start_raw) if start_raw else now - timedelta(days=180)
        end = utc(end_raw) if end_raw else now
    except ValueError:
        raise bad_request("Invalid value for startTime/endTime: expected RFC 3339.") from None
    if end < start:
        raise bad_request("Start time must be earlier than end time.")
    if app == "gmail" and end - start > timedelta(days=30):
        raise bad_request("The time range between start time and end time must be at most 30 days for gmail.")
    start = max(start, now - timedelta(days=180))
    return start, min(end, now, act.horizon)


def _actor_filter(req: ApiRequest) -> str:
    key = req.params["userKey"]
    if key == "all":
        return ""
    user = req.domain.find_user(key, include_deleted=True)
    if user is None:
        raise ApiError(400, "Bad Request. userKey: invalid user", "badRequest")
    return user.primary_email


def _filters(req: ApiRequest) -> list[tuple[str, str, str]]:
    """`filters` as (parameter, operator, value). Google: a comma-separated list, every condition must hold;
    a parameter given twice keeps its last condition (activities.list: "the API doesn't accept multiple
    values of the same parameter")."""
    raw = req.arg("filters") or ""
    out: dict[str, tuple[str, str, str]] = {}
    for part in filter(None, raw.split(",")):
        m = _FILTER.match(part.strip())
        if not m:
            raise bad_request(f"Invalid filters: {part}")
        out[m.group(1)] = (m.group(1), m.group(2), m.group(3))
    return list(out.values())


def _encode(day: int, offset: int, qhash: str) -> str:
    raw = json.dumps({"d": day, "o": offset, "h": qhash}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str | None, qhash: str) -> tuple[int, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode((token or "") + "=" * (-len(token or "") % 4)))
        if data["h"] != qhash:
            raise ValueError
        return int(data["d"]), int(data["o"])
    except (ValueError, KeyError, TypeError):
        raise ApiError(400, "Invalid page token.", "invalid", location="pageToken") from None


# ---------------------------------------------------------------------------- rows


def _day_rows(act: Activity, app: str, day: int) -> list:
    if app in reports_accounts.APPS:
        return reports_accounts.day_rows(act, app, day)
    return {"gmail": act.mail_day, "drive": act.drive_day, "chat": act.chat_day, "meet": act.meet_day}[app](day)


def _actor_of(row: Mail | DriveEvent | Chat | MeetLeg) -> str:
    if isinstance(row, Mail):
        return row.mailbox
    if isinstance(row, MeetLeg):
        return row.identifier
    return row.actor


def _params(item: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for ev in item["events"]:
        for p in ev.get("parameters", []):
            yield p["name"], p
            for sub in (p.get("messageValue") or {}).get("parameter", []):
                yield f"{p['name']}.{sub['name']}", sub


def _holds(value: str, op: str, want: str) -> bool:
    """One condition on one value: numbers compare as numbers (intValue parameters), the rest as text."""
    try:
        a, b = float(value), float(want)
    except ValueError:
        a, b = value, want  # type: ignore[assignment]
    return {"==": a == b, "<>": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _matches(item: dict[str, Any], event_name: str | None, filters: list[tuple[str, str, str]]) -> bool:
    """eventName and filters as activities.list documents them: an activity is returned when it holds the
    named event and every condition holds for some value of its parameter; a parameter the activity does
    not carry matches nothing ("an empty report is returned if the request's parameter doesn't belong to
    the eventName")."""
    if event_name and not any(ev["name"] == event_name for ev in item["events"]):
        return False
    if not filters:
        return True
    values: dict[str, list[str]] = {}
    for name, p in _params(item):
        vals = p.get("multiValue") or p.get("multiIntValue") or [
            p.get("value", p.get("intValue", p.get("boolValue", "")))]
        values.setdefault(name, []).extend(str(v).lower() if isinstance(v, bool) else str(v) for v in vals)
    for name, op, want in filters:
        have = values.get(name)
        if not have:
            return False
        if op == "<>":
            if any(_holds(v, "==", want) for v in have):
                return False
        elif not any(_holds(v, op, want) for v in have):
            return False
    return True


def _base(act: Activity, app: str, when: datetime, key: str, actor: str) -> dict[str, Any]:
    user = act.users.get(actor)
    who: dict[str, Any] = {"callerType": "USER", "email": actor, "profileId": user.id if user else h(actor)[:21]}
    return {"kind": "admin#reports#activity",
            "id": {"time": stamp(when), "uniqueQualifier": str(int(h(app, key)[:15], 16) - 2**59),
                   "applicationName": app, "customerId": act.dom.customer_id},
            "etag": f'"{h("etag", key)[:27]}"', "actor": who, "ipAddress": "10.0.0.1",
            "ownerDomain": _owner_domain(act, actor)}


def _owner_domain(act: Activity, actor: str) -> str:
    """The domain the event affects: the actor's own domain when it is one of the customer's (a
    multi-domain trust), else the primary domain."""
    own = actor.rpartition("@")[2].lower()
    return own if own in act.dom.secondary_domains else act.dom.domain


def _render(act: Activity, app: str, row: Any) -> dict[str, Any]:
    if app in reports_accounts.APPS:
        return reports_accounts.render(act, app, row, _base)
    return {"gmail": _gmail, "drive": _drive, "chat": _chat, "meet": _meet}[app](act, row)


def _gmail(act: Activity, m: Mail) -> dict[str, Any]:
    """One mailbox's sighting as the Reports gmail log has it (see tests/fixtures/reports/gmail.py): the
    sender's event (type 1) names every destination; a receipt (type 2) names only the mailbox that
    logged it, and about one in eight receipts from a school sender has an empty source."""
    opened = m.direction == "opened"  # the recipient's first open: type 7, shaped like its receipt
    item = _base(act, "gmail", m.time, f"{m.mailbox}:{m.id}" + (":opened" if opened else ""), m.mailbox)
    kind = {"sent": "1", "received": "2", "opened": "7"}[m.direction]
    rcpts = [*m.to, *m.cc] if kind == "1" else [m.mailbox]
    names = dict(m.names)
    usec = str(int(m.time.timestamp() * 1_000_000))
    roll = int(h("shape", m.mailbox, m.id)[:2], 16)
    source = m.sender
    if kind != "1" and act.dom.is_internal(m.sender) and roll % 8 == 1:
        source = ""  # the sender's own event names it
    if roll < 26:  # about one in ten: the flattened shape
        params = [{"name": "event_info.mail_event_type", "intValue": kind},
                  {"name": "event_info.timestamp_usec", "intValue": usec},
                  {"name": "message_info.rfc2822_message_id", "value": m.message_id},
                  {"name": "message_info.subject", "value": m.subject},
                  {"name": "message_info.flattened_destinations",
                   "value": ",".join(f"gmail-ui::{r}" for r in rcpts)}]
        if kind != "1" and source:  # sent events carry no source: the actor is the sender
            params.append({"name": "message_info.source.address", "value": source})
            if names.get(source):
                params.append({"name": "message_info.source.from_header_displayname", "value": names[source]})
    else:
        # nested parameters may not nest again (discovery's NestedParameter has no messageValue): the
        # source and destinations are dotted names inside message_info, as Google's filters name them
        info = [{"name": "rfc2822_message_id", "value": m.message_id}, {"name": "subject", "value": m.subject},
                *([{"name": "source.address", "value": source}] if source else []),
                {"name": "destination.address", "multiValue": rcpts},
                {"name": "flattened_destinations", "value": ",".join(f"gmail-ui::{r}" for r in rcpts)},
                {"name": "num_message_attachments", "intValue": "0"}]
        if source and names.get(source):
            info.append({"name": "source.from_header_displayname", "value": names[source]})
        params = [{"name": "event_info", "messageValue": {"parameter": [
                      {"name": "mail_event_type", "intValue": kind}, {"name": "timestamp_usec", "intValue": usec}]}},
                  {"name": "message_info", "messageValue": {"parameter": info}}]
    item["events"] = [{"type": "delivery_type", "name": "delivery", "parameters": params}]
    return item


def _drive(act: Activity, e: DriveEvent) -> dict[str, Any]:
    """One grant as the Drive audit appendix and public fixtures show it (see
    tests/fixtures/reports/drive.py): new_value a multiValue (two words for some commenters), link
    and domain sharing as a change_document_visibility + change_document_access_scope pair, an
    inherited grant as *_hierarchy_reconciled, a shared-drive item with owner_is_shared_drive and
    shared_drive_id but no owner, doc_type from the appendix's list ("unknown" for the rest)."""
    f, p = e.file, e.perm
    item = _base(act, "drive", e.time, f"{f.id}:{p.id}", e.actor)
    external = p.type == "anyone" or bool(p.email and not act.dom.is_internal(p.email)) or bool(
        p.type == "domain" and p.domain not in act.dom.domains)
    common: list[dict[str, Any]] = [
        {"name": "primary_event", "boolValue": not e.inherited}, {"name": "billable", "boolValue": True},
        {"name": "doc_id", "value": f.id}, {"name": "doc_type", "value": DOC_TYPES.get(f.mime, "unknown")},
        {"name": "doc_title", "value": f.name}, {"name": "owner_is_shared_drive", "boolValue": bool(f.drive_id)},
        {"name": "visibility_change", "value": "external" if external else "internal"},
        {"name": "old_visibility", "value": "private"},
    ]
    common.append({"name": "shared_drive_id", "value": f.drive_id} if f.drive_id else {"name": "owner", "value": f.owner})
    words = [ROLE_WORDS.get(p.role, "can_view")]
    if p.role == "commenter" and int(h("words", f.id, p.id)[:2], 16) < 128:
        words = ["can_view", "can_comment"]
    grant = [{"name": "old_value", "multiValue": ["none"]}, {"name": "new_value", "multiValue": words}]
    suffix = "_hierarchy_reconciled" if e.inherited else ""
    if p.type in ("user", "group"):
        vis = "shared_externally" if external else "shared_internally"
        item["events"] = [{"type": "acl_change", "name": "change_user_access" + suffix, "parameters": [
            *common, *grant, {"name": "target_user", "value": p.email}, {"name": "visibility", "value": vis}]}]
        return item
    target = "all" if p.type == "anyone" else p.domain
    vis = ("public_on_the_web" if p.discover else "people_with_link") if p.type == "anyone" else (
        "public_in_the_domain" if p.discover else "people_within_domain_with_link")
    scope = [{"name": "target_domain", "value": target}, {"name": "visibility", "value": vis}]
    item["events"] = [
        {"type": "acl_change", "name": "change_document_visibility" + suffix, "parameters": [
            *common, *scope, {"name": "old_value", "multiValue": ["private"]}, {"name": "new_value", "multiValue": [vis]}]},
        {"type": "acl_change", "name": "change_document_access_scope" + suffix,
         "parameters": [*common, *grant, *scope]}]
    return item


def _chat(act: Activity, c: Chat) -> dict[str, Any]:
    """message_posted as in the Chat audit appendix and Elastic's test-chat.log: the poster and the room,
    never a member list (target_users is not a message_posted parameter)."""
    item = _base(act, "chat", c.time, c.message_id + c.actor, c.actor)
    room = c.room_id.split("/", 1)[1]
    variant = int(h("chatshape", c.message_id)[:2], 16)
    params: list[dict[str, Any]] = [
        {"name": "message_id", "value": c.message_id}, {"name": "actor", "value": c.actor},
        {"name": "actor_type", "value": "NON_ADMIN"}, {"name": "conversation_type", "value": c.conversation_type},
        {"name": "conversation_ownership", "value": "INTERNALLY_OWNED"},
        {"name": "retention_state", "value": "PERMANENT"}, {"name": "dlp_scan_status", "value": "DLP_NOT_APPLICABLE"},
        {"name": "message_type", "value": "REGULAR_MESSAGE"}, {"name": "attachment_status", "value": "NO_ATTACHMENT"}]
    if variant >= 24:  # about one in ten without room_id: the room is then only in message_id
        params.insert(0, {"name": "room_id", "value": room})
    if c.conversation_type == "SPACE":
        params += [{"name": "room_name", "value": f"Room {room[:4]}"}, {"name": "external_room", "value": "DISABLED"}]
    item["events"] = [{"type": "user_action", "name": "message_posted", "parameters": params}]
    return item


def _meet(act: Activity, leg: MeetLeg) -> dict[str, Any]:
    """call_ended as in the Meet audit appendix and Elastic's test-meet.log: an outsider's actor is the
    HANGOUTS_EXTERNAL_OR_ANONYMOUS key (with their email or phone number as identifier, when known)."""
    item = _base(act, "meet", leg.time, f"{leg.conference_id}:{leg.endpoint or leg.identifier or leg.time}",
                 leg.identifier)
    params: list[dict[str, Any]] = [
        {"name": "meeting_code", "value": leg.meeting_code}, {"name": "conference_id", "value": leg.conference_id},
        {"name": "organizer_email", "value": leg.organizer}, {"name": "is_external", "boolValue": leg.external},
        {"name": "endpoint_id", "value": leg.endpoint or "boq_hlane_" + h(leg.conference_id, leg.identifier)[:11]},
        {"name": "device_type", "value": "web"}, {"name": "product_type", "value": "meet"},
        {"name": "display_name", "value": leg.display_name}]
    if leg.identifier:
        params += [{"name": "identifier", "value": leg.identifier},
                   {"name": "identifier_type", "value": leg.identifier_type}]
    params += [{"name": "start_timestamp_seconds", "intValue": str(leg.start or int(leg.time.timestamp()) - leg.duration)},
               {"name": "duration_seconds", "intValue": str(leg.duration)},
               {"name": "network_transport_protocol", "value": "udp"}]
    if leg.external:
        item["actor"] = {"callerType": "KEY", "key": "HANGOUTS_EXTERNAL_OR_ANONYMOUS"}
    item["events"] = [{"type": "call", "name": "call_ended", "parameters": params}]
    return item


def event_count(domain: Domain, app: str, start: datetime, end: datetime, event_name: str = "",
                filters: str = "") -> int:
    """How many activities activities.list returns for this query (benchmarks compute the fewest pages
    from it): the same rows, window and matching as the endpoint, without paging."""
    act = activity(domain)
    if app not in APPS or (app == "gmail" and not getattr(domain, "reports_gmail", act.reports_gmail)):
        return 0
    conds = []
    for part in filter(None, filters.split(",")):
        m = _FILTER.match(part.strip())
        if m:
            conds.append((m.group(1), m.group(2), m.group(3)))
    start, end = max(start, datetime.now(UTC) - timedelta(days=180)), min(end, datetime.now(UTC), act.horizon)
    return sum(1 for day in range(max(0, act.day_of(start)), act.day_of(end) + 1) for row in _day_rows(act, app, day)
               if start <= row.time < end and _matches(_render(act, app, row), event_name, conds))
