"""One school's acknowledgement round, as the web pages read it (issue 13).

A round belongs to a school (``ack_rounds.school``, unique with the policy version) and expects that
school's staff (`acknowledgement.matching.population`); the school's policy version may differ from
the trust's. The pages show one school's round at a time, or each school's headline side by side.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from integration.acknowledgement.matching import standing
from integration.acknowledgement.report import compliance_report
from integration.acknowledgement.rounds import current_round, form_problems
from integration.settings import Settings
from integration.store.models_acks import AckRound
from integration.tenancy import Tenant


def tenant_round(session: Session, tenant: Tenant) -> AckRound | None:
    """The school's round of its current policy version (None before the worker opens it)."""
    return current_round(session, tenant.policy_version, tenant.id) if tenant.policy_version else None


def report(session: Session, settings: Settings, tenant: Tenant, now: datetime) -> dict | None:
    """The school's compliance report (`acknowledgement.report`), None before its round opens."""
    rnd = tenant_round(session, tenant)
    if rnd is None:
        return None
    doc = compliance_report(session, standing(session, rnd, settings), settings, now, form_problems(rnd, settings))
    return {**doc, "school": tenant.id, "school_name": tenant.name}


def progress(session: Session, settings: Settings, tenant: Tenant, now: datetime) -> dict | None:
    """The headline numbers of the school's round (the dashboard, the summary, the roll-ups)."""
    rnd = tenant_round(session, tenant)
    if rnd is None:
        return None
    st = standing(session, rnd, settings)
    total, done = len(st.members), len(st.acknowledged)
    return {"school": tenant.id, "policy_version": tenant.policy_version, "form_id": rnd.form_id,
            "expected": total, "acknowledged": done, "outstanding": total - done, "overdue": len(st.overdue(now)),
            "percent": round(100 * done / total) if total else 0}
