"""Downloads: the inbox as CSV (the same filters as the page) and one finding's evidence pack, plain
text that pastes into CPOMS or MyConcern.

CSV cells go through `integration.csv_safe` (names and file titles come from outside). Lists never
carry guardian or counterpart addresses; the evidence pack of one finding does, for the DSL, and
downloading it is recorded on the finding's log like a view.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response

from integration.csv_safe import to_csv
from integration.rules import rule_title
from integration.settings import Settings
from integration.store.models_audit import FindingEvent
from integration.web import services
from integration.web.auth import current_user, require
from integration.web.filters import localtime
from integration.web.findings_views import finding_context
from integration.web.reading import findings_listing

bp = Blueprint("exports", __name__)

FINDINGS_HEADER = ("id", "rule", "what", "severity", "status", "staff", "staff_name", "pupil", "pupil_name",
                   "confidence", "source", "policy", "first_seen", "last_seen", "occurrences", "school", "schools")


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else ""


def _download(body: str, filename: str, mimetype: str) -> Response:
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/findings.csv")
@require("findings")
def findings_csv():
    _f, found = findings_listing(everything=True)
    name = found.name
    body = to_csv(FINDINGS_HEADER, ([r.id, r.rule, rule_title(r.rule), r.severity, r.status, r.staff or "",
                                     name(r.staff), r.pupil or "", name(r.pupil), r.confidence, r.source,
                                     "; ".join(r.policy or []), _iso(r.first_seen), _iso(r.last_seen),
                                     r.occurrences, found.schools[r.id]["school"] or "",
                                     "; ".join(found.schools[r.id]["schools"])] for r in found.page.rows))
    return _download(body, f"findings-{datetime.now(UTC):%Y-%m-%d}.csv", "text/csv")


def evidence_text(ctx: dict, school: str) -> str:
    """The pack: plain text with labelled lines, so it pastes cleanly into a safeguarding record."""
    f, who, text = ctx["f"], ctx["who"], ctx["text"]

    def named(address: str | None) -> str:
        if not address:
            return "—"
        label = who[address.lower()].label
        return f"{label} <{address}>" if label else address

    lines = [f"SafeChannels finding #{f['id']} — {school}", "",
             f"What: {rule_title(f['rule'])} ({f['rule']})",
             f"Severity: {f['severity']}    Status: {f['status'].replace('_', ' ')}",
             f"When: first {localtime(f['first_seen'])}, last {localtime(f['last_seen'])}, "
             f"{f['occurrences']} occurrence(s)", "",
             f"What happened: {ctx['what']}" if text.what else "", ""]
    if text.clause:
        lines += [f"Policy ({text.policy}): “{text.clause}”", ""]
    lines += ["People:", f"  Staff: {named(f['staff'])}", f"  Pupil: {named(f['pupil'])}",
              f"  Parent or carer: {named(f['guardian'])}", f"  Counterpart: {named(f['counterpart'])}",
              f"  Confidence: {f['confidence']}", "", "Evidence (metadata only; no message or file contents):"]
    lines += [f"  {k}: {v}" for k, v, _ in ctx["evidence"]]
    lines += [f"  {link.label}: {link.href}" + (f" (search for {link.search_for})" if link.search_for else "")
              for link in ctx["links"]]
    lines += ["", "Triage history:"]
    lines += [f"  {localtime(e.at)}  {e.actor}  {(e.from_status or 'created')} -> {e.to_status}"
              + (f"  — {e.note}" if e.note else "") for e in ctx["history"]]
    if text.next:
        lines += ["", f"Suggested next step: {text.next}"]
    return "\n".join(line for line in lines if line is not None) + "\n"


def pack_heading(settings: Settings, schools: list[str]) -> str:
    """Whose record this is: the school, or in a trust the trust and the finding's schools."""
    tenants = settings.tenants
    if not tenants.is_trust:
        return settings.school.name
    names = [t.name for t in tenants.schools if t.id in schools]
    return f"{settings.trust.name}: {', '.join(names)}" if names else settings.trust.name


@bp.get("/findings/<int:finding_id>/evidence.txt")
@require("counterparts")
def evidence_pack(finding_id: int):
    svc, user = services(), current_user()
    with svc.store.session() as s:
        ctx = finding_context(s, finding_id)
        s.add(FindingEvent(finding_id=finding_id, action="exported", actor=user.email, at=datetime.now(UTC)))
        body = evidence_text(ctx, pack_heading(svc.settings, ctx["schools"]["schools"]))
    return _download(body, f"finding-{finding_id}.txt", "text/plain")
