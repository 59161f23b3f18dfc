"""The findings inbox query: filters, sort and pages, shared by the page, the API and the CSV export,
so all three list exactly the same findings for the same URL parameters.

Filters (all optional, all kept in the URL): ``status`` (a status, or ``open`` = new + reviewing),
``rule``, ``severity``, ``staff``, ``pupil`` (an address or part of one), ``from``/``to`` (dates,
school timezone: findings with activity on or between them), ``q`` (free text: rule, addresses,
the names of staff and pupils, evidence such as a file title). Default order: highest severity,
then newest activity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, case, cast, func, or_, select
from sqlalchemy.orm import Session

from integration.errors import InputError
from integration.store.models_audit import FINDING_STATUSES, Finding
from integration.web.people import lookup, matching_emails
from integration.web.scope import Schools, finding_school_fields, scoped

SEVERITIES = ("high", "medium", "low")
OPEN = ("new", "reviewing")
SORTS = {
    "severity": case({"high": 0, "medium": 1, "low": 2}, value=Finding.severity, else_=3),
    "last_seen": Finding.last_seen, "first_seen": Finding.first_seen, "rule": Finding.rule,
    "status": Finding.status, "occurrences": Finding.occurrences, "id": Finding.id, "staff": Finding.staff,
    "pupil": Finding.pupil,
}
DEFAULT_SORT = "severity"
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


@dataclass
class Filters:
    status: str = ""
    rule: str = ""
    severity: str = ""
    staff: str = ""
    pupil: str = ""
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    sort: str = DEFAULT_SORT  # a SORTS key, "-" in front for descending
    page: int = 1
    per_page: int = PAGE_SIZE
    problems: list[str] = field(default_factory=list)

    def as_params(self) -> dict[str, str]:
        """The non-default filters as URL parameters (for links that keep them)."""
        out = {"status": self.status, "rule": self.rule, "severity": self.severity, "staff": self.staff,
               "pupil": self.pupil, "from": self.date_from.isoformat() if self.date_from else "",
               "to": self.date_to.isoformat() if self.date_to else "", "q": self.q,
               "sort": "" if self.sort == DEFAULT_SORT else self.sort,
               "per_page": "" if self.per_page == PAGE_SIZE else str(self.per_page)}
        return {k: v for k, v in out.items() if v}


def _date(value: str, name: str, problems: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(f"{name} must be a date (YYYY-MM-DD), got {value!r}")
        return None


def parse(args, *, strict: bool = False) -> Filters:
    """Filters from request args. Bad values are ignored with a note (pages) or refused (``strict``: API)."""
    problems: list[str] = []
    f = Filters(problems=problems)
    status = args.get("status", "").strip()
    if status and status not in (*FINDING_STATUSES, "open"):
        problems.append(f"status must be open or one of {', '.join(FINDING_STATUSES)}")
    else:
        f.status = status
    severity = args.get("severity", "").strip()
    if severity and severity not in SEVERITIES:
        problems.append(f"severity must be one of {', '.join(SEVERITIES)}")
    else:
        f.severity = severity
    f.rule = args.get("rule", "").strip()[:64]
    f.staff = args.get("staff", "").strip().lower()[:320]
    f.pupil = args.get("pupil", "").strip().lower()[:320]
    f.q = args.get("q", "").strip()[:200]
    f.date_from = _date(args.get("from", "").strip(), "from", problems)
    f.date_to = _date(args.get("to", "").strip(), "to", problems)
    sort = args.get("sort", "").strip() or DEFAULT_SORT
    if sort.lstrip("-") not in SORTS:
        problems.append(f"sort must be one of {', '.join(SORTS)} (prefix - for descending)")
    else:
        f.sort = sort
    for name, lo, hi, default in (("page", 1, 100_000, 1), ("per_page", 1, MAX_PAGE_SIZE, PAGE_SIZE)):
        raw = args.get(name, "")
        try:
            value = int(raw) if raw else default
        except ValueError:
            value = default
            problems.append(f"{name} must be a whole number")
        if not lo <= value <= hi:
            problems.append(f"{name} must be between {lo} and {hi}")
            value = min(max(value, lo), hi)
        setattr(f, name, value)
    if strict and problems:
        raise InputError("; ".join(problems))
    return f


def _like(column, text: str):
    return func.lower(column).like(f"%{text}%")


def query(session: Session, f: Filters, timezone: str, schools: Schools = None) -> Select:
    """The filtered (not yet sorted or paged) select, within ``schools`` (None: every finding)."""
    q = scoped(select(Finding), schools)
    if f.status == "open":
        q = q.where(Finding.status.in_(OPEN))
    elif f.status:
        q = q.where(Finding.status == f.status)
    if f.rule:
        q = q.where(Finding.rule == f.rule)
    if f.severity:
        q = q.where(Finding.severity == f.severity)
    if f.staff:
        q = q.where(Finding.staff == f.staff if "@" in f.staff else _like(Finding.staff, f.staff))
    if f.pupil:
        q = q.where(Finding.pupil == f.pupil if "@" in f.pupil else _like(Finding.pupil, f.pupil))
    tz = ZoneInfo(timezone)
    if f.date_from:
        q = q.where(Finding.last_seen >= datetime.combine(f.date_from, time.min, tz))
    if f.date_to:
        q = q.where(Finding.first_seen < datetime.combine(f.date_to + timedelta(days=1), time.min, tz))
    if f.q:
        text = f.q.lower()
        named = matching_emails(session, text)
        terms = [_like(Finding.rule, text), _like(Finding.staff, text), _like(Finding.pupil, text),
                 _like(cast(Finding.evidence, String), text)]
        if named:
            terms += [Finding.staff.in_(named), Finding.pupil.in_(named)]
        if text.isdigit():
            terms.append(Finding.id == int(text))
        q = q.where(or_(*terms))
    return q


def ordered(q: Select, sort: str) -> Select:
    column = SORTS[sort.lstrip("-")]
    primary = column.desc() if sort.startswith("-") else column.asc()
    if sort == DEFAULT_SORT:  # highest severity first, then the newest
        return q.order_by(primary, Finding.last_seen.desc(), Finding.id.desc())
    return q.order_by(primary, Finding.id.desc())


@dataclass
class Page:
    rows: list[Finding]
    total: int
    page: int
    pages: int


def page(session: Session, f: Filters, timezone: str, schools: Schools = None) -> Page:
    q = query(session, f, timezone, schools)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    pages = max(1, -(-total // f.per_page))
    current = min(f.page, pages)
    rows = list(session.scalars(ordered(q, f.sort).offset((current - 1) * f.per_page).limit(f.per_page)))
    return Page(rows, total, current, pages)


def every(session: Session, f: Filters, timezone: str, schools: Schools = None):
    """All matching findings in order (exports), read in pages so a large list is not held twice."""
    q = ordered(query(session, f, timezone, schools), f.sort)
    return session.scalars(q.execution_options(yield_per=500))


@dataclass
class Listing:
    """A page of findings with the roster's names beside their addresses."""

    page: Page
    who: dict
    schools: dict[int, dict] = field(default_factory=dict)  # finding id -> {"school", "schools"}

    def name(self, address: str | None) -> str:
        """The roster's name for a listed address ('' when unknown or absent)."""
        return self.who[address.lower()].name if address else ""


def names(session: Session, rows: list[Finding], *extra: str):
    """Address -> Who for every finding's staff and pupil (and ``extra`` addresses)."""
    return lookup(session, [a for r in rows for a in (r.staff, r.pupil)] + list(extra))


def listing(session: Session, f: Filters, timezone: str, *, everything: bool = False,
            schools: Schools = None) -> Listing:
    """The page (or, ``everything``, all pages: the CSV) for ``f`` within ``schools``, named, with each
    finding's schools."""
    if everything:
        rows = list(every(session, f, timezone, schools))
        found = Page(rows, len(rows), 1, 1)
    else:
        found = page(session, f, timezone, schools)
    return Listing(found, names(session, found.rows), finding_school_fields(session, found.rows))
