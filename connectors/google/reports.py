"""Admin SDK Reports API: time-window reads of drive, gmail, chat and meet events, and their parsers
(Drive acl_change events are parsed in `connectors.google.drive_events`).

Windows are read whole, split into parts only where a page chain would be long
(`connectors.google.report_windows`); parts come back oldest first, so a cursor can be stored after
each: an interrupted run resumes at the last finished part. Gmail windows must be ≤ 30 days.

Parsers take one Activity (Google's JSON) and return records or None; an event missing the
fields a record needs is skipped with one log line, never fatal. Gmail parameters arrive
nested (``message_info.messageValue.parameter[]``) or flattened with dotted names
(``message_info.flattened_destinations``); `flat_params` reads both the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from connectors.google.scopes import SCOPES
from connectors.google.transport import GoogleClient
from integration.logs import event
from integration.records import ChatEvent, MailEvent, MeetCall

log = logging.getLogger("safechannels.google.reports")

PAGE = 1000
FILTERED = "reports_filtered"  # the pacer's key for activities.list queries Google counts as filtered


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class ReportsReader:
    """activities.list for every user, paged, as the delegated admin."""

    def __init__(self, client: GoogleClient, admin: str):
        self.client, self.admin = client, admin
        self.scopes = SCOPES["reports"]

    def pages(self, app: str, start: datetime, end: datetime, *, event_name: str = "", filters: str = "",
              after: str = "", max_results: int = PAGE) -> Iterator[list[dict[str, Any]]]:
        """Every page of activities in [start, end), newest first as Google returns them; with `after`,
        the pages that follow the page whose next token it is."""
        activities = self.client.resource("reports", "activities")

        def make(token: str | None):
            return activities.list(**self._query(app, start, end, event_name, filters, max_results, token or after))

        for page in self.client.pages("reports", make, subject=self.admin, scopes=self.scopes):
            yield page.get("items", []) or []

    def _query(self, app: str, start: datetime, end: datetime, event_name: str, filters: str,
               max_results: int, token: str | None) -> dict[str, Any]:
        """activities.list's arguments; a filtered query (eventName or filters) waits for its own,
        smaller per-minute quota first."""
        kw: dict[str, Any] = {"userKey": "all", "applicationName": app, "startTime": rfc3339(start),
                              "endTime": rfc3339(end), "maxResults": max_results}
        if event_name:
            kw["eventName"] = event_name
        if filters:
            kw["filters"] = filters
        if token:
            kw["pageToken"] = token
        if event_name or filters:
            self.client.pacer.acquire(FILTERED, self.admin)
        return kw

    def first_page(self, app: str, start: datetime, end: datetime, *, event_name: str = "",
                   filters: str = "") -> tuple[list[dict[str, Any]], str]:
        """One page of [start, end) and its next page token ("" when it is the last)."""
        kw = self._query(app, start, end, event_name, filters, PAGE, "")
        page = self.client.execute("reports", self.client.resource("reports", "activities").list(**kw),
                                   subject=self.admin, scopes=self.scopes)
        return page.get("items", []) or [], str(page.get("nextPageToken") or "")

    def probe(self, app: str, start: datetime, end: datetime) -> bool:
        """True when `app` has any event in the window (one call, one item)."""
        for items in self.pages(app, start, end, max_results=1):
            return bool(items)
        return False


# ---------------------------------------------------------------------------- parameters


def _value(p: dict[str, Any]) -> Any:
    for key in ("value", "intValue", "boolValue", "multiValue", "multiIntValue", "multiBoolValue"):
        if key in p:
            return p[key]
    if "multiMessageValue" in p:
        return [flat_params(m.get("parameter", [])) for m in p["multiMessageValue"]]
    return None


def flat_params(params: list[dict[str, Any]], prefix: str = "") -> dict[str, Any]:
    """Parameters as {dotted name: value}, nested messageValue parameters flattened into dotted names."""
    out: dict[str, Any] = {}
    for p in params or []:
        name = prefix + str(p.get("name", ""))
        if "messageValue" in p:
            out.update(flat_params((p["messageValue"] or {}).get("parameter", []), name + "."))
        else:
            out[name] = _value(p)
    return out


def event_id(activity: dict[str, Any], index: int) -> str:
    """The de-duplication key: id.time + uniqueQualifier + applicationName + event index."""
    ident = activity.get("id") or {}
    return f"{ident.get('time', '')}|{ident.get('uniqueQualifier', '')}|{ident.get('applicationName', '')}|{index}"


def _skip(kind: str, activity: dict[str, Any], why: str) -> None:
    event(log, "reports.event_skipped", logging.WARNING, kind=kind, why=why,
          id=(activity.get("id") or {}).get("uniqueQualifier", ""))


def _event_list(activity: dict[str, Any]) -> list[dict[str, Any]]:
    """`events` is a list on the wire; exports that split activities per event (Elastic's
    google_workspace fixtures) carry one event object instead. Both read the same."""
    events = activity.get("events") or []
    return [events] if isinstance(events, dict) else [e for e in events if isinstance(e, dict)]


def _events(activity: dict[str, Any], name: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for i, ev in enumerate(_event_list(activity)):
        if ev.get("name") == name:
            yield i, flat_params(ev.get("parameters") or [])


def _time(activity: dict[str, Any]) -> datetime | None:
    try:
        return parse_time((activity.get("id") or {})["time"])
    except (KeyError, TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------- gmail
# Shapes read (each seen in a public source, see tests/fixtures/reports/gmail.py):
#  - nested ``message_info.messageValue.parameter[]`` with ``source`` / ``destination`` as messageValue or
#    multiMessageValue, or present by name only (``{"name": "source"}``: empty) — Elastic
#    google_workspace gmail_reports test-gmail-reports.log;
#  - flattened dotted names (``message_info.flattened_destinations``) with no source on a receipt —
#    the third-party report in shared google-apis.md §2.2;
#  - ``flattened_destinations`` as ``service:selector:address`` joined by commas — Elastic gmail (BigQuery).
# A receipt (type 2) is logged by each recipient's mailbox and names that mailbox only; the sender's
# event (type 1) names every destination. A receipt with no source is kept: the sender is then unknown.


def _addresses(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip().lower() for v in value if v and not isinstance(v, dict)]
    return [str(value).strip().lower()] if value else []


def _destinations(params: dict[str, Any]) -> list[str]:
    """Every destination in every shape the event carries (nested, repeated and flattened), in order."""
    found = _addresses(params.get("message_info.destination.address"))
    dests = params.get("message_info.destination")
    if isinstance(dests, list):
        found += [str(d.get("address", "")).strip().lower() for d in dests if isinstance(d, dict) and d.get("address")]
    flat = params.get("message_info.flattened_destinations")
    if isinstance(flat, str):
        found += [part.rsplit(":", 1)[-1].strip().lower() for part in flat.split(",") if "@" in part]
    return list(dict.fromkeys(a for a in found if "@" in a))


def _message_id(activity: dict[str, Any], params: dict[str, Any]) -> str:
    """The RFC 2822 Message-ID: message_info's, else the EMAIL resource the activity names."""
    mid = params.get("message_info.rfc2822_message_id")
    if mid:
        return str(mid).strip()
    for res in activity.get("resourceDetails") or []:
        if isinstance(res, dict) and res.get("type") == "EMAIL" and res.get("id"):
            return str(res["id"]).strip()
    return ""


