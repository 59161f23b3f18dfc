"""The status dashboard and the health probes (the findings pages are in `findings_views`)."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from integration.watches import push_status
from integration.web import queries, scope, services
from integration.web.auth import current_user, require
from integration.web.reading import read

bp = Blueprint("ui", __name__)


@bp.get("/")
@require("aggregate")
def dashboard():
    svc, user = services(), current_user()
    schools = scope.chosen("aggregate")

    def counts(s, settings, now) -> dict:
        data = {"by_rule": queries.findings_by_rule(s, schools), "acks": queries.ack_progress(s, settings, now, schools)}
        if user.can("status"):
            data["runs"] = queries.last_runs(s)
            data["outbox"] = queries.outbox_state(s, scope.intersect(schools, user.schools_for("status")))
        return data

    data = read(counts)
    if user.can("status"):
        data["push"] = push_status(svc)
        data["health"] = queries.config_health(svc.settings, svc.dev_login)
    totals = {sev: sum(r["open"] for r in data["by_rule"] if r["severity"] == sev) for sev in queries.SEVERITIES}
    return render_template("dashboard.html", totals=totals, **data)


@bp.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    ok, reason = queries.readiness(services().store)
    return jsonify({"ready": ok, "reason": reason}), (200 if ok else 503)
