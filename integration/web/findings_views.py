"""The DSL's findings pages: the inbox (/findings), one finding (/findings/<id>), its triage and
exceptions.

Every view of a finding and every triage action goes through `integration.findings` (`log_view`,
`transition`) or `integration.exceptions`, which write who and when to the finding's log. The page
shows the triage history without the views; the views are on the admin's access log.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request
from sqlalchemy import select

from integration import exceptions as exceptions_mod
from integration import findings as findings_mod
from integration.errors import InputError
from integration.rules import RULES
from integration.store.base import current_crypto
from integration.store.models_audit import FINDING_STATUSES, Finding, FindingEvent, FindingOccurrence
from integration.store.models_webapp import FindingException
from integration.web import explain, inbox, people, scope, services
from integration.web.auth import current_user, require
from integration.web.filters import localtime
from integration.web.reading import findings_listing, read

bp = Blueprint("findings", __name__)

HIDDEN_EVIDENCE = {"body", "snippet", "content", "text", "html"}  # never shown, should they ever appear
MOVE_LABELS = {"resolved": "Mark resolved", "false_positive": "Mark false positive"}
TIMELINE_MAX = 200


def evidence_rows(evidence: dict) -> list[tuple[str, str, str]]:
    """(label, text, href) per evidence item; links only for https URLs (no javascript: or data:)."""
    rows = []
    for key, value in (evidence or {}).items():
        if key.lower() in HIDDEN_EVIDENCE:
            continue
        values = value if isinstance(value, list) else [value]
        for v in values:
            text = str(v) if not isinstance(v, dict) else ", ".join(f"{k}: {x}" for k, x in v.items())
            href = text if text.startswith("https://") else ""
            rows.append((key.replace("_", " "), text, href))
    return rows


def move_label(to: str, status: str) -> str:
    if to == "reviewing":
        return "Reopen for review" if status in ("resolved", "false_positive", "suppressed") else "Start reviewing"
    return MOVE_LABELS.get(to, to.replace("_", " ").capitalize())


@bp.get("/findings")
@require("findings")
def inbox_page():
    f, found = findings_listing()
    schools = scope.chosen("findings")
    rules = read(lambda s, _settings, _now: sorted(set(RULES) | set(s.scalars(
        scope.scoped(select(Finding.rule).distinct(), schools)))))
    return render_template("findings.html", result=found.page, who=found.who, f=f, params=f.as_params(), rules=rules,
                           statuses=("open", *FINDING_STATUSES), severities=inbox.SEVERITIES, sorts=inbox.SORTS)


def finding_context(s, finding_id: int) -> dict:
    """Everything a finding's page and its evidence pack show (the caller checks the role; a finding
    outside the request's schools is a 404 here, before anything is logged)."""
    svc = services()
    scope.require_finding(s, finding_id)
    f = s.get(Finding, finding_id)
    if f is None:
        abort(404)
    doc = findings_mod.as_json(f)
    who = people.lookup(s, [f.staff, f.pupil, f.guardian, f.counterpart])
    events = [e for e in findings_mod.history(s, finding_id) if e.action != "viewed"]
    occurrences = list(s.scalars(select(FindingOccurrence).where(FindingOccurrence.finding_id == finding_id)
                                 .order_by(FindingOccurrence.seen_at.desc(), FindingOccurrence.id.desc())
                                 .limit(TIMELINE_MAX)))
    exceptions = list(s.scalars(select(FindingException).where(FindingException.finding_id == finding_id)
                                .order_by(FindingException.added_at)))
    text = explain.text_for(svc.settings, f.rule)
    placed = scope.finding_school_fields(s, [f])[f.id]
    def name(address: str | None) -> str:
        if not address:
            return ""
        label = who[address.lower()].label
        return f"{label} <{address}>" if label else address

    what = explain.what_happened(text.what, {
        "staff": name(f.staff), "pupil": name(f.pupil), "guardian": name(f.guardian),
        "counterpart": name(f.counterpart), "object": explain.object_label(doc["evidence"]),
        "times": explain.times(f.occurrences or 1, localtime(f.first_seen), localtime(f.last_seen))})
    return {"f": doc, "finding": f, "who": who, "history": events, "occurrences": occurrences,
            "exceptions": exceptions, "text": text, "what": what, "policy": list(f.policy or []),
            "links": explain.google_links(f.rule, doc["evidence"]), "evidence": evidence_rows(doc["evidence"]),
            "exception_for": exceptions_mod.counterpart_of(f),
            "schools": placed, "school_names": [t.name for t in svc.settings.tenants.schools
                                                 if t.id in placed["schools"]] if svc.settings.tenants.is_trust else []}