def mail_events(activity: dict[str, Any]) -> Iterator[MailEvent]:
    """Sent (type 1) and received (type 2) deliveries; other gmail event types are not messages.

    A receipt without destinations was delivered to the mailbox that logged it (the actor).
    """
    when, actor = _time(activity), str((activity.get("actor") or {}).get("email", "")).strip().lower()
    for i, p in _events(activity, "delivery"):
        kind = str(p.get("event_info.mail_event_type", ""))
        if kind not in ("1", "2"):
            continue
        direction = "sent" if kind == "1" else "received"
        source = p.get("message_info.source.address") or p.get("message_info.source.from_header_address")
        sender = str(source or (actor if kind == "1" else "")).strip().lower()
        recipients = _destinations(p)
        if kind == "2" and not recipients and actor:
            recipients = [actor]
        if when is None or not actor or not recipients or (kind == "1" and not sender):
            _skip("gmail", activity, "no time, mailbox or recipients")
            continue
        names = ()
        display = p.get("message_info.source.from_header_displayname")
        if display and sender:
            names = ((sender, str(display)),)
        yield MailEvent(event_id(activity, i), when, actor, direction, sender, tuple(recipients),
                        _message_id(activity, p), str(p.get("message_info.subject") or ""), names, "reports.gmail")


