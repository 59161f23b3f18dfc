"""What `acks` prints: the operator's status (contract JSON) and the governors' compliance report.

The status is exactly ``{"school","policy_version","form_id","acknowledged","outstanding","staff":[...]}``
(``school``: the round's school id; issue 13).
The compliance report groups the expected people by org unit and role (acknowledged %,
outstanding names, days overdue) and lists every response that did not count, with why.
Addresses outside the school's domains are masked in the report: it is read by governors.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import func, select

from integration.acknowledgement.matching import COUNTED, Standing
from integration.acknowledgement.rounds import Problem, manual_steps
from integration.acknowledgement.schools import school_name
from integration.csv_safe import to_csv
from integration.logs import redact
from integration.settings import Settings
from integration.store.models_acks import AckNotice, AckRound


def _iso(t: datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t else None


def reminders_sent(session, round_id: int) -> dict[str, int]:
    rows = session.execute(select(AckNotice.recipient, func.count()).where(
        AckNotice.round_id == round_id, AckNotice.kind == "reminder").group_by(AckNotice.recipient))
    return {r: n for r, n in rows}


def status_json(session, st: Standing) -> dict:
    """The operator contract of `acks --json`."""
    sent = reminders_sent(session, st.round.id)
    return {
        "school": st.round.school or None,
        "policy_version": st.round.policy_version,
        "form_id": st.round.form_id,
        "acknowledged": len(st.acknowledged),
        "outstanding": len(st.outstanding),
        "staff": [{"email": m.email, "acknowledged_at": _iso(m.acknowledged_at), "reminders_sent": sent.get(m.email, 0)}
                  for m in sorted(st.members, key=lambda m: m.email)],
    }


def _percent(done: int, expected: int) -> float | None:
    return round(100.0 * done / expected, 1) if expected else None


def compliance_report(session, st: Standing, settings: Settings, now: datetime,
                      problems: list[Problem] | None = None) -> dict:
    rnd = st.round
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for m in st.members:
        groups[(m.org_unit, m.role)].append(m)
    out_groups = []
    for (ou, role), members in sorted(groups.items()):
        done = [m for m in members if m.acknowledged_at]
        outstanding = sorted((m for m in members if not m.acknowledged_at), key=lambda m: m.name.lower())
        out_groups.append({
            "org_unit": ou, "role": role, "expected": len(members), "acknowledged": len(done),
            "percent": _percent(len(done), len(members)),
            "outstanding": [{"name": m.name, "email": m.email, "asked": _iso(m.anchor), "due": _iso(m.due),
                             "days_overdue": max(0, (now - m.due).days) if now >= m.due else 0,
                             "new_starter": m.new_starter} for m in outstanding],
        })
    expected = {m.person_id for m in st.members}
    notified = set(session.scalars(select(AckNotice.recipient).where(
        AckNotice.round_id == rnd.id, AckNotice.kind != "escalation")))
    no_longer = sorted(notified - {m.email for m in st.members})
    history = [{"policy_version": r.policy_version, "form_id": r.form_id, "opened_at": _iso(r.opened_at),
                "closed_at": _iso(r.closed_at), **{k: v for k, v in (r.final_summary or {}).items()
                                                   if k in ("acknowledged", "outstanding")}}
               for r in session.scalars(select(AckRound).where(AckRound.school.in_((rnd.school, "")))
                                        .order_by(AckRound.opened_at))]
    return {
        "school": rnd.school or None,
        "school_name": school_name(settings, rnd),
        "policy_version": rnd.policy_version,
        "form_id": rnd.form_id,
        "responder_uri": rnd.responder_uri,
        "generated_at": _iso(now),
        "opened_at": _iso(rnd.opened_at),
        "deadline_days": settings.acknowledgement.deadline_days,
        "totals": {"expected": len(expected), "acknowledged": len(st.acknowledged),
                   "outstanding": len(st.outstanding), "overdue": len(st.overdue(now)),
                   "percent": _percent(len(st.acknowledged), len(expected))},
        "groups": out_groups,
        "responses": {"counts": st.counts(),
                      "not_counted": [{"response_id": r.response_id, "email": redact(r.email) if r.email else "",
                                       "submitted": _iso(r.submitted), "status": r.status,
                                       "resubmissions": r.resubmissions}
                                      for r in st.responses if r.status != COUNTED or r.resubmissions]},
        "no_longer_expected": no_longer,
        "form": {"collects_email": rnd.collects_email, "email_collection_type": rnd.email_collection_type,
                 "setup_state": rnd.setup_state, "problems": [p.as_json() for p in problems or []],
                 "manual_steps": manual_steps(settings)},
        "history": history,
    }


CSV_COLUMNS = ("policy_version", "org_unit", "role", "expected", "acknowledged", "percent_acknowledged",
               "outstanding", "outstanding_names", "max_days_overdue")


def compliance_csv(report: dict | list[dict]) -> str:
    """One row per org unit and role; outstanding names with their days overdue in one cell. A trust's
    reports (a list, one per school) are one CSV with a leading ``school`` column.

    Names come from the Directory, so every cell goes through `csv_safe` (no live formulas).
    """
    if isinstance(report, list):
        rows = [[r["school"] or "", *row] for r in report for row in _csv_rows(r)]
        return to_csv(("school", *CSV_COLUMNS), rows)
    return to_csv(CSV_COLUMNS, _csv_rows(report))


def _csv_rows(report: dict) -> list[list]:
    rows = []
    for g in report["groups"]:
        names = "; ".join(f"{o['name']} ({o['days_overdue']} days overdue)" if o["days_overdue"] else o["name"]
                          for o in g["outstanding"])
        rows.append([report["policy_version"], g["org_unit"], g["role"], g["expected"], g["acknowledged"],
                     "" if g["percent"] is None else g["percent"], len(g["outstanding"]), names,
                     max((o["days_overdue"] for o in g["outstanding"]), default=0)])
    t = report["totals"]
    rows.append([report["policy_version"], "(all)", "(all)", t["expected"], t["acknowledged"],
                 "" if t["percent"] is None else t["percent"], t["outstanding"], "", ""])
    return rows
