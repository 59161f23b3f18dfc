"""One school's acknowledgement round, as the web pages read it (issue 13).

A round belongs to a school (``ack_rounds.school``, unique with the policy version), and the
school's policy version may differ from the trust's. The acknowledgement code decides who is
expected; here the standing is narrowed to the school's own people, so a DSL of school A never
sees school B's staff even while a round still counts the whole roster.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.acknowledgement.matching import Standing, standing
from integration.acknowledgement.report import compliance_report
from integration.acknowledgement.rounds import form_problems
from integration.settings import Settings
from integration.store.models_acks import AckRound
from integration.store.models_roster import Person
from integration.tenancy import Tenant


def for_tenant(settings: Settings, tenant: Tenant) -> Settings:
    """The settings as this school's acknowledgement sees them (its policy version and form)."""
    ack = dataclasses.replace(settings.acknowledgement, policy_version=tenant.policy_version,
                              form_id=tenant.form_id)
    return dataclasses.replace(settings, acknowledgement=ack)


def tenant_round(session: Session, settings: Settings, tenant: Tenant) -> AckRound | None:
    """The school's round of its current policy version. A single school also reads a round not yet
    placed (school ""), which `tenancy_store.adopt` places at the next start."""
    if not tenant.policy_version:
        return None
    schools = [tenant.id] if settings.tenants.is_trust else [tenant.id, ""]
    return session.scalar(select(AckRound).where(AckRound.policy_version == tenant.policy_version,
                                                 AckRound.school.in_(schools))
                          .order_by(AckRound.school.desc()).limit(1))


def tenant_standing(session: Session, settings: Settings, tenant: Tenant, rnd: AckRound) -> Standing:
    """The round's standing limited to the school's people (a single school: everyone)."""
    st = standing(session, rnd, for_tenant(settings, tenant))
    if not settings.tenants.is_trust:
        return st
    ids = set(session.scalars(select(Person.id).where(Person.school == tenant.id)))
    members = [m for m in st.members if m.person_id in ids]
    emails = {m.email for m in members}
    responses = [r for r in st.responses if not r.person_email or r.person_email.lower() in emails]
    return Standing(st.round, members, responses)


def report(session: Session, settings: Settings, tenant: Tenant, now: datetime) -> dict | None:
    """The school's compliance report (`acknowledgement.report`), with its school id; None before a round."""
    rnd = tenant_round(session, settings, tenant)
    if rnd is None:
        return None
    mine = for_tenant(settings, tenant)
    st = tenant_standing(session, settings, tenant, rnd)
    doc = compliance_report(session, st, mine, now, form_problems(rnd, mine))
    if settings.tenants.is_trust:  # the report reads every round and notice: keep this school's
        doc["history"] = history(session, tenant.id)
        elsewhere = set(session.scalars(select(Person.email).where(Person.school.is_not(None),
                                                                   Person.school != tenant.id)))
        doc["no_longer_expected"] = [e for e in doc["no_longer_expected"] if e not in elsewhere]
    return {**doc, "school": tenant.id, "school_name": tenant.name}


def history(session: Session, school: str) -> list[dict]:
    """The school's rounds, oldest first, in the report's "history" shape."""
    def iso(t: datetime | None) -> str | None:
        return t.isoformat().replace("+00:00", "Z") if t else None  # as acknowledgement.report writes it

    return [{"policy_version": r.policy_version, "form_id": r.form_id, "opened_at": iso(r.opened_at),
             "closed_at": iso(r.closed_at), **{k: v for k, v in (r.final_summary or {}).items()
                                               if k in ("acknowledged", "outstanding")}}
            for r in session.scalars(select(AckRound).where(AckRound.school == school).order_by(AckRound.opened_at))]


def progress(session: Session, settings: Settings, tenant: Tenant, now: datetime) -> dict | None:
    """The headline numbers of the school's round (the dashboard and the summary), None before a round."""
    rnd = tenant_round(session, settings, tenant)
    if rnd is None:
        return None
    st = tenant_standing(session, settings, tenant, rnd)
    total, done = len(st.members), len(st.acknowledged)
    return {"school": tenant.id, "policy_version": tenant.policy_version, "form_id": rnd.form_id,
            "expected": total, "acknowledged": done, "outstanding": total - done, "overdue": len(st.overdue(now)),
            "percent": round(100 * done / total) if total else 0}
