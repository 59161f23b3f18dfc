"""Which school a round belongs to, and what of it the acknowledgement uses (issue 13).

Why here: every round is one school's (``ack_rounds.school``, unique with the policy version), and
the round is what every other function is handed (the web pages too), so the school's tenant is
derived from the round rather than passed alongside it. A single-school config has one tenant,
built from ``[school]``, ``[alerts]`` and ``[acknowledgement]``, so nothing changes for it.
"""

from __future__ import annotations

from integration.errors import InputError
from integration.settings import Settings
from integration.store.models_acks import AckRound
from integration.tenancy import Tenant


def tenant_for(settings: Settings, school: str) -> Tenant:
    """The tenant of ``school`` ('' = a round from before 0014 not yet adopted: the single school's).
    A school since removed from the config keeps its id and name, with nobody to escalate to."""
    tenants = settings.tenants
    found = tenants.get(school)
    if found is not None:
        return found
    if not tenants.is_trust:
        return tenants.schools[0]
    return Tenant(id=school, name=school, policy_version=settings.acknowledgement.policy_version)


def tenant_of(settings: Settings, rnd: AckRound) -> Tenant:
    return tenant_for(settings, rnd.school)


def school_name(settings: Settings, rnd: AckRound) -> str:
    """How emails and forms name the school: ``[school] name``, or the trust school's name."""
    return tenant_of(settings, rnd).name if settings.tenants.is_trust else settings.school.name


def chosen(settings: Settings, school: str | None) -> list[Tenant]:
    """The schools a run is about: ``school`` alone (``--school``), else every school in config order."""
    tenants = settings.tenants
    if not school:
        return list(tenants.schools)
    found = tenants.get(school)
    if found is None:
        raise InputError(f"school {school!r} is not a school of this config (known school ids: "
                         f"{', '.join(tenants.ids)})")
    return [found]


def escalation_recipients(settings: Settings, tenant: Tenant) -> list[str]:
    """Who hears of a school's overdue staff: ``[acknowledgement] escalate_to`` and the school's DSLs
    (``[alerts] dsl_emails`` for a single school), each once."""
    seen: dict[str, None] = {}
    for a in settings.acknowledgement.escalate_to + tenant.dsl_emails:
        a = a.strip().lower()
        if a:
            seen.setdefault(a, None)
    return list(seen)
