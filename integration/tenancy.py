"""Schools as tenants: which school a person belongs to, and what each school has of its own.

A multi-academy trust lists its schools as ``[[schools]]``; a single-school config is one tenant
built from ``[school]``, ``[alerts]``, ``[channels]`` and ``[acknowledgement]``, so every caller
handles one list whatever the config. A school is made of Directory org units (one Google domain
for the trust, an OU tree per school) or of a whole domain (one domain per school); a person is
placed by their address's domain first, then by the deepest org unit that contains theirs.

Placement is data, not access control: who may see a school's findings is decided from these
tenants in the web layer (integration/web/scope.py), never from a request parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from integration.settings import Settings

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass
class Tenant:
    """One school of the trust (the keys of a ``[[schools]]`` table). Empty values inherit the
    trust-wide section's (working_hours from [channels], policy_version and form_id from
    [acknowledgement]), so a trust writes only what differs."""

    id: str = ""
    name: str = ""
    org_units: list[str] = field(default_factory=list)
    domain: str = ""
    dsl_emails: list[str] = field(default_factory=list)
    deputy_emails: list[str] = field(default_factory=list)
    viewer_users: list[str] = field(default_factory=list)  # governors: this school's reports only
    working_hours: str = ""
    policy_version: str = ""
    form_id: str = ""
    personal_address_register: str = ""
    exceptions_register: str = ""

    def contains_unit(self, org_unit: str) -> int:
        """How deep the deepest of this school's org units containing ``org_unit`` is (0 = none)."""
        best = 0
        unit = (org_unit or "/").rstrip("/") + "/"
        for ou in self.org_units:
            root = ou.rstrip("/") + "/"
            if unit.lower().startswith(root.lower()):
                best = max(best, root.count("/"))
        return best


TENANT_KEYS: dict[str, Any] = {
    "id": str, "name": str, "org_units": list[str], "domain": str, "dsl_emails": list[str],
    "deputy_emails": list[str], "viewer_users": list[str], "working_hours": str, "policy_version": str,
    "form_id": str, "personal_address_register": str, "exceptions_register": str,
}


def default_id(domain: str) -> str:
    """A single school's id when ``[school] id`` is not set: its domain's first label ("northfield")."""
    label = (domain or "school").split(".")[0].lower()
    return re.sub(r"[^a-z0-9_-]", "-", label)[:64] or "school"


@dataclass
class Tenants:
    """The resolved list of schools, with placement of people into them."""

    schools: list[Tenant]
    is_trust: bool = False

    @classmethod
    def of(cls, settings: Settings) -> Tenants:
        if settings.schools:
            resolved = [_inherit(t, settings) for t in settings.schools]
            return cls(resolved, is_trust=True)
        s = settings
        one = Tenant(id=s.school.id or default_id(s.school.domain), name=s.school.name, org_units=[],
                     domain="", dsl_emails=list(s.alerts.dsl_emails), deputy_emails=list(s.alerts.deputy_emails),
                     viewer_users=[], working_hours=s.channels.working_hours,
                     policy_version=s.acknowledgement.policy_version, form_id=s.acknowledgement.form_id,
                     personal_address_register=s.channels.personal_address_register,
                     exceptions_register=s.channels.exceptions_register)
        return cls([one], is_trust=False)

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.schools]

    def get(self, school_id: str) -> Tenant | None:
        return next((t for t in self.schools if t.id == school_id), None)

    def school_for(self, email: str, org_unit: str = "/") -> str | None:
        """The school a school account belongs to, or None (a trust's central staff, an OU in no school).
        A single-school config places everyone in its one school."""
        if not self.is_trust:
            return self.schools[0].id
        domain = email.rpartition("@")[2].lower()
        for t in self.schools:
            if t.domain and (domain == t.domain.lower() or domain.endswith("." + t.domain.lower())):
                return t.id
        depth, best = 0, None
        for t in self.schools:
            d = t.contains_unit(org_unit)
            if d > depth:
                depth, best = d, t.id
        return best

    def recipients(self, school_ids: list[str] | set[str]) -> tuple[list[str], list[str]]:
        """(DSLs, deputies) of these schools, each address once, in the config's order."""
        dsl: list[str] = []
        deputies: list[str] = []
        for t in self.schools:
            if t.id in school_ids:
                dsl += [a for a in t.dsl_emails if a not in dsl]
                deputies += [a for a in t.deputy_emails if a not in deputies]
        return dsl, deputies


def _inherit(t: Tenant, s: Settings) -> Tenant:
    return Tenant(**{**t.__dict__,
                     "name": t.name or t.id,
                     "working_hours": t.working_hours or s.channels.working_hours,
                     "policy_version": t.policy_version or s.acknowledgement.policy_version,
                     "form_id": t.form_id or ("" if t.policy_version else s.acknowledgement.form_id)})


def tenant_problems(s: Settings, where: str, hhmm: re.Pattern) -> list[str]:
    """What is wrong with [[schools]] (each problem names the school and the key)."""
    out: list[str] = []
    if s.school.id and not _ID.match(s.school.id):
        out.append(f"{where}: [school] id must be lower-case letters, digits, '-' or '_' (up to 64), got {s.school.id!r}")
    seen_ids: set[str] = set()
    seen_units: dict[str, str] = {}
    seen_domains: dict[str, str] = {}
    for n, t in enumerate(s.schools, 1):
        label = f"[[schools]] #{n}" + (f" ({t.id})" if t.id else "")
        if not _ID.match(t.id):
            out.append(f"{where}: {label}: id must be lower-case letters, digits, '-' or '_' (up to 64), "
                       f"got {t.id!r}")
        elif t.id in seen_ids:
            out.append(f"{where}: {label}: id {t.id!r} is used by two schools")
        seen_ids.add(t.id)
        if not t.org_units and not t.domain:
            out.append(f"{where}: {label}: give org_units (e.g. ['/Schools/Kingsmead']) or domain "
                       "(e.g. 'kingsmead.sch.uk'): nothing places anyone in this school")
        for ou in t.org_units:
            if not ou.startswith("/"):
                out.append(f"{where}: {label}: org unit paths start with '/', got {ou!r}")
            elif ou.rstrip("/").lower() in seen_units:
                out.append(f"{where}: {label}: org unit {ou!r} is already school {seen_units[ou.rstrip('/').lower()]!r}'s")
            else:
                seen_units[ou.rstrip("/").lower()] = t.id
        if t.domain:
            if "." not in t.domain or "@" in t.domain:
                out.append(f"{where}: {label}: domain must be a domain such as 'kingsmead.sch.uk', got {t.domain!r}")
            elif t.domain.lower() in seen_domains:
                out.append(f"{where}: {label}: domain {t.domain!r} is already school {seen_domains[t.domain.lower()]!r}'s")
            else:
                seen_domains[t.domain.lower()] = t.id
        hours = t.working_hours.split("-") if t.working_hours else []
        if t.working_hours and (len(hours) != 2 or not all(hhmm.match(h) for h in hours)):
            out.append(f"{where}: {label}: working_hours must be 'HH:MM-HH:MM', got {t.working_hours!r}")
        if not t.dsl_emails:
            out.append(f"{where}: {label}: dsl_emails is empty: this school's alerts would reach nobody")
    if s.schools and s.trust.name == "":
        out.append(f"{where}: [trust] name is required when [[schools]] lists the trust's schools")
    return out