@bp.get("/findings/<int:finding_id>")
@require("findings")
def finding(finding_id: int):
    user = current_user()
    with services().store.session() as s:
        ctx = finding_context(s, finding_id)
        findings_mod.log_view(s, finding_id, user.email)
        status = ctx["f"]["status"]
        moves = findings_mod.TRANSITIONS.get(status, ()) if user.can("triage") else ()
        last_view = s.scalar(select(FindingEvent.at).where(FindingEvent.finding_id == finding_id,
                                                           FindingEvent.action == "viewed")
                             .order_by(FindingEvent.id.desc()).offset(1).limit(1))
    if not user.can("counterparts"):
        ctx["f"]["counterpart"] = None
    return render_template("finding.html", moves=[(to, move_label(to, status)) for to in moves],
                           can_except=user.can("triage") and bool(ctx["exception_for"]) and status != "suppressed",
                           last_view=last_view, today=date.today().isoformat(), **ctx)


@bp.post("/findings/<int:finding_id>/triage")
@require("triage")
def triage(finding_id: int):
    svc, user = services(), current_user()
    to_status = request.form.get("to_status", "")
    note = request.form.get("note", "").strip()[:2000]
    with svc.store.session() as s:
        scope.require_finding(s, finding_id, "triage")
    if not note:
        flash("Add a note saying what you found or did: every triage step needs one.", "error")
        return redirect(scope.url("findings.finding", finding_id=finding_id))
    try:
        with svc.store.session() as s:
            scope.require_finding(s, finding_id, "triage")
            findings_mod.transition(s, finding_id, to_status, user.email, note)
    except InputError as exc:
        flash(str(exc), "error")
    else:
        flash(f"Finding {finding_id} is now {to_status.replace('_', ' ')}.", "success")
    return redirect(scope.url("findings.finding", finding_id=finding_id))


@bp.post("/findings/<int:finding_id>/exception")
@require("triage")
def add_exception(finding_id: int):
    svc, user = services(), current_user()
    form = request.form
    with svc.store.session() as s:
        scope.require_finding(s, finding_id, "triage")
    try:
        expires = date.fromisoformat(form.get("expires", "").strip())
    except ValueError:
        flash("Give the exception's expiry date (YYYY-MM-DD).", "error")
        return redirect(scope.url("findings.finding", finding_id=finding_id) + "#exception")
    try:
        with svc.store.session() as s:
            scope.require_finding(s, finding_id, "triage")
            exc = exceptions_mod.add_from_finding(
                s, current_crypto(), finding_id, approved_by=form.get("approved_by", ""),
                reason=form.get("reason", ""), expires=expires, actor=user.email, note=form.get("note", "")[:2000],
                now=datetime.now(UTC))
            exc_id = exc.id
    except InputError as exc:
        flash(f"The exception was not added: {exc}.", "error")
        return redirect(scope.url("findings.finding", finding_id=finding_id) + "#exception")
    flash(f"Exception {exc_id} added: finding {finding_id} is suppressed, and the next audits will "
          f"suppress the same contact until {expires.isoformat()}.", "success")
    return redirect(scope.url("findings.finding", finding_id=finding_id))
