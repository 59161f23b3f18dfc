"""The IT admin's pages (/admin/...): setup (doctor's checks, the client ID and scopes to paste,
the last runs of every job with their errors), the roster with where each role came from, register
uploads validated row by row before they are applied, the access log, and the configuration with
secrets never shown.

The admin sees no individual findings: the access log names a finding by id and rule only.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from integration import registers
from integration.errors import ConfigError, SafeChannelsError
from integration.logs import event
from integration.store.base import current_crypto
from integration.store.models_ops import Run
from integration.store.models_roster import Person
from integration.web import access_log as access
from integration.web import queries, services
from integration.web.auth import current_user, log, require
from integration.web.roster_view import RosterIndex

bp = Blueprint("admin", __name__, url_prefix="/admin")

SECRET_WORDS = ("secret", "password", "token", "key")  # config keys whose values are never shown
ROSTER_PAGE = 200
LOG_PAGE = 100
REGISTERS = {registers.PERSONAL: "Personal-address register", registers.EXCEPTIONS: "Exceptions register"}


# ------------------------------------------------------------------ setup


def doctor_run(session) -> Run | None:
    return session.scalar(select(Run).where(Run.job == "doctor").order_by(Run.id.desc()).limit(1))


@bp.get("/setup")
@require("admin")
def setup():
    svc = services()
    with svc.store.session() as s:
        runs = queries.last_runs(s)
        failures = list(s.scalars(select(Run).where(Run.status.in_(("failed", "partial")))
                                  .order_by(Run.id.desc()).limit(20)))
        doctor = doctor_run(s)
    try:
        delegation = svc.delegation_text() if svc.delegation_text else ""
    except SafeChannelsError as exc:
        delegation = f"(cannot be built: {exc})"
    return render_template("admin_setup.html", runs=[r for r in runs if r.job != "doctor"], failures=failures,
                           doctor=doctor, delegation=delegation,
                           health=queries.config_health(svc.settings, svc.dev_login))


@bp.post("/setup/doctor")
@require("admin")
def run_doctor():
    """Run `doctor`'s checks now (they call Google) and keep the result as a run of job "doctor"."""
    svc, user = services(), current_user()
    started = datetime.now(UTC)
    try:
        checks = [c.as_json() for c in (svc.doctor_checks() if svc.doctor_checks else [])]
    except SafeChannelsError as exc:
        checks = [{"name": "config", "ok": False, "detail": str(exc), "fix": getattr(exc, "fix", "")}]
    failed = [c for c in checks if not c["ok"]]
    with svc.store.session() as s:
        s.add(Run(job="doctor", status="failed" if failed else "ok", started_at=started,
                  finished_at=datetime.now(UTC), summary={"checks": checks, "by": user.email},
                  error="; ".join(c["name"] for c in failed)[:2000]))
    flash(f"Checks run: {len(checks) - len(failed)} passed, {len(failed)} failed.",
          "error" if failed else "success")
    return redirect(url_for("admin.setup"))


# ------------------------------------------------------------------ roster


