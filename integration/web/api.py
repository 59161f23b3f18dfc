"""JSON endpoints for the same data as the pages, with the same roles.

Authenticated by the signed-in session; state-changing calls need the session's CSRF token in
the ``X-CSRF-Token`` header (checked app-wide). Errors are ``{"error": "..."}`` with 4xx.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, jsonify, request
from sqlalchemy import select

from integration import findings as findings_mod
from integration.errors import InputError
from integration.store.models_audit import FINDING_STATUSES, Finding
from integration.watches import push_status
from integration.web import queries, services
from integration.web.auth import csrf_token, current_user, require

bp = Blueprint("api", __name__, url_prefix="/api")

MAX_LIST = 1000


@bp.get("/me")
@require("aggregate", api=True)
def me():
    user = current_user()
    return jsonify({"email": user.email, "roles": sorted(user.roles), "csrf_token": csrf_token()})


@bp.get("/summary")
@require("aggregate", api=True)
def summary():
    svc = services()
    with svc.store.session() as s:
        return jsonify({"findings_by_rule": queries.findings_by_rule(s),
                        "acknowledgement": queries.ack_progress(s, svc.settings, datetime.now(UTC))})


@bp.get("/status")
@require("status", api=True)
def status():
    svc = services()
    with svc.store.session() as s:
        runs = [queries.run_json(r) for r in queries.last_runs(s)]
        outbox = queries.outbox_state(s)
    ready, reason = queries.readiness(svc.store)
    return jsonify({"ready": ready, "reason": reason, "runs": runs, "outbox": outbox,
                    "push": [{"source": a, "mode": b, "detail": c} for a, b, c in push_status(svc)],
                    "config": queries.config_health(svc.settings, svc.dev_login)})


@bp.get("/findings")
@require("findings", api=True)
def findings():
    status = request.args.get("status") or None
    if status is not None and status not in FINDING_STATUSES:
        abort(400, description=f"status must be one of {', '.join(FINDING_STATUSES)}")
    query = select(Finding).order_by(Finding.id)
    if status:
        query = query.where(Finding.status == status)
    if request.args.get("rule"):
        query = query.where(Finding.rule == request.args["rule"])
    if request.args.get("severity"):
        query = query.where(Finding.severity == request.args["severity"])
    with services().store.session() as s:
        rows = [_public(findings_mod.as_json(f)) for f in s.scalars(query.limit(MAX_LIST))]
    return jsonify(rows)


@bp.get("/findings/<int:finding_id>")
@require("findings", api=True)
def finding(finding_id: int):
    user = current_user()
    with services().store.session() as s:
        f = s.get(Finding, finding_id)
        if f is None:
            abort(404)
        findings_mod.log_view(s, finding_id, user.email)
        doc = findings_mod.as_json(f)
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
            if s.get(Finding, finding_id) is None:
                abort(404)
            f = findings_mod.transition(s, finding_id, body["to"], current_user().email, note)
            doc = findings_mod.as_json(f)
    except InputError as exc:
        abort(409, description=str(exc))
    return jsonify(doc)


def _public(doc: dict) -> dict:
    """A list entry: guardian and counterpart addresses (personal, often outside the school) are shown
    on the single-finding view only, where every view is logged."""
    return {**doc, "guardian": None, "counterpart": None}
