"""The pages: status dashboard, findings list, a finding with its history and triage, health probes.

Every finding page view and every triage action goes through `integration.findings`
(`log_view`, `transition`), which writes who and when to the finding's log — the
counterpart is personal data, so reading it is recorded too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from sqlalchemy import func, select

from integration import findings as findings_mod
from integration.errors import InputError
from integration.rules import rule_title
from integration.store.models_audit import FINDING_STATUSES, Finding
from integration.watches import push_status
from integration.web import queries, services
from integration.web.auth import current_user, require

bp = Blueprint("ui", __name__)
bp.add_app_template_filter(rule_title, "rule_title")  # the rule in plain words, one source: the registry

PAGE_SIZE = 100
HIDDEN_EVIDENCE = {"body", "snippet", "content", "text", "html"}  # never shown, should they ever appear


@bp.app_template_filter("localtime")
def localtime(value: datetime | str | None) -> str:
    """A timestamp in the school's timezone, e.g. '21 Nov 2026, 14:05'."""
    if not value:
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    tz = ZoneInfo(services().settings.school.timezone)
    return value.astimezone(tz).strftime("%d %b %Y, %H:%M")


@bp.app_template_filter("email_wrap")
def email_wrap(value: str | None) -> Markup:
    """An address that may wrap before the '@' (and nowhere else) in narrow table columns."""
    if not value:
        return Markup("—")
    local, _, domain = value.partition("@")
    return escape(local) + Markup("<wbr>@") + escape(domain) if domain else escape(value)


@bp.app_template_filter("label")
def label(value: str) -> str:
    return str(value).replace("_", " ").replace(".", " · ").capitalize() if value else ""


def evidence_rows(evidence: dict) -> list[tuple[str, str, str]]:
    """(label, text, href) per evidence item; links only for http(s) URLs (no javascript: or data:)."""
    rows = []
    for key, value in (evidence or {}).items():
        if key.lower() in HIDDEN_EVIDENCE:
            continue
        values = value if isinstance(value, list) else [value]
        for v in values:
            text = str(v) if not isinstance(v, dict) else ", ".join(f"{k}: {x}" for k, x in v.items())
            href = text if text.startswith(("https://", "http://")) else ""
            rows.append((key.replace("_", " "), text, href))
    return rows


@bp.get("/")
@require("aggregate")
def dashboard():
    svc, user = services(), current_user()
    now = datetime.now(UTC)
    with svc.store.session() as s:
        data = {"by_rule": queries.findings_by_rule(s), "acks": queries.ack_progress(s, svc.settings, now)}
        if user.can("status"):
            data["runs"] = queries.last_runs(s)
            data["outbox"] = queries.outbox_state(s)
    if user.can("status"):
        data["push"] = push_status(svc)
        data["health"] = queries.config_health(svc.settings, svc.dev_login)
    totals = {sev: sum(r["open"] for r in data["by_rule"] if r["severity"] == sev) for sev in queries.SEVERITIES}
    return render_template("dashboard.html", totals=totals, **data)


@bp.get("/findings")
@require("findings")
def findings():
    svc = services()
    status = request.args.get("status", "")
    rule = request.args.get("rule", "")
    severity = request.args.get("severity", "")
    page = max(1, request.args.get("page", 1, type=int) or 1)
    query = select(Finding)
    if status in FINDING_STATUSES:
        query = query.where(Finding.status == status)
    elif status == "open":
        query = query.where(Finding.status.in_(queries.OPEN))
    if rule:
        query = query.where(Finding.rule == rule)
    if severity in queries.SEVERITIES:
        query = query.where(Finding.severity == severity)
    with svc.store.session() as s:
        total = s.scalar(select(func.count()).select_from(query.subquery()))
        rows = list(s.scalars(query.order_by(Finding.last_seen.desc(), Finding.id.desc())
                              .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
        rules = list(s.scalars(select(Finding.rule).distinct().order_by(Finding.rule)))
    return render_template("findings.html", rows=rows, total=total, page=page, pages=max(1, -(-total // PAGE_SIZE)),
                           rules=rules, statuses=("open", *FINDING_STATUSES), severities=queries.SEVERITIES,
                           current={"status": status, "rule": rule, "severity": severity})


@bp.get("/findings/<int:finding_id>")
@require("findings")
def finding(finding_id: int):
    svc, user = services(), current_user()
    with svc.store.session() as s:
        f = s.get(Finding, finding_id)
        if f is None:
            abort(404)
        findings_mod.log_view(s, finding_id, user.email)
        history = findings_mod.history(s, finding_id)
        doc = findings_mod.as_json(f)
        policy = list(f.policy or [])
    if not user.can("counterparts"):
        doc["counterpart"] = None
    return render_template("finding.html", f=doc, policy=policy, history=history, evidence=evidence_rows(doc["evidence"]),
                           moves=findings_mod.TRANSITIONS.get(doc["status"], ()) if user.can("triage") else ())


@bp.post("/findings/<int:finding_id>/triage")
@require("triage")
def triage(finding_id: int):
    svc, user = services(), current_user()
    to_status = request.form.get("to_status", "")
    note = request.form.get("note", "").strip()[:2000]
    if not note:
        flash("Add a note saying why before changing a finding's status.", "error")
        return redirect(url_for("ui.finding", finding_id=finding_id))
    try:
        with svc.store.session() as s:
            findings_mod.transition(s, finding_id, to_status, user.email, note)
    except InputError as exc:
        flash(str(exc), "error")
    else:
        flash(f"Finding {finding_id} is now {label(to_status).lower()}.", "success")
    return redirect(url_for("ui.finding", finding_id=finding_id))


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    ok, reason = queries.readiness(services().store)
    return jsonify({"ready": ok, "reason": reason}), (200 if ok else 503)