@bp.get("/roster")
@require("admin")
def roster():
    svc = services()
    role = request.args.get("role", "")
    conflicts_only = request.args.get("conflicts") == "1"
    page = max(1, request.args.get("page", 1, type=int) or 1)
    with svc.store.session() as s:
        q = select(Person).order_by(Person.role, Person.email)
        if role:
            q = q.where(Person.role == role)
        people = list(s.scalars(q))
        index = RosterIndex(s, svc.settings)
        explained = [index.explain(p) for p in people]
    if conflicts_only:
        explained = [e for e in explained if e.conflicts]
    total = len(explained)
    pages = max(1, -(-total // ROSTER_PAGE))
    page = min(page, pages)
    counts = {r: sum(1 for e in explained if e.person.role == r) for r in ("staff", "pupil", "former_pupil", "other")}
    return render_template("admin_roster.html", rows=explained[(page - 1) * ROSTER_PAGE:page * ROSTER_PAGE],
                           total=total, page=page, pages=pages, role=role, conflicts_only=conflicts_only,
                           counts=counts, conflicts=sum(1 for e in explained if e.conflicts))


# ------------------------------------------------------------------ registers


def _validate(register: str, raw: bytes) -> registers.ImportReport:
    """Import the upload into a transaction that is rolled back: the row-level report, nothing applied."""
    svc = services()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{register}.csv"
        path.write_bytes(raw)
        with svc.store.session() as s:
            now = datetime.now(UTC)
            if register == registers.PERSONAL:
                report = registers.import_personal(s, path, current_crypto(), set(svc.settings.approved_domains), now)
            else:
                report = registers.import_exceptions(s, path, current_crypto(), now)
            s.rollback()
    return report


@bp.get("/registers")
@require("admin")
def registers_page():
    svc = services()
    with svc.store.session() as s:
        imports = {r.register: r for r in s.scalars(select(registers.RegisterImport))}
    configured = {reg: getattr(svc.settings.channels, key) for reg, key in registers.CONFIG_KEYS.items()}
    return render_template("admin_registers.html", imports=imports, configured=configured, names=REGISTERS,
                           headers=registers.HEADERS, keys=registers.CONFIG_KEYS, report=None)


@bp.post("/registers/check")
@require("admin")
def registers_check():
    """Step 1: upload → every row validated and shown; nothing is changed yet."""
    svc = services()
    register = request.form.get("register", "")
    if register not in REGISTERS:
        abort(400, description="choose which register the file is")
    upload = request.files.get("file")
    raw = upload.read() if upload else b""
    if not raw:
        flash("Choose a CSV file to upload.", "error")
        return redirect(url_for("admin.registers_page"))
    name = (upload.filename or "upload.csv").rsplit("/", 1)[-1]
    try:
        report = _validate(register, raw)
    except ConfigError as exc:
        flash(f"{name} was not accepted: {str(exc).split(': ', 1)[-1]}", "error")
        return redirect(url_for("admin.registers_page"))
    with svc.store.session() as s:
        imports = {r.register: r for r in s.scalars(select(registers.RegisterImport))}
    configured = {reg: getattr(svc.settings.channels, key) for reg, key in registers.CONFIG_KEYS.items()}
    problems = ["line " + p.split(":", 1)[-1] for p in report.problems]  # "<tmp name>:3: …" -> "line 3: …"
    return render_template("admin_registers.html", imports=imports, configured=configured, names=REGISTERS,
                           headers=registers.HEADERS, keys=registers.CONFIG_KEYS, report=report, register=register,
                           filename=name, problems=problems, payload=base64.b64encode(raw).decode(),
                           digest=hashlib.sha256(raw).hexdigest())


@bp.post("/registers/apply")
@require("admin")
def registers_apply():
    """Step 2: the checked file replaces the configured register file and is imported at once."""
    svc, user = services(), current_user()
    register = request.form.get("register", "")
    if register not in REGISTERS:
        abort(400, description="choose which register the file is")
    try:
        raw = base64.b64decode(request.form.get("payload", ""), validate=True)
    except (binascii.Error, ValueError):
        abort(400, description="the checked file did not come back intact; upload it again")
    if hashlib.sha256(raw).hexdigest() != request.form.get("digest", ""):
        abort(400, description="the checked file did not come back intact; upload it again")
    configured = getattr(svc.settings.channels, registers.CONFIG_KEYS[register])
    if not configured:
        flash(f"Set [channels] {registers.CONFIG_KEYS[register]} to the file's path in the configuration first: "
              "the audit imports the register from there.", "error")
        return redirect(url_for("admin.registers_page"))
    path = svc.settings.resolve(configured)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".uploading")
        tmp.write_bytes(raw)
        tmp.replace(path)  # atomic: the audit never reads half a file
        with svc.store.session() as s:
            reports = registers.sync_registers(s, svc.settings, current_crypto(), datetime.now(UTC))
    except (OSError, ConfigError) as exc:
        flash(f"The register was not applied: {exc}", "error")
        return redirect(url_for("admin.registers_page"))
    loaded = next((r for r in reports if r.register == register), None)
    event(log, "web.register_uploaded", register=register, by=user.email, rows=loaded.loaded if loaded else 0)
    flash(f"{REGISTERS[register]} applied: {loaded.loaded if loaded else 0} rows in force"
          + (f", {len(loaded.problems)} rows skipped" if loaded and loaded.problems else "") + ".", "success")
    return redirect(url_for("admin.registers_page"))


# ------------------------------------------------------------------ access log


@bp.get("/access-log")
@require("admin")
def access_log():
    svc = services()
    actor = request.args.get("actor", "").strip().lower()
    finding = request.args.get("finding", type=int)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    with svc.store.session() as s:
        rows, total = access.read(s, actor=actor, finding=finding, offset=(page - 1) * LOG_PAGE, limit=LOG_PAGE)
    return render_template("admin_access_log.html", rows=rows, total=total, page=page,
                           pages=max(1, -(-total // LOG_PAGE)), actor=actor, finding=finding or "")


# ------------------------------------------------------------------ configuration


def config_rows(settings) -> list[tuple[str, str, str]]:
    """(section, key, shown value) for every setting; secrets and URLs with passwords are never shown."""
    rows = []
    for f in dataclasses.fields(settings):
        section = getattr(settings, f.name)
        if not dataclasses.is_dataclass(section):
            continue
        for sub in dataclasses.fields(section):
            value = getattr(section, sub.name)
            secret = any(w in sub.name for w in SECRET_WORDS) and not sub.name.endswith("_file")
            if secret:
                shown = "(set — not shown)" if value else "(not set)"
            elif sub.name == "smtp_url" and "@" in str(value):
                scheme, _, rest = str(value).partition("://")
                shown = f"{scheme}://(credentials not shown)@{rest.rsplit('@', 1)[-1]}"
            else:
                shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
            rows.append((f.name, sub.name, shown))
    return rows


@bp.get("/config")
@require("admin")
def config():
    svc = services()
    return render_template("admin_config.html", rows=config_rows(svc.settings), source=svc.settings.source_path)
