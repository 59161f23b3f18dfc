"""/reports for governors and the DSL: findings by rule and week, how quickly findings are triaged,
and acknowledgement progress, for the schools the user may see (a governor: their school; a trust
lead or trust viewer: every school, with a roll-up by school) — counts only, never a name, an address or a finding's details, so the
viewer role may read it and it can be printed for a governors' meeting."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from statistics import median

from flask import Blueprint, render_template
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from integration.rules import rule_title
from integration.store.models_audit import Finding, FindingEvent, FindingSchool
from integration.tenancy import Tenant
from integration.web import charts, scope
from integration.web.acks_views import current_report
from integration.web.auth import require
from integration.web.queries import ack_progress
from integration.web.reading import read
from integration.web.scope import Schools, scoped

bp = Blueprint("reports", __name__)

WEEKS = 12
SEVERITIES = ("high", "medium", "low")


def week_start(t: datetime) -> datetime:
    day = t.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def by_week(session: Session, now: datetime, schools: Schools = None) -> dict:
    """Findings first seen in each of the last WEEKS weeks (Monday starts), by severity and by rule."""
    first = week_start(now) - timedelta(weeks=WEEKS - 1)
    weeks = [first + timedelta(weeks=i) for i in range(WEEKS)]
    index = {w: i for i, w in enumerate(weeks)}
    sev = {s: [0] * WEEKS for s in SEVERITIES}
    rules: dict[str, list[int]] = defaultdict(lambda: [0] * WEEKS)
    for rule, severity, seen in session.execute(scoped(select(Finding.rule, Finding.severity, Finding.first_seen)
                                                       .where(Finding.first_seen >= first), schools)):
        i = index.get(week_start(seen))
        if i is None:
            continue
        sev.setdefault(severity, [0] * WEEKS)[i] += 1
        rules[rule][i] += 1
    return {"weeks": weeks, "labels": [w.strftime("%d %b") for w in weeks], "severity": sev,
            "rules": sorted(((rule_title(r), r, v, sum(v)) for r, v in rules.items()), key=lambda x: -x[3])}


def triage_times(session: Session, schools: Schools = None) -> list[dict]:
    """Per severity: hours from a finding's creation to its first triage step and to its closing."""
    created = {i: t for i, t in session.execute(scoped(select(Finding.id, Finding.created_at), schools))}
    severity = {i: v for i, v in session.execute(scoped(select(Finding.id, Finding.severity), schools))}
    first_step: dict[int, datetime] = {}
    closed: dict[int, datetime] = {}
    for fid, at, to in session.execute(select(FindingEvent.finding_id, FindingEvent.at, FindingEvent.to_status)
                                       .where(FindingEvent.action == "status", FindingEvent.actor != "audit")
                                       .order_by(FindingEvent.id)):
        if fid not in created:  # another school's finding
            continue
        first_step.setdefault(fid, at)
        if to in ("resolved", "false_positive"):
            closed.setdefault(fid, at)
    out = []
    for s in SEVERITIES:
        ids = [i for i, v in severity.items() if v == s]
        to_first = [(first_step[i] - created[i]).total_seconds() / 3600 for i in ids if i in first_step]
        to_close = [(closed[i] - created[i]).total_seconds() / 3600 for i in ids if i in closed]
        out.append({"severity": s, "findings": len(ids), "triaged": len(to_first), "closed": len(to_close),
                    "median_to_first": round(median(to_first), 1) if to_first else None,
                    "median_to_close": round(median(to_close), 1) if to_close else None,
                    "untriaged": len(ids) - len(to_first)})
    return out


def by_school(session: Session, tenants: list[Tenant], unplaced: bool) -> list[dict]:
    """The roll-up for whoever sees several schools: per school, open findings by severity, all findings,
    the ones nobody has looked at yet, and acknowledgement (``unplaced``: a row for findings in no school)."""
    rows = []
    keys = [(t.id, t.name, frozenset({t.id})) for t in tenants]
    for school, name, only in keys + ([(None, "In no school", None)] if unplaced else []):
        q = select(Finding.severity, Finding.status, func.count()).group_by(Finding.severity, Finding.status)
        if only is None:
            q = q.where(~select(FindingSchool.finding_id).where(FindingSchool.finding_id == Finding.id).exists())
        else:
            q = scoped(q, only)
        open_ = {sev: 0 for sev in SEVERITIES}
        total = new = 0
        for sev, status, n in session.execute(q):
            total += n
            new += n if status == "new" else 0
            if status in ("new", "reviewing"):
                open_[sev] = open_.get(sev, 0) + n
        if only is None and not total:
            continue
        rows.append({"school": school, "name": name, "open": open_, "total": total, "new": new})
    return rows


def report_data(session: Session, settings, now: datetime, schools: Schools = None) -> dict:
    """Everything /reports shows, within ``schools``; the acknowledgement section is the one school's
    round (several schools: each school's headline is in the roll-up instead)."""
    tenants = [t for t in settings.tenants.schools if schools is None or t.id in schools]
    weekly = by_week(session, now, schools)
    acks = current_report(session, settings, now, tenants[0]) if len(tenants) == 1 else None
    ack = None
    if acks:
        groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for g in acks["groups"]:
            groups[g["org_unit"]][0] += g["acknowledged"]
            groups[g["org_unit"]][1] += g["expected"]
        ack = {"policy_version": acks["policy_version"], "totals": acks["totals"],
               "by_org_unit": [(ou, round(100 * a / e, 1) if e else None, a, e) for ou, (a, e) in sorted(groups.items())],
               "history": acks["history"]}
    rollup = []
    if settings.tenants.is_trust and (len(tenants) > 1 or schools is None):
        progress = {p["school"]: p for p in ack_progress(session, settings, now, schools)}
        rollup = [{**row, "acknowledgement": progress.get(row["school"])}
                  for row in by_school(session, tenants, unplaced=schools is None)]
    return {"weekly": weekly, "triage": triage_times(session, schools), "acks": ack, "generated": now,
            "by_school": rollup}


@bp.get("/reports")
@require("aggregate")
def reports():
    schools = scope.chosen("aggregate")
    data = read(lambda s, settings, now: report_data(s, settings, now, schools))
    w = data["weekly"]
    week_chart = charts.stacked_bars("New findings per week by severity", w["labels"], w["severity"])
    ack_chart = charts.progress_bars("Acknowledged by org unit", [(ou, p) for ou, p, _a, _e in data["acks"]["by_org_unit"]]) \
        if data["acks"] else None
    label = ", ".join(t.name for t in scope.tenants_in(schools)) if schools is not None else ""
    return render_template("reports.html", week_chart=week_chart, ack_chart=ack_chart, scope_label=label, **data)
