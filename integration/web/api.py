"""JSON endpoints for the same data as the pages, with the same roles.

Authenticated by the signed-in session; state-changing calls need the session's CSRF token in
the ``X-CSRF-Token`` header (checked app-wide). Errors are ``{"error": "..."}`` with 4xx.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, jsonify, request

from integration import findings as findings_mod
from integration.errors import InputError
from integration.store.models_audit import Finding
from integration.watches import push_status
from integration.web import queries, scope, services
from integration.web.auth import csrf_token, current_user, require
from integration.web.reading import findings_listing

bp = Blueprint("api", __name__, url_prefix="/api")

@bp.get("/me")
@require("aggregate", api=True)
def me():
    user = current_user()
    reach = user.schools_for("aggregate")
    return jsonify({"email": user.email, "roles": sorted(user.roles), "csrf_token": csrf_token(),
                    "schools": [t.id for t in scope.tenants_in(reach)], "all_schools": reach is None,
                    "school_roles": {role: None if schools is None else sorted(schools)
                                     for role, schools in sorted(user.grants.items())}})


@bp.get("/summary")
@require("aggregate", api=True)
def summary():
    """Counts within the request's schools; "acknowledgement" is the one school's progress (null when the
    request covers several schools: see "acknowledgement_by_school")."""
    svc = services()
    schools = scope.chosen("aggregate")
    with svc.store.session() as s:
        progress = queries.ack_progress(s, svc.settings, datetime.now(UTC), schools)
        one = len(scope.tenants_in(schools)) == 1
        return jsonify({"findings_by_rule": queries.findings_by_rule(s, schools),
                        "acknowledgement": progress[0] if one and progress else None,
                        "acknowledgement_by_school": progress})


@bp.get("/status")
@require("status", api=True)
def status():
    svc = services()
    schools = scope.chosen("status")
    with svc.store.session() as s:
        runs = [queries.run_json(r) for r in queries.last_runs(s)]
        outbox = queries.outbox_state(s, schools)
    ready, reason = queries.readiness(svc.store)
    return jsonify({"ready": ready, "reason": reason, "runs": runs, "outbox": outbox,
                    "push": [{"source": a, "mode": b, "detail": c} for a, b, c in push_status(svc)],
                    "config": queries.config_health(svc.settings, svc.dev_login)})


@bp.get("/findings")
@require("findings", api=True)
def findings():
    """The inbox's findings: the same filters, order and pages as /findings (a bad value is a 400)."""
    try:
        f, found = findings_listing(strict=True)
    except InputError as exc:
        abort(400, description=str(exc))
    rows = [{**_public(findings_mod.as_json(r)), **found.schools[r.id], "staff_name": found.name(r.staff),
             "pupil_name": found.name(r.pupil)} for r in found.page.rows]
    return jsonify({"findings": rows, "total": found.page.total, "page": found.page.page, "pages": found.page.pages,
                    "per_page": f.per_page})


@bp.get("/findings/<int:finding_id>")
@require("findings", api=True)
def finding(finding_id: int):
    user = current_user()
    with services().store.session() as s:
        scope.require_finding(s, finding_id)  # outside the user's schools: 404, and no view logged
        f = s.get(Finding, finding_id)
        findings_mod.log_view(s, finding_id, user.email)
        doc = {**findings_mod.as_json(f), **scope.finding_school_fields(s, [f])[f.id]}
        doc["policy"] = list(f.policy or [])
        doc["history"] = [{"action": e.action, "actor": e.actor, "at": queries._iso(e.at), "from": e.from_status,
                           "to": e.to_status, "note": e.note} for e in findings_mod.history(s, finding_id)]
    return jsonify(doc)


@bp.post("/findings/<int:finding_id>/transition")
@require("triage", api=True)
def transition(finding_id: int):
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("to"), str):
        abort(400, description='send {"to": "reviewing|resolved|false_positive", "note": "..."}')
    note = body.get("note")
    if not isinstance(note, str) or not note.strip():
        abort(400, description="a note saying why is required for every status change")
    note = note.strip()[:2000]
    try:
        with services().store.session() as s:
            scope.require_finding(s, finding_id, "triage")
            f = findings_mod.transition(s, finding_id, body["to"], current_user().email, note)
            doc = {**findings_mod.as_json(f), **scope.finding_school_fields(s, [f])[f.id]}
    except InputError as exc:
        abort(409, description=str(exc))
    return jsonify(doc)


def _public(doc: dict) -> dict:
    """A list entry: guardian and counterpart addresses (personal, often outside the school) are shown
    on the single-finding view only, where every view is logged."""
    return {**doc, "guardian": None, "counterpart": None}
