"""Which schools the signed-in user may see, and the one place every page, export and API route applies it.

Roles are granted per school (common contract, issue 13): a school's ``dsl_emails`` and
``deputy_emails`` are its DSLs, its ``viewer_users`` its governors; ``[trust] safeguarding_leads``
are DSLs of every school and ``[trust] viewer_users`` viewers of every school; the ``[web]`` lists
keep meaning the whole deployment. A user's reach for a capability is the union of the schools of
the roles that give it (``None`` = every school, including findings placed in none).

Anything outside the reach is answered 404, never 403, so a DSL of school A cannot even learn
that a finding id exists at school B. The ``school`` query parameter (the picker) narrows a
view to one school the user may see; naming any other school is a 404 too.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import abort, request, url_for
from sqlalchemy import ColumnElement, false, select
from sqlalchemy.orm import Session

from integration import finding_places
from integration.settings import Settings
from integration.store.models_audit import Finding, FindingSchool
from integration.store.models_roster import Person
from integration.tenancy import Tenant

Schools = frozenset[str] | None  # None = every school (and what belongs to none)
PARAM = "school"
UNSCOPED_ENDPOINTS = ("static", "auth.", "webhooks.", "admin.", "ui.healthz", "ui.readyz")


def _norm(addresses: Iterable[str]) -> set[str]:
    return {a.strip().lower() for a in addresses if a and a.strip()}


def grants_for(settings: Settings, email: str) -> dict[str, Schools]:
    """Role -> the schools it covers for ``email`` (None = all). Empty: no access at all."""
    email = email.strip().lower()
    out: dict[str, Schools] = {}

    def give(role: str, schools: Schools) -> None:
        if role in out and (out[role] is None or schools is None):
            out[role] = None
        else:
            out[role] = (out.get(role) or frozenset()) | schools if schools is not None else None

    w = settings.web
    for role, users in (("dsl", w.dsl_users), ("admin", w.admin_users), ("viewer", w.viewer_users)):
        if email in _norm(users):
            give(role, None)
    tenants = settings.tenants
    if tenants.is_trust:  # a single school's roles stay in [web]: its [alerts] recipients are not web users
        if email in _norm(settings.trust.safeguarding_leads):
            give("dsl", None)
        if email in _norm(settings.trust.viewer_users):
            give("viewer", None)
        for t in tenants.schools:
            if email in _norm([*t.dsl_emails, *t.deputy_emails]):
                give("dsl", frozenset({t.id}))
            if email in _norm(t.viewer_users):
                give("viewer", frozenset({t.id}))
    return out


def reach(grants: dict[str, Schools], roles_with: Iterable[str]) -> Schools:
    """The union of the schools of ``roles_with`` that the user holds (None = all)."""
    held = [grants[r] for r in roles_with if r in grants]
    if any(s is None for s in held):
        return None
    return frozenset().union(*held) if held else frozenset()


def everyone_listed(settings: Settings) -> list[str]:
    """Every address with some role (the development sign-in's list)."""
    w, t = settings.web, settings.tenants
    users = [*w.dsl_users, *w.admin_users, *w.viewer_users]
    if t.is_trust:
        users += [*settings.trust.safeguarding_leads, *settings.trust.viewer_users]
        for s in t.schools:
            users += [*s.dsl_emails, *s.deputy_emails, *s.viewer_users]
    return sorted(_norm(users))


# ------------------------------------------------------------------ the request's scope


def _user():
    from integration.web.auth import current_user

    return current_user()


def _settings() -> Settings:
    from integration.web import services

    return services().settings


def visible(capability: str) -> Schools:
    """The schools the signed-in user may see with ``capability`` (the view has checked they have it)."""
    user = _user()
    return user.schools_for(capability) if user is not None else frozenset()


def chosen(capability: str) -> Schools:
    """The schools this request shows: the picker's one school, or all the user may see. A ``school``
    parameter naming an unknown school or one outside the user's reach is a 404."""
    reachable = visible(capability)
    wanted = request.args.get(PARAM, "").strip()
    tenants = _settings().tenants
    if wanted and (tenants.get(wanted) is None or (reachable is not None and wanted not in reachable)):
        abort(404)
    if not tenants.is_trust:  # one school owns every row, placed yet or not (tenancy_store.adopt)
        return reachable
    return frozenset({wanted}) if wanted else reachable


def intersect(a: Schools, b: Schools) -> Schools:
    """Both limits at once (None = no limit)."""
    if a is None:
        return b
    return a if b is None else a & b


def tenants_in(schools: Schools) -> list[Tenant]:
    """The configured schools within ``schools``, in config order."""
    return [t for t in _settings().tenants.schools if schools is None or t.id in schools]


def picked() -> str:
    """The picker's school when it is one the user may see (for links that keep it), else ''."""
    wanted = request.args.get(PARAM, "").strip()
    user = _user()
    if not wanted or user is None or _settings().tenants.get(wanted) is None:
        return ""
    reachable = user.schools_for("aggregate")
    return wanted if reachable is None or wanted in reachable else ""


def picker(user) -> dict:
    """The template's picker: the schools the user may pick (empty when there is only one) and the choice."""
    settings = _settings()
    names = {t.id: t.name for t in settings.tenants.schools}
    if user is None or request.endpoint is None or request.endpoint.startswith(UNSCOPED_ENDPOINTS):
        return {"picker_schools": [], "picked_school": "", "school_names": names}
    choices = tenants_in(user.schools_for("aggregate")) if settings.tenants.is_trust else []
    keep = [(k, v) for k, v in request.args.items(multi=True) if k not in (PARAM, "page")]
    return {"picker_schools": choices if len(choices) > 1 else [], "picked_school": picked(), "picker_keep": keep,
            "school_names": names}


def url(endpoint: str, **values) -> str:
    """``url_for`` keeping the picker's school on scoped pages (templates get it as ``url_for``)."""
    if PARAM not in values and not endpoint.startswith(UNSCOPED_ENDPOINTS):
        school = picked()
        if school:
            values[PARAM] = school
    elif values.get(PARAM) == "":
        values.pop(PARAM)
    return url_for(endpoint, **values)


# ------------------------------------------------------------------ queries


def findings_clause(schools: Schools) -> ColumnElement[bool] | None:
    """The WHERE term limiting findings to ``schools`` (None: no limit)."""
    if schools is None:
        return None
    if not schools:
        return false()
    return Finding.id.in_(select(FindingSchool.finding_id).where(FindingSchool.school.in_(sorted(schools))))


def scoped(query, schools: Schools):
    """``query`` (a select over Finding) limited to ``schools``."""
    clause = findings_clause(schools)
    return query if clause is None else query.where(clause)


def finding_in(session: Session, finding_id: int, schools: Schools) -> bool:
    if session.get(Finding, finding_id) is None:
        return False
    if schools is None:
        return True
    return session.scalar(select(FindingSchool.finding_id).where(
        FindingSchool.finding_id == finding_id, FindingSchool.school.in_(sorted(schools))).limit(1)) is not None


def require_finding(session: Session, finding_id: int, capability: str = "findings") -> None:
    """404 unless the finding exists and is in a school the request may see (checked before any view is logged)."""
    if not finding_in(session, finding_id, chosen(capability)):
        abort(404)


def person_in(person: Person | None, schools: Schools) -> bool:
    """A roster person is visible when their school is; nobody outside the roster is, by this test."""
    return person is not None and (schools is None or person.school in schools)


def people_clause(schools: Schools) -> ColumnElement[bool] | None:
    if schools is None:
        return None
    return Person.school.in_(sorted(schools)) if schools else false()


def finding_school_fields(session: Session, findings: list[Finding]) -> dict[int, dict]:
    """Finding id -> {"school", "schools"} (the contract's fields, as `integration.finding_places`
    reads them), in two queries for a whole listing, while the session is open."""
    return {fid: {"school": p.school, "schools": list(p.schools)}
            for fid, p in finding_places.placements(session, findings).items()}
