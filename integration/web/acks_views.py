"""Policy acknowledgement for the DSL (/acks): % acknowledged for the current version, the outstanding
people with days overdue, by org unit and role, the version history, "send reminders now", and the
per-person CSV. Read from the stored state (the worker reads new form responses); the page never
calls Google, so it loads in one database round trip even when the Forms API is down.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Blueprint, Response, flash, redirect, render_template, url_for
from sqlalchemy.orm import Session

from integration.acknowledgement.matching import standing
from integration.acknowledgement.notices import queue_reminders_now
from integration.acknowledgement.report import compliance_report, reminders_sent
from integration.acknowledgement.rounds import current_round, form_problems
from integration.csv_safe import to_csv
from integration.jobs import request_job
from integration.logs import event
from integration.settings import Settings
from integration.web import services
from integration.web.auth import current_user, log, require
from integration.web.reading import read

bp = Blueprint("acks", __name__)

ACKS_HEADER = ("name", "email", "org_unit", "role", "acknowledged_at", "due", "days_overdue", "reminders_sent",
               "new_starter")


def current_report(session: Session, settings: Settings, now: datetime) -> dict | None:
    version = settings.acknowledgement.policy_version
    rnd = current_round(session, version) if version else None
    if rnd is None:
        return None
    st = standing(session, rnd, settings)
    return compliance_report(session, st, settings, now, form_problems(rnd, settings))


@bp.get("/acks")
@require("acks")
def acks_page():
    report = read(current_report)
    outstanding = sorted(((o, g) for g in (report or {}).get("groups", []) for o in g["outstanding"]),
                         key=lambda og: (-og[0]["days_overdue"], og[0]["name"].lower()))
    return render_template("acks.html", report=report, outstanding=outstanding,
                           version=services().settings.acknowledgement.policy_version)


@bp.post("/acks/remind")
@require("acks")
def remind():
    svc, user = services(), current_user()
    now = datetime.now(UTC)
    with svc.store.session() as s:
        rnd = current_round(s, svc.settings.acknowledgement.policy_version)
        if rnd is None:
            flash("There is no acknowledgement round yet: the worker opens one at its next acknowledgement run.",
                  "error")
            return redirect(url_for("acks.acks_page"))
        queued = queue_reminders_now(s, standing(s, rnd, svc.settings), svc.settings, now)
        if queued.total:
            request_job(s, "alerts", reason="acknowledgement reminders sent from the web", debounce_key="web-remind",
                        now=now)
    event(log, "web.acks_reminders", actor=user.email, **queued.counts)
    if queued.total:
        parts = ", ".join(f"{n} {k.replace('_', ' ')}{'s' if n != 1 else ''}" for k, n in queued.counts.items() if n)
        flash(f"Queued {parts}; the worker sends them within a minute.", "success")
    else:
        flash("Nobody needed a reminder: everyone outstanding has had an email in the last 12 hours.", "info")
    return redirect(url_for("acks.acks_page"))


@bp.get("/acks.csv")
@require("acks")
def acks_csv():
    version = re.sub(r"[^A-Za-z0-9._-]", "_", services().settings.acknowledgement.policy_version or "none")
    return Response(to_csv(ACKS_HEADER, read(acks_rows)), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="acks-{version}.csv"'})


def acks_rows(session: Session, settings: Settings, now: datetime) -> list[list]:
    """One row per expected person of the current round (none before a round opens)."""
    rnd = current_round(session, settings.acknowledgement.policy_version)
    if rnd is None:
        return []
    st, sent = standing(session, rnd, settings), reminders_sent(session, rnd.id)
    rows = []
    for m in sorted(st.members, key=lambda m: (m.org_unit, m.name.lower())):
        overdue = (now - m.due).days if not m.acknowledged_at and now >= m.due else 0
        rows.append([m.name, m.email, m.org_unit, m.role, _iso(m.acknowledged_at), _iso(m.due), overdue,
                     sent.get(m.email, 0), "yes" if m.new_starter else "no"])
    return rows


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""
