"""Reading a Reports window in (nearly) the fewest calls: one chain of pages, split only when long.

Day slices cost at least one call per day per application and event name: 30 a month for an
application with a handful of events. Instead a window is asked for whole. When its first page
holds everything, that page is the answer (one call). When it does not, the time the page covered
estimates how long the window's chain is; a chain of about CHAIN pages or fewer is simply followed
on, a longer one is split into parts of about CHAIN pages each. Parts are read side by side
(`transport.in_order`) and handed back oldest first, so each part's end is stored as the cursor
only after that part (and every earlier one) is stored: an interrupted run resumes at the last
finished part. A split window's first page is not used (it is the one extra call per window the
budget allows): its chain runs through the whole window, and cutting it at a time would rely on
the order of items within the pages.

Edges ⚠: the docs do not say whether startTime and endTime are inclusive. Each part is asked for
[start - 1 ms, end + 1 ms) and keeps the activities whose ``id.time`` lies in [start, end), so an
event exactly on a boundary is read once whichever way Google counts (Reports times have ms
precision).

Event names: ``eventName`` takes one name (discovery doc: a parameter given twice keeps its last
value). A stream that needs one name asks for it. One that needs several (Drive acl_change: six)
asks without eventName and keeps its names client-side, unless the first page shows that most of
the window's events are others (views and edits in a real tenant): then it asks for each name by
itself when that costs fewer calls.

Filters: the gmail appendix (developers.google.com/admin-sdk/reports/v1/appendix/activity/gmail)
says ``event_info.mail_event_type`` "can be used as a filter using the full parameter name", and
activities.list documents the operators ``== <> < <= > >=``. The rules read types 1 and 2 (sent,
received), so gmail is asked with ``event_info.mail_event_type<=2``. ⚠ A tenant that answers 400 to
a filter is asked again without it (remembered for the process); a filter ignored or compared as
text only costs reads, never events: the parsers check the type themselves.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from connectors.google.reports import _event_list, parse_time
from integration.errors import SourceError
from integration.logs import event

log = logging.getLogger("safechannels.google.report_windows")

EDGE = timedelta(milliseconds=1)
CHAIN = 25  # pages one part's chain is planned to hold: 25 × 50 ms ≈ 1.3 s, ≤ 25,000 events in memory
MAX_PARTS = 256
MIN_PART = timedelta(minutes=1)
PAGE = 1000
SPAN = {"gmail": timedelta(days=30) - 4 * EDGE}  # Google: gmail windows at most 30 days (with the edges)
FILTERS = {"gmail": "event_info.mail_event_type<=2"}  # types 1 (sent) and 2 (received) are the rules'


@dataclass(frozen=True)
class Query:
    """What a stream reads from one application: the event names its parsers use."""

    app: str
    names: tuple[str, ...]

    @property
    def single(self) -> str:
        return self.names[0] if len(self.names) == 1 else ""


@dataclass
class Part:
    """A piece of a window, read as one chain (or one chain per event name)."""

    start: datetime
    end: datetime
    named: bool = False  # one chain per event name instead of one without eventName
    first: list[dict[str, Any]] | None = None  # the probe's page when it belongs to this part's chain
    token: str = ""  # the probe's next page token, when the probe's chain is this part's chain


def time_of(activity: dict[str, Any]) -> datetime | None:
    try:
        return parse_time((activity.get("id") or {})["time"])
    except (KeyError, TypeError, ValueError):
        return None


def chunks(start: datetime, end: datetime, span: timedelta | None) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into spans the API accepts (gmail: ≤ 30 days), oldest first."""
    if span is None or end - start <= span:
        return [(start, end)] if start < end else []
    out, at = [], start
    while at < end:
        out.append((at, min(at + span, end)))
        at = out[-1][1]
    return out


def split(start: datetime, end: datetime, parts: int) -> list[tuple[datetime, datetime]]:
    """[start, end) in `parts` equal pieces (whole milliseconds), oldest first."""
    parts = max(1, min(parts, MAX_PARTS, int((end - start) / MIN_PART) or 1))
    step = (end - start) / parts
    cuts = [start + (step * i) // EDGE * EDGE for i in range(parts)] + [end]
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if a < b]


