"""JSON for the pages added with issue 12 (acknowledgement, reports, a person, the admin's roster and
access log), behind the same sign-in and roles as the pages, and the OpenAPI 3 document of the whole
API at /api/openapi.json (`api_schema`). Lists never carry guardian or counterpart addresses."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, jsonify
from sqlalchemy import select

from integration.store.models_roster import Person
from integration.web import access_log, scope, services
from integration.web.acks_views import current_report
from integration.web.api_schema import openapi_document
from integration.web.auth import current_user, require
from integration.web.people_views import ack_status, visible_person
from integration.web.reading import read
from integration.web.reports_views import report_data
from integration.web.roster_view import RosterIndex

bp = Blueprint("api_pages", __name__, url_prefix="/api")


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


@bp.get("/acks")
@require("acks", api=True)
def acks():
    """One school (a single-school config, the picker's school, or a DSL's only school): its report, or
    null before its first round. Several schools: an array with one entry per school, in config order."""
    tenants = scope.tenants_in(scope.chosen("acks"))
    docs = read(lambda s, settings, now: [current_report(s, settings, now, t)
                                          or {"school": t.id, "school_name": t.name, "round": None} for t in tenants])
    if len(tenants) == 1:
        return jsonify(None if "round" in docs[0] else docs[0])
    return jsonify(docs)


@bp.get("/reports")
@require("aggregate", api=True)
def reports():
    schools = scope.chosen("aggregate")
    data = read(lambda s, settings, now: report_data(s, settings, now, schools))
    w = data["weekly"]
    return jsonify({"weeks": [_iso(x) for x in w["weeks"]], "by_severity": w["severity"],
                    "by_rule": [{"rule": r, "title": t, "weekly": v, "total": n} for t, r, v, n in w["rules"]],
                    "triage": data["triage"],
                    "acknowledgement": None if data["acks"] is None else {
                        "policy_version": data["acks"]["policy_version"], "totals": data["acks"]["totals"],
                        "by_org_unit": [{"org_unit": ou, "percent": p, "acknowledged": a, "expected": e}
                                        for ou, p, a, e in data["acks"]["by_org_unit"]]},
                    "schools": [t.id for t in scope.tenants_in(schools)],
                    "by_school": data["by_school"]})


@bp.get("/people/<path:email>")
@require("findings", api=True)
def person(email: str):
    svc = services()
    email = email.strip().lower()
    schools = scope.chosen("findings")
    with svc.store.session() as s:
        p, _addresses, rows = visible_person(s, email, schools)  # another school's person: 404, nothing logged
        fields = scope.finding_school_fields(s, rows)
        role = RosterIndex(s, svc.settings, [p.id]).explain(p) if p else None
        ack = ack_status(s, svc.settings, p, datetime.now(UTC))
        access_log.log_person_view(s, email, current_user().email)
        return jsonify({
            "email": email, "name": p.name if p else "", "role": p.role if p else "",
            "org_unit": p.org_unit if p else "", "school": p.school if p else None, "role_sources": role.sources if role else [],
            "conflicts": role.conflicts if role else [],
            "courses": [{"platform": a, "name": b, "as": c} for a, b, c in (role.courses if role else [])],
            "acknowledgement": {"state": ack.state, "policy_version": ack.policy_version, "at": _iso(ack.at),
                                "due": _iso(ack.due)},
            "findings": [{"id": f.id, "rule": f.rule, "severity": f.severity, "status": f.status, "staff": f.staff,
                          "pupil": f.pupil, "last_seen": _iso(f.last_seen), **fields[f.id]} for f in rows]})


@bp.get("/admin/roster")
@require("admin", api=True)
def roster():
    svc = services()
    with svc.store.session() as s:
        index = RosterIndex(s, svc.settings)
        out = [index.explain(p) for p in s.scalars(select(Person).order_by(Person.email))]
        return jsonify([{"email": e.person.email, "name": e.person.name, "role": e.person.role,
                         "status": e.person.status, "org_unit": e.person.org_unit, "school": e.person.school,
                         "role_sources": e.sources,
                         "conflicts": e.conflicts, "courses": len(e.courses)} for e in out])


@bp.get("/admin/access-log")
@require("admin", api=True)
def access_log_json():
    with services().store.session() as s:
        rows, _total = access_log.read(s, limit=1000)
        return jsonify([{"at": _iso(e.at), "actor": e.actor, "action": e.action, "finding_id": e.finding_id,
                         "person": e.person or None, "from": e.from_status, "to": e.to_status} for e in rows])


@bp.get("/openapi.json")
@require("aggregate", api=True)
def openapi():
    return jsonify(openapi_document())
