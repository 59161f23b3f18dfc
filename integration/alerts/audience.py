"""Who is told about a finding: the DSLs (and for escalation the deputies) of the finding's schools.

Why a module of its own: routing, bursts, digests and escalation all answer the same question, and
issue 13's rule is that a DSL of one school never sees another school's finding in any of them. A
finding's schools are its ``finding_schools`` rows (the audit writes them; ``tenancy_store``); one in
no school (a trust's central staff) goes to ``[trust] safeguarding_leads``. A single-school config
has one school holding every finding, so its DSLs are ``[alerts] dsl_emails`` as they always were.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.settings import Settings
from integration.store.models_audit import FindingSchool
from integration.tenancy import Tenants

NO_SCHOOL = ""  # the pseudo-school of findings placed in none: the trust's safeguarding leads


def clean(addresses: Iterable[str]) -> list[str]:
    """Configured addresses, trimmed, lower-cased, de-duplicated, order kept."""
    seen: dict[str, None] = {}
    for a in addresses:
        a = a.strip().lower()
        if a:
            seen.setdefault(a, None)
    return list(seen)


def schools_of(session: Session, tenants: Tenants, finding_ids: Iterable[int]) -> dict[int, list[str]]:
    """Each finding's schools, sorted (``[]`` = in none). A single-school config places every finding
    in its one school, whether or not ``adopt`` has written the row yet."""
    ids = list(finding_ids)
    if not tenants.is_trust:
        return {i: [tenants.schools[0].id] for i in ids}
    out: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for fid, school in session.execute(select(FindingSchool.finding_id, FindingSchool.school)
                                           .where(FindingSchool.finding_id.in_(ids))):
            out[fid].append(school)
    return {i: sorted(set(s)) for i, s in out.items()}


def dsls(settings: Settings, tenants: Tenants, schools: list[str]) -> list[str]:
    """Who is alerted about a finding in ``schools``: those schools' DSLs, or the trust's leads for none."""
    if not schools:
        return clean(settings.trust.safeguarding_leads)
    return clean(tenants.recipients(schools)[0])


def deputies(tenants: Tenants, schools: list[str]) -> list[str]:
    """Who an untriaged high alert escalates to: the deputies of the finding's schools (none for a
    finding in no school: the trust's leads were alerted themselves)."""
    return clean(tenants.recipients(schools)[1]) if schools else []


def outbox_school(schools: list[str]) -> str | None:
    """An email's ``outbox.school``: the one school it concerns, None when several or none."""
    return schools[0] if len(schools) == 1 else None


def school_names(tenants: Tenants, settings: Settings, schools: Iterable[str]) -> str:
    """How emails name where something happened: the schools' names, or the trust's for none."""
    names = [t.name or t.id for t in tenants.schools if t.id in set(schools)]
    if not names:
        return settings.trust.name or settings.school.name
    if not tenants.is_trust:
        return settings.school.name
    return " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + " and " + names[-1]


@dataclass
class Mailbox:
    """One recipient and what they may be told of: the schools they are a DSL of (NO_SCHOOL for the
    trust's leads, who are alerted about findings in no school)."""

    address: str
    schools: set[str] = field(default_factory=set)

    def concerns(self, finding_schools: list[str]) -> bool:
        return bool(self.schools & set(finding_schools or [NO_SCHOOL]))


def mailboxes(settings: Settings, tenants: Tenants) -> list[Mailbox]:
    """Every DSL address once, with its schools, in the config's order (then the trust's leads)."""
    out: dict[str, Mailbox] = {}
    for t in tenants.schools:
        for a in clean(t.dsl_emails):
            out.setdefault(a, Mailbox(a)).schools.add(t.id)
    if tenants.is_trust:
        for a in clean(settings.trust.safeguarding_leads):
            out.setdefault(a, Mailbox(a)).schools.add(NO_SCHOOL)
    return list(out.values())