def wanted(activity: dict[str, Any], names: tuple[str, ...]) -> bool:
    return any(ev.get("name") in names for ev in _event_list(activity))


class WindowReader:
    """Plans and reads the parts of a Reports window for one `ReportsReader`."""

    def __init__(self, reports) -> None:
        self.reports = reports
        self.refused_filters: set[str] = set()  # applications that answered 400 to a documented filter

    def _filters(self, query: Query) -> str:
        # filters belong to an eventName (activities.list): without one they are not sent
        return "" if query.app in self.refused_filters or not query.single else FILTERS.get(query.app, "")

    def _pages(self, query: Query, start: datetime, end: datetime, name: str, *, after: str = "",
               max_results: int = PAGE) -> Iterator[list[dict[str, Any]]]:
        return self.reports.pages(query.app, start - EDGE, end + EDGE, event_name=name,
                                  filters=self._filters(query) if name else "", after=after,
                                  max_results=max_results)

    def _probe(self, query: Query, start: datetime, end: datetime) -> tuple[list[dict[str, Any]], str]:
        """The window's first page and its next page token ("" when the page holds the whole window)."""
        try:
            page, token = self.reports.first_page(query.app, start - EDGE, end + EDGE, event_name=query.single,
                                                  filters=self._filters(query))
        except SourceError as exc:
            if not self._filters(query) or type(exc) is not SourceError or "HTTP 400" not in str(exc):
                raise
            event(log, "reports.filter_refused", logging.WARNING, app=query.app, filters=self._filters(query),
                  error=str(exc))
            self.refused_filters.add(query.app)
            page, token = self.reports.first_page(query.app, start - EDGE, end + EDGE, event_name=query.single)
        return page, token

    def plan(self, query: Query, start: datetime, end: datetime) -> Iterator[Part]:
        """The parts of [start, end), oldest first; each chunk costs one probe before its parts are known."""
        for a, b in chunks(start, end, SPAN.get(query.app)):
            page, token = self._probe(query, a, b)
            if not token:
                yield Part(a, b, first=page)
                continue
            times = [t for t in map(time_of, page) if t is not None]
            covered = b - min(times) if times else timedelta(0)
            pages = MAX_PARTS * CHAIN if covered <= timedelta(0) else math.ceil((b - a) / covered)
            named = False
            if len(query.names) > 1:
                share = sum(1 for act in page if wanted(act, query.names)) / max(1, len(page))
                named = len(query.names) * max(1, math.ceil(share * pages / CHAIN)) + share * pages < pages
                pages = math.ceil(share * pages) if named else pages
            count = math.ceil(pages / CHAIN)
            event(log, "reports.window_plan", logging.DEBUG, app=query.app, start=a.isoformat(), end=b.isoformat(),
                  estimated_pages=pages, parts=count, named=named)
            if count <= 1 and not named:  # short enough: follow the probe's own chain on
                yield Part(a, b, first=page, token=token)
                continue
            for s, e in split(a, b, count):
                yield Part(s, e, named=named)

    def read(self, query: Query, part: Part) -> list[list[dict[str, Any]]]:
        """Every page of the part, each cut to the part's [start, end); one chain per name when `named`."""
        if part.first is not None:
            chains = [iter([part.first])]
            if part.token:
                chains.append(self._pages(query, part.start, part.end, query.single, after=part.token))
        elif part.named:
            chains = [self._pages(query, part.start, part.end, name) for name in query.names]
        else:
            chains = [self._pages(query, part.start, part.end, query.single)]
        seen: set[tuple[str, str]] = set()
        out = []
        for chain in chains:
            for page in chain:
                kept = []
                for act in page:
                    when = time_of(act)
                    if when is not None and not part.start <= when < part.end:
                        continue
                    if part.named:  # an activity holding two of the names comes back in both chains
                        ident = act.get("id") or {}
                        key = (str(ident.get("time", "")), str(ident.get("uniqueQualifier", "")))
                        if key in seen:
                            continue
                        seen.add(key)
                    kept.append(act)
                out.append(kept)
        return out
