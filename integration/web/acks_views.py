"""Policy acknowledgement for the DSL (/acks): % acknowledged for the current version, the outstanding
people with days overdue, by org unit and role, the version history, "send reminders now", and the
per-person CSV — for one school's round (the picker's, or the user's only school); a user who sees
several schools first gets each school's headline. Read from the stored state (the worker reads new form responses); the page never
calls Google, so it loads in one database round trip even when the Forms API is down.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Blueprint, Response, flash, redirect, render_template
from sqlalchemy.orm import Session

from integration.acknowledgement.matching import standing
from integration.acknowledgement.notices import queue_reminders_now
from integration.acknowledgement.report import reminders_sent
from integration.csv_safe import to_csv
from integration.jobs import request_job
from integration.logs import event
from integration.settings import Settings
from integration.tenancy import Tenant
from integration.web import school_acks, scope, services
from integration.web.auth import current_user, log, require
from integration.web.reading import read

bp = Blueprint("acks", __name__)

ACKS_HEADER = ("name", "email", "org_unit", "role", "acknowledged_at", "due", "days_overdue", "reminders_sent",
               "new_starter", "school")


def current_report(session: Session, settings: Settings, now: datetime, tenant: Tenant | None = None) -> dict | None:
    """The compliance report of ``tenant``'s round (default: the one school of a single-school config)."""
    return school_acks.report(session, settings, tenant or settings.tenants.schools[0], now)


def _one_school(schools: scope.Schools) -> Tenant | None:
    """The one school the request shows, or None when it shows several (the roll-up)."""
    tenants = scope.tenants_in(schools)
    return tenants[0] if len(tenants) == 1 else None


@bp.get("/acks")
@require("acks")
def acks_page():
    schools = scope.chosen("acks")
    tenant = _one_school(schools)
    if tenant is None:  # several schools: each one's headline, linking to its page
        rollup = read(lambda s, settings, now: [(t, school_acks.progress(s, settings, t, now))
                                                 for t in scope.tenants_in(schools)])
        return render_template("acks.html", report=None, rollup=rollup, outstanding=[], version="")
    report = read(lambda s, settings, now: current_report(s, settings, now, tenant))
    outstanding = sorted(((o, g) for g in (report or {}).get("groups", []) for o in g["outstanding"]),
                         key=lambda og: (-og[0]["days_overdue"], og[0]["name"].lower()))
    return render_template("acks.html", report=report, outstanding=outstanding, rollup=None,
                           version=tenant.policy_version, tenant=tenant)


@bp.post("/acks/remind")
@require("acks")
def remind():
    svc, user = services(), current_user()
    now = datetime.now(UTC)
    tenant = _one_school(scope.chosen("acks"))
    if tenant is None:
        flash("Choose a school first: reminders are sent for one school's round at a time.", "error")
        return redirect(scope.url("acks.acks_page"))
    with svc.store.session() as s:
        rnd = school_acks.tenant_round(s, tenant)
        if rnd is None:
            flash("There is no acknowledgement round yet: the worker opens one at its next acknowledgement run.",
                  "error")
            return redirect(scope.url("acks.acks_page"))
        st = standing(s, rnd, svc.settings)
        queued = queue_reminders_now(s, st, svc.settings, now)
        if queued.total:
            request_job(s, "alerts", reason="acknowledgement reminders sent from the web", debounce_key="web-remind",
                        now=now)
    event(log, "web.acks_reminders", actor=user.email, school=tenant.id, **queued.counts)
    if queued.total:
        parts = ", ".join(f"{n} {k.replace('_', ' ')}{'s' if n != 1 else ''}" for k, n in queued.counts.items() if n)
        flash(f"Queued {parts}; the worker sends them within a minute.", "success")
    else:
        flash("Nobody needed a reminder: everyone outstanding has had an email in the last 12 hours.", "info")
    return redirect(scope.url("acks.acks_page"))


@bp.get("/acks.csv")
@require("acks")
def acks_csv():
    tenants = scope.tenants_in(scope.chosen("acks"))
    label = tenants[0].policy_version if len(tenants) == 1 else "all"
    if len(tenants) == 1 and services().settings.tenants.is_trust:
        label = f"{tenants[0].id}-{label}"
    name = re.sub(r"[^A-Za-z0-9._-]", "_", label or "none")
    rows = read(lambda s, settings, now: [row for t in tenants for row in acks_rows(s, settings, now, t)])
    return Response(to_csv(ACKS_HEADER, rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="acks-{name}.csv"'})


def acks_rows(session: Session, settings: Settings, now: datetime, tenant: Tenant | None = None) -> list[list]:
    """One row per expected person of the school's current round (none before a round opens)."""
    tenant = tenant or settings.tenants.schools[0]
    rnd = school_acks.tenant_round(session, tenant)
    if rnd is None:
        return []
    st, sent = standing(session, rnd, settings), reminders_sent(session, rnd.id)
    rows = []
    for m in sorted(st.members, key=lambda m: (m.org_unit, m.name.lower())):
        overdue = (now - m.due).days if not m.acknowledged_at and now >= m.due else 0
        rows.append([m.name, m.email, m.org_unit, m.role, _iso(m.acknowledged_at), _iso(m.due), overdue,
                     sent.get(m.email, 0), "yes" if m.new_starter else "no", tenant.id])
    return rows


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""
