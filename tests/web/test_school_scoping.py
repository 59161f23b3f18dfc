"""Issue 13 as a security property: in a two-school trust, every route the app registers gives each role
exactly its schools' data. A DSL of school A gets 404 (not 403) on school B's findings and people, on
the pages, the API and the downloads alike, and no view of them is logged; lists and CSVs never carry
another school's findings; governors see their school's reports only; a trust lead sees everything
and the roll-up by school; an admin is trust-wide but sees no findings.

The routes are enumerated from ``app.url_map``: a route added later without an entry in ROUTES (or
in UNSCOPED, with the reason) fails ``test_every_route_is_covered``.

Placement (people's and findings' schools) is written straight into the database: the roster sync
and the audit place rows themselves, and are tested with them.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from test_roles_and_triage import sign_in
from web_env import ADMIN, DOMAIN, add_finding, add_person, make_app, make_context, write_config

from integration.store.models_acks import AckNotice, AckRound
from integration.store.models_audit import FindingEvent
from integration.store.models_roster import Person
from integration.store.models_webapp import PersonView
from integration.tenancy_store import set_finding_schools

A, B = "ashford", "brook"
A_DSL, B_DSL = f"dsl.ashford@{DOMAIN}", f"dsl.brook@{DOMAIN}"
B_DEPUTY = f"deputy.brook@{DOMAIN}"
LEAD, GOV_A = f"safeguarding.lead@{DOMAIN}", f"governor.ashford@{DOMAIN}"
ROLES = (A_DSL, B_DSL, LEAD, GOV_A, ADMIN)
DSLS = (A_DSL, B_DSL, LEAD)

TRUST = f"""
[trust]
name = "Weald Learning Trust"
safeguarding_leads = ["{LEAD}"]

[[schools]]
id = "{A}"
name = "Ashford Primary"
org_units = ["/Schools/Ashford"]
dsl_emails = ["{A_DSL}"]
viewer_users = ["{GOV_A}"]