# ---------------------------------------------------------------------------- chat and meet


# Chat (Reports chat appendix, developers.google.com/admin-sdk/reports/v1/appendix/activity/chat, and
# Elastic's data_stream/chat/_dev/test/pipeline/test-chat.log): message_posted carries room_id (a bare
# space id, "spaces/<id>" accepted too), message_id "spaces/<id>/messages/<m>", actor (also in actor.email)
# and conversation_type, but no member list: target_users appears only on some events (add_room_member,
# reactions), so a DM's other member must come from the room's history, never from this event.


def space_name(room_id: str, message_id: str = "") -> str:
    """The room as a Chat API space name ("spaces/<id>"), from room_id or else from the message name."""
    room = room_id.strip()
    if room:
        return room if room.startswith("spaces/") else f"spaces/{room}"
    parts = message_id.strip().split("/")
    return f"spaces/{parts[1]}" if len(parts) >= 3 and parts[0] == "spaces" and parts[1] else ""


def chat_events(activity: dict[str, Any]) -> Iterator[ChatEvent]:
    """One ChatEvent per message_posted: the poster, the room and (rarely) the users it names."""
    when = _time(activity)
    for i, p in _events(activity, "message_posted"):
        actor = str((activity.get("actor") or {}).get("email") or p.get("actor") or "").strip().lower()
        if when is None or not actor:
            _skip("chat", activity, "no time or actor")
            continue
        targets = _listed(p.get("target_users"))
        message = str(p.get("message_id") or "")
        yield ChatEvent(event_id(activity, i), when, actor, str(p.get("conversation_type") or "").upper(),
                        tuple(dict.fromkeys([actor, *targets])), space_name(str(p.get("room_id") or ""), message),
                        message, "reports.chat")


def _listed(value: Any) -> list[str]:
    """Addresses from a multiValue list or a string (documented as `string`: comma-separated accepted)."""
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [a for a in (str(v).strip().lower() for v in items) if "@" in a]


def _flag(value: Any) -> bool:
    """A boolValue, or the same written as a string ("true"/"false") by an export."""
    return value.strip().lower() == "true" if isinstance(value, str) else bool(value)


# Meet (Reports meet appendix and Elastic's data_stream/meet/_dev/test/pipeline/test-meet.log): call_ended is
# logged once per participant endpoint with conference_id, identifier (an email, or a phone number with
# identifier_type phone_number), is_external, organizer_email, meeting_code and duration_seconds; an outside
# or anonymous participant's actor is {"callerType": "KEY", "key": "HANGOUTS_EXTERNAL_OR_ANONYMOUS"}.
def meet_calls(activities: list[dict[str, Any]]) -> list[MeetCall]:
    """Group call_ended events (one per participant endpoint) by conference into calls."""
    calls: dict[str, dict[str, Any]] = {}
    for act in activities:
        when = _time(act)
        actor = act.get("actor") or {}
        for i, p in _events(act, "call_ended"):
            conf = str(p.get("conference_id") or "")
            if not conf or when is None:
                _skip("meet", act, "call_ended without conference_id or time")
                continue
            c = calls.setdefault(conf, {"time": when, "people": [], "external": 0, "ids": [], "organizer": "",
                                        "code": "", "duration": 0})
            c["time"] = max(c["time"], when)
            c["ids"].append(event_id(act, i))
            who = str(p.get("identifier") or actor.get("email") or "").lower()
            external = _flag(p.get("is_external")) or actor.get("callerType") == "KEY" or "@" not in who
            if external:
                c["external"] += 1
            elif who not in c["people"]:
                c["people"].append(who)
            c["organizer"] = c["organizer"] or str(p.get("organizer_email") or "").lower()
            c["code"] = c["code"] or str(p.get("meeting_code") or "")
            c["duration"] = max(c["duration"], int(p.get("duration_seconds") or 0))
    return [MeetCall(conf, c["time"], tuple(sorted(c["people"])), c["organizer"], c["code"], c["external"],
                     c["duration"], tuple(c["ids"]), "reports.meet") for conf, c in calls.items()]