[[schools]]
id = "{B}"
name = "Brook Academy"
org_units = ["/Schools/Brook"]
dsl_emails = ["{B_DSL}"]
deputy_emails = ["{B_DEPUTY}"]
"""

PEOPLE = {  # email -> (role, name, org unit, school)
    f"j.smith@{DOMAIN}": ("staff", "Jo Smith", "/Schools/Ashford/Staff", A),
    f"amy.pupil@{DOMAIN}": ("pupil", "Amy Pupil", "/Schools/Ashford/Pupils", A),
    f"k.jones@{DOMAIN}": ("staff", "Kim Jones", "/Schools/Brook/Staff", B),
    f"ben.pupil@{DOMAIN}": ("pupil", "Ben Pupil", "/Schools/Brook/Pupils", B),
    f"central.officer@{DOMAIN}": ("staff", "Cal Central", "/Central", None),
}
SCHOOL_OF = {email: school for email, (_r, _n, _ou, school) in PEOPLE.items()}


@dataclass
class World:
    app: object
    store: object
    ids: dict[str, int]  # fa, fb, fab, f0
    clients: dict[str, object] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def sees(self, role: str, schools: set[str] | None = None) -> set[int]:
        """The findings ``role`` may open (``schools``: narrowed by the picker)."""
        reach = {A_DSL: {A}, B_DSL: {B}}.get(role)
        placed = {"fa": {A}, "fb": {B}, "fab": {A, B}, "f0": set()}
        out = set()
        for key, fid in self.ids.items():
            where = placed[key]
            if role in (A_DSL, B_DSL) and not where & reach:
                continue
            if role not in DSLS:
                continue
            if schools is not None and not where & schools:
                continue
            out.add(fid)
        return out

    def people_seen(self, role: str) -> set[str]:
        if role == LEAD:
            return set(PEOPLE)
        if role in (A_DSL, B_DSL):
            mine = A if role == A_DSL else B
            return {e for e, s in SCHOOL_OF.items() if s == mine}
        return set()


@pytest.fixture
def world(tmp_path, database_url, google, store, crypto) -> World:
    config = write_config(tmp_path, database_url, google, extra=TRUST)
    app = make_app(make_context(config, store, crypto))
    for email, (role, name, ou, _school) in PEOPLE.items():
        add_person(store, email, role, name, ou)
    now = datetime.now(UTC)
    with store.session() as s:
        for email, school in SCHOOL_OF.items():
            s.execute(update(Person).where(Person.email == email).values(school=school))
        for school in (A, B):
            s.add(AckRound(school=school, policy_version="2025-10", form_id=f"form-{school}",
                           opened_at=now - timedelta(days=20)))
    ids = {"fa": add_finding(store, staff=f"j.smith@{DOMAIN}", pupil=f"amy.pupil@{DOMAIN}"),
           "fb": add_finding(store, staff=f"k.jones@{DOMAIN}", pupil=f"ben.pupil@{DOMAIN}", severity="medium"),
           "fab": add_finding(store, staff=f"j.smith@{DOMAIN}", pupil=f"ben.pupil@{DOMAIN}", rule="mail.out_of_hours",
                              severity="low"),
           "f0": add_finding(store, staff=f"central.officer@{DOMAIN}", pupil=None, severity="medium")}
    with store.session() as s:
        set_finding_schools(s, ids["fa"], [A])
        set_finding_schools(s, ids["fb"], [B])
        set_finding_schools(s, ids["fab"], [A, B])
    w = World(app, store, ids)
    for role in ROLES:
        client = app.test_client()
        w.tokens[role] = sign_in(client, role)
        w.clients[role] = client
    return w


def status_of(w: World, role: str, method: str, url: str, *, form: dict | None = None, json: dict | None = None):
    c, token = w.clients[role], w.tokens[role]
    if method == "GET":
        return c.get(url)
    if json is not None:
        return c.post(url, json=json, headers={"X-CSRF-Token": token})
    return c.post(url, data={**(form or {}), "csrf_token": token})


# ------------------------------------------------------------------ what each route should answer

FINDING_ROUTES = {  # endpoint -> (method, url template, body kind, status when allowed, capability's roles)
    "findings.finding": ("GET", "/findings/{id}", None, 200, DSLS),
    "exports.evidence_pack": ("GET", "/findings/{id}/evidence.txt", None, 200, DSLS),
    "api.finding": ("GET", "/api/findings/{id}", None, 200, DSLS),
    # a status the finding cannot move to / no expiry: allowed requests change nothing (302 / 409 with a reason)
    "findings.triage": ("POST", "/findings/{id}/triage", {"to_status": "bogus", "note": "n"}, 302, DSLS),
    "findings.add_exception": ("POST", "/findings/{id}/exception", {"reason": "r"}, 302, DSLS),
    "api.transition": ("POST", "/api/findings/{id}/transition", "json", 409, DSLS),
}
PERSON_ROUTES = {"people.person": "/people/{email}", "api_pages.person": "/api/people/{email}"}
SCOPED_GETS = {  # endpoint -> (url, the roles allowed at all)
    "ui.dashboard": ("/", ROLES),
    "findings.inbox_page": ("/findings", DSLS),
    "exports.findings_csv": ("/findings.csv", DSLS),
    "api.findings": ("/api/findings", DSLS),
    "api.summary": ("/api/summary", ROLES),
    "api.status": ("/api/status", (*DSLS, ADMIN)),
    "acks.acks_page": ("/acks", DSLS),
    "acks.acks_csv": ("/acks.csv", DSLS),
    "api_pages.acks": ("/api/acks", DSLS),
    "reports.reports": ("/reports", ROLES),
    "api_pages.reports": ("/api/reports", ROLES),
}
SCOPED_POSTS = {"acks.remind": ("/acks/remind", DSLS)}
ADMIN_ROUTES = {  # trust-wide for the admin, refused to everyone else
    "admin.setup": ("GET", "/admin/setup", 200), "admin.config": ("GET", "/admin/config", 200),
    "admin.roster": ("GET", "/admin/roster", 200), "admin.access_log": ("GET", "/admin/access-log", 200),
    "admin.registers_page": ("GET", "/admin/registers", 200),
    "admin.registers_check": ("POST", "/admin/registers/check", 400),  # no register chosen
    "admin.registers_apply": ("POST", "/admin/registers/apply", 400),
    "admin.run_doctor": ("POST", "/admin/setup/doctor", 302),
    "api_pages.roster": ("GET", "/api/admin/roster", 200),
    "api_pages.access_log_json": ("GET", "/api/admin/access-log", 200),
}
ANY_ROLE = {"api.me": "/api/me", "api_pages.openapi": "/api/openapi.json"}
UNSCOPED = {  # endpoint -> why no school applies
    "static": "stylesheet", "ui.healthz": "liveness probe, no data", "ui.readyz": "readiness probe, no data",
    "auth.login": "sign-in", "auth.google_start": "sign-in", "auth.callback": "sign-in", "auth.dev_login": "sign-in",
    "auth.logout": "sign-out",
    "webhooks.directory": "Google push (channel token), no session",
    "webhooks.drive": "Google push (channel token), no session",
    "webhooks.reports": "Google push (channel token), no session",
    "webhooks.pubsub": "Pub/Sub push (signed JWT), no session",
}
ROUTES = {**FINDING_ROUTES, **PERSON_ROUTES, **SCOPED_GETS, **SCOPED_POSTS, **ADMIN_ROUTES, **ANY_ROLE}


def test_every_route_is_covered(world):
    endpoints = {r.endpoint for r in world.app.url_map.iter_rules()}
    missing = endpoints - set(ROUTES) - set(UNSCOPED)
    assert not missing, f"routes with no scoping expectation in this test: {sorted(missing)}"
    assert not (set(ROUTES) | set(UNSCOPED)) - endpoints, "the table names routes the app no longer has"


def test_finding_routes_answer_404_outside_the_users_schools_and_log_nothing(world):
    w = world
    for endpoint, (method, template, body, ok, allowed) in FINDING_ROUTES.items():
        for role in ROLES:
            for fid in w.ids.values():
                for pick in (None, A, B):
                    url = template.format(id=fid) + (f"?school={pick}" if pick else "")
                    r = status_of(w, role, method, url, form=body if isinstance(body, dict) else None,
                                  json={"to": "bogus", "note": "n"} if body == "json" else None)
                    reachable = {A_DSL: {A}, B_DSL: {B}}.get(role, {A, B})
                    if role not in allowed:
                        want = 403
                    elif pick is not None and pick not in reachable:
                        want = 404
                    else:
                        want = ok if fid in w.sees(role, {pick} if pick else None) else 404
                    assert r.status_code == want, (endpoint, role, fid, pick, r.status_code)
    with w.store.session() as s:  # every refused view left no trace on the finding's log
        logged = {(e.finding_id, e.actor) for e in s.scalars(select(FindingEvent).where(
            FindingEvent.action.in_(("viewed", "exported"))))}
    for role in ROLES:
        opened = {fid for fid, actor in logged if actor == role}
        assert opened == w.sees(role), role


def test_people_pages_and_api_answer_404_for_another_schools_person(world):
    w = world
    for endpoint, template in PERSON_ROUTES.items():
        for role in ROLES:
            for email in PEOPLE:
                r = w.clients[role].get(template.format(email=email))
                if role not in DSLS:
                    assert r.status_code == 403, (endpoint, role, email)
                    continue
                want = 200 if email in w.people_seen(role) else 404
                assert r.status_code == want, (endpoint, role, email, r.status_code)
                if want == 200 and endpoint == "api_pages.person":
                    assert r.json["school"] == SCHOOL_OF[email]
                    assert {f["id"] for f in r.json["findings"]} <= w.sees(role)
                    assert all(set(f["schools"]) & ({A, B} if role == LEAD else {SCHOOL_OF[email]})
                               or role == LEAD for f in r.json["findings"])
            other = B if role == A_DSL else A
            if role in (A_DSL, B_DSL):  # the picker cannot widen the scope either
                assert w.clients[role].get(f"/people/j.smith@{DOMAIN}?school={other}").status_code == 404
    with w.store.session() as s:
        views = {(v.actor, v.person) for v in s.scalars(select(PersonView))}
    for role in ROLES:
        assert {p for a, p in views if a == role} == w.people_seen(role), role


def csv_ids(body: str) -> set[int]:
    return {int(row["id"]) for row in csv.DictReader(io.StringIO(body))}


def listed_ids(endpoint: str, r) -> set[int]:
    if endpoint == "findings.inbox_page":
        return {int(i) for i in re.findall(r'href="/findings/(\d+)', r.get_data(as_text=True))}
    if endpoint == "exports.findings_csv":
        return csv_ids(r.get_data(as_text=True))
    return {f["id"] for f in r.json["findings"]}


def test_findings_lists_and_csv_hold_exactly_the_users_schools(world):
    w = world
    for endpoint in ("findings.inbox_page", "exports.findings_csv", "api.findings"):
        url = SCOPED_GETS[endpoint][0]
        for role in ROLES:
            for pick in (None, A, B):
                r = w.clients[role].get(url + (f"?school={pick}" if pick else ""))
                if role not in DSLS:
                    assert r.status_code == 403
                    continue
                if pick and role in (A_DSL, B_DSL) and pick != (A if role == A_DSL else B):
                    assert r.status_code == 404, (endpoint, role, pick)
                    continue
                assert r.status_code == 200
                assert listed_ids(endpoint, r) == w.sees(role, {pick} if pick else None), (endpoint, role, pick)
    page = w.clients[LEAD].get("/api/findings").json["findings"]
    placed = {f["id"]: (f["school"], f["schools"]) for f in page}
    ids = w.ids
    assert placed[ids["fa"]] == (A, [A]) and placed[ids["fb"]] == (B, [B])
    assert placed[ids["fab"]] == (A, [A, B])  # the staff member's school first, then every school
    assert placed[ids["f0"]] == (None, [])
    rows = list(csv.DictReader(io.StringIO(w.clients[LEAD].get("/findings.csv").get_data(as_text=True))))
    assert {int(r["id"]): (r["school"], r["schools"]) for r in rows}[ids["fab"]] == (A, f"{A}; {B}")


def test_the_picker_narrows_and_an_unknown_or_foreign_school_is_404_everywhere(world):
    w = world
    for endpoint, (url, allowed) in {**SCOPED_GETS, **SCOPED_POSTS}.items():
        method = "POST" if endpoint in SCOPED_POSTS else "GET"
        for role in ROLES:
            for pick in (A, B, "nowhere"):
                r = status_of(w, role, method, f"{url}?school={pick}")
                reachable = {A_DSL: {A}, B_DSL: {B}, GOV_A: {A}}.get(role, {A, B})
                if role not in allowed:
                    want = (403,)
                elif pick not in reachable:
                    want = (404,)
                else:
                    want = (302,) if method == "POST" else (200,)
                assert r.status_code in want, (endpoint, role, pick, r.status_code)
    for endpoint, (method, url, ok) in ADMIN_ROUTES.items():
        for role in ROLES:
            r = status_of(w, role, method, url)
            assert r.status_code == (ok if role == ADMIN else 403), (endpoint, role, r.status_code)
    for endpoint, url in ANY_ROLE.items():
        for role in ROLES:
            assert w.clients[role].get(url).status_code == 200, (endpoint, role)


def test_counts_reports_and_the_roll_up_follow_the_schools(world):
    w = world
    total = {A_DSL: 2, B_DSL: 2, LEAD: 4, GOV_A: 2, ADMIN: 4}  # fa+fab, fb+fab, all, Ashford's, all
    for role in ROLES:
        summary = w.clients[role].get("/api/summary").json
        assert sum(r["total"] for r in summary["findings_by_rule"]) == total[role], role
        report = w.clients[role].get("/api/reports").json
        assert sum(sum(v) for v in report["by_severity"].values()) == total[role], role
        assert sum(t["findings"] for t in report["triage"]) == total[role], role
    gov = w.clients[GOV_A].get("/api/reports").json
    assert gov["schools"] == [A] and gov["by_school"] == []
    page = w.clients[GOV_A].get("/reports").get_data(as_text=True)
    assert "Ashford Primary" in page and "Brook Academy" not in page
    for role in (LEAD, ADMIN):
        rollup = {r["school"]: r for r in w.clients[role].get("/api/reports").json["by_school"]}
        assert set(rollup) == {A, B, None}  # None: the finding placed in no school
        assert rollup[A]["total"] == 2 and rollup[B]["total"] == 2 and rollup[None]["total"] == 1
        assert rollup[A]["open"] == {"high": 1, "medium": 0, "low": 1}
        page = w.clients[role].get("/reports").get_data(as_text=True)
        assert 'id="by-school"' in page and "Ashford Primary" in page and "Brook Academy" in page
    narrowed = w.clients[LEAD].get(f"/api/reports?school={B}").json
    assert narrowed["schools"] == [B] and narrowed["by_school"] == []
    me = w.clients[A_DSL].get("/api/me").json
    assert me["schools"] == [A] and me["all_schools"] is False and me["school_roles"] == {"dsl": [A]}
    assert w.clients[LEAD].get("/api/me").json["school_roles"] == {"dsl": None}


def test_acknowledgement_is_the_schools_own_round(world):
    w = world
    a_staff, b_staff = f"j.smith@{DOMAIN}", f"k.jones@{DOMAIN}"
    page = w.clients[A_DSL].get("/acks").get_data(as_text=True)
    assert a_staff in page and b_staff not in page
    doc = w.clients[A_DSL].get("/api/acks").json
    assert doc["school"] == A and doc["totals"]["expected"] == 1
    rows = list(csv.DictReader(io.StringIO(w.clients[A_DSL].get("/acks.csv").get_data(as_text=True))))
    assert [(r["email"], r["school"]) for r in rows] == [(a_staff, A)]
    both = w.clients[LEAD].get("/api/acks").json
    assert [d["school"] for d in both] == [A, B] and all(d["totals"]["expected"] == 1 for d in both)
    assert 'id="acks-by-school"' in w.clients[LEAD].get("/acks").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(w.clients[LEAD].get("/acks.csv").get_data(as_text=True))))
    assert {(r["email"], r["school"]) for r in rows} == {(a_staff, A), (b_staff, B)}
    assert w.clients[LEAD].get(f"/api/acks?school={B}").json["school"] == B
    # reminders: several schools need a choice; a DSL's go to their own school's staff only
    assert status_of(w, LEAD, "POST", "/acks/remind").status_code == 302
    with w.store.session() as s:
        assert list(s.scalars(select(AckNotice))) == []
    assert status_of(w, A_DSL, "POST", "/acks/remind").status_code == 302
    with w.store.session() as s:
        assert {n.recipient for n in s.scalars(select(AckNotice))} == {a_staff}


def test_a_single_school_config_is_unchanged_and_takes_its_own_id(client, store):
    """One school: everyone with a role sees it whole; ?school= its id is accepted, anything else is a 404."""
    from web_env import DSL

    fid = add_finding(store)
    with store.session() as s:
        set_finding_schools(s, fid, ["northfield"])  # as the audit places it (and adopt() at start)
    add_finding(store, rule="mail.out_of_hours")  # one not placed yet: still the one school's
    sign_in(client, DSL)
    assert client.get(f"/api/findings/{fid}").json["schools"] == ["northfield"]
    assert client.get("/api/findings?school=northfield").json["total"] == 2
    assert client.get("/api/findings?school=brook").status_code == 404
    assert client.get("/api/me").json["schools"] == ["northfield"]
