"""The simulated trusts (issue 13): twenty schools as OU trees in one domain, and a trust whose
schools each keep their own domain in one customer. Their written configs load as the service's
settings, and the tenants they declare place every generated person in the school it was built in."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from google.oauth2 import service_account as ga_service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from integration.settings import Settings, load
from sandbox.activity import activity
from sandbox.config_writer import write_config
from sandbox.model import Domain, in_org_units
from sandbox.school import CROSS_SCHOOL_FAMILIES, SIZES, classify, generate
from sandbox.server import SandboxServer
from sandbox.token import service_account

DIRECTORY_SCOPE = "https://www.googleapis.com/auth/admin.directory.user.readonly"


@pytest.fixture(scope="module")
def trust() -> Domain:
    return generate("trust", 1)


@pytest.fixture(scope="module")
def two_domains() -> Domain:
    return generate("trust", 1, domains=2)


def _load(dom: Domain, tmp_path: Path) -> Settings:
    return load(write_config(dom, "http://127.0.0.1:9", tmp_path), env={})


def _school_of(dom: Domain) -> dict[str, str]:
    """Each person's school id, from the school (by name) the generator built them in."""
    ids = {u.name: u.id for u in dom.school_units}
    return {u.primary_email: ids[u.school] for u in dom.users if u.school}


def test_the_trust_is_twenty_schools_each_in_its_own_ou_tree(trust):
    spec = SIZES["trust"]
    assert len(trust.school_units) == len(trust.schools) == 20
    assert 29_000 <= len(trust.users) <= 32_000 and len({u.primary_email for u in trust.users}) == len(trust.users)
    assert trust.secondary_domains == [] and {u.primary_email.rpartition("@")[2] for u in trust.users} == {trust.domain}
    roles = classify(trust)
    units = {u.name: u for u in trust.school_units}
    per_school = Counter((u.school, roles.get(u.primary_email)) for u in trust.live_users() if u.school)
    for unit in trust.school_units:
        assert unit.org_unit == f"/Schools/{unit.name}"
        assert per_school[(unit.name, "pupil")] == spec.pupils
        assert spec.staff <= per_school[(unit.name, "staff")] <= spec.staff + 5
        assert per_school[(unit.name, "former_pupil")] == spec.pupils // 30
    # everyone of a school, visitors and governors included, is inside that school's tree
    assert all(in_org_units(u.org_unit_path, [units[u.school].org_unit]) for u in trust.users if u.school)
    courses = Counter(c.school for c in trust.courses)
    assert set(courses) == set(units) and set(courses.values()) == {spec.classes}
    # each school's safeguarding people are its own live staff; its governor is its own
    by_email = trust.user_by_email()
    for unit in trust.school_units:
        for email in (unit.dsl_email, unit.deputy_email):
            assert roles[email] == "staff" and by_email[email].school == unit.name
        assert unit.dsl_email != unit.deputy_email and roles[unit.governor_email] == "other"
    assert [u.dsl_email for u in trust.school_units[:1]] == [trust.dsl_email]
    assert not by_email[trust.trust_lead_email].school and roles[trust.trust_lead_email] == "other"


def test_some_families_have_children_at_two_schools(trust):
    school_of_pupil = {u.id: u.school for u in trust.users if u.role_truth == "pupil"}
    schools: dict[str, set[str]] = {}
    for g in trust.guardians:
        schools.setdefault(g.email, set()).add(school_of_pupil.get(g.student_id, ""))
    crossing = [e for e, s in schools.items() if len(s - {""}) > 1]
    assert len(crossing) == CROSS_SCHOOL_FAMILIES
    ids = {g.guardian_id for g in trust.guardians if g.email in crossing}
    assert len(ids) == len(crossing)  # one guardian (one id) linked to both children, as Classroom has it


def test_every_school_has_plants_and_some_plants_cross_schools(trust):
    act = activity(trust)
    school_of = {e: u.school for e, u in act.users.items()}
    per_school: Counter[str] = Counter()
    crossing = []
    for t in act.truth:
        schools = {school_of.get(t["staff"] or ""), school_of.get(t["pupil"] or "")} - {None, ""}
        per_school.update(schools)
        if len(schools) == 2:
            crossing.append(t["rule"])
    assert set(per_school) == set(trust.schools) and min(per_school.values()) >= 2
    assert Counter(crossing)["drive.direct_share_outside_course"] >= 2
    assert {"mail.staff_to_pupil_personal", "chat.staff_pupil_direct"} <= set(crossing)
    # the teacher's personal address copied on mail to a guardian with children at two schools
    kids_schools: dict[str, set[str]] = {}
    for kid, guardians in act.guardians_of.items():
        for g, _ in guardians:
            kids_schools.setdefault(g, set()).add(school_of[kid])
    assert any(t["rule"] == "mail.staff_personal_to_guardian" and len(kids_schools.get(t["guardian"], ())) > 1
               for t in act.truth)


def test_the_written_trust_config_loads_and_its_tenants_place_everyone(trust, tmp_path):
    settings = _load(trust, tmp_path)
    tenants = settings.tenants
    assert tenants.is_trust and tenants.ids == [u.id for u in trust.school_units]
    assert settings.trust.name == trust.name and settings.trust.safeguarding_leads == [trust.trust_lead_email]
    assert settings.trust.viewer_users == [trust.trust_viewer_email]
    for unit in trust.school_units:
        tenant = tenants.get(unit.id)
        assert tenant.name == unit.name and tenant.org_units == [unit.org_unit] and not tenant.domain
        assert tenant.dsl_emails == [unit.dsl_email] and tenant.deputy_emails == [unit.deputy_email]
        assert tenant.viewer_users == [unit.governor_email] and tenant.working_hours == trust.working_hours
        assert tenant.policy_version == settings.acknowledgement.policy_version
    expected = _school_of(trust)
    placed = {u.primary_email: tenants.school_for(u.primary_email, u.org_unit_path) for u in trust.users}
    assert {e: placed[e] for e in expected} == expected
    central = [u.primary_email for u in trust.users if not u.school and not u.deleted]
    assert central and all(placed[e] is None for e in central)  # the admin, the alerts sender, the trust office
    assert settings.alerts.dsl_emails == [trust.trust_lead_email]


def test_an_academy_trust_is_twenty_academies_with_their_own_trees(tmp_path):
    dom = generate("trust", 2, shape="academy")
    assert len(dom.school_units) == 20 and all(u.org_unit.startswith("/Academies/") for u in dom.school_units)
    units = {u.name: u.org_unit for u in dom.school_units}
    assert all(in_org_units(u.org_unit_path, [units[u.school]]) for u in dom.users if u.school)  # peripatetic too
    tenants = _load(dom, tmp_path).tenants
    expected = _school_of(dom)
    assert all(tenants.school_for(u.primary_email, u.org_unit_path) == expected[u.primary_email]
               for u in dom.users if u.school)


def test_a_two_domain_trust_is_one_customer_with_a_domain_per_school(two_domains, tmp_path):
    dom = two_domains
    assert len(dom.school_units) == 2 and len(dom.domains) == 3 and dom.domains[0] == dom.domain
    assert [u.domain for u in dom.school_units] == dom.secondary_domains
    home = {u.name: u.domain for u in dom.school_units}
    assert all(u.primary_email.endswith("@" + home[u.school]) for u in dom.users if u.school)
    assert all(g.email.rpartition("@")[2] in dom.domains for g in dom.groups)
    assert all(c.course_group_email.endswith("@" + home[c.school]) for c in dom.courses)
    central = {u.primary_email.rpartition("@")[2] for u in dom.users if not u.school}
    assert central == {dom.domain}  # the trust's own accounts live in its primary domain
    roles = classify(dom)
    assert Counter(roles[u.primary_email] for u in dom.live_users() if u.school)["pupil"] == 2 * SIZES["trust"].pupils
    settings = _load(dom, tmp_path)
    assert settings.approved_domains == dom.domains
    tenants = settings.tenants
    assert [(t.id, t.domain, t.org_units) for t in tenants.schools] == [(u.id, u.domain, []) for u in dom.school_units]
    expected = _school_of(dom)
    # placed by domain alone: even an account in an OU of no school is in its domain's school
    assert all(tenants.school_for(e, "/") == s for e, s in expected.items())
    assert tenants.school_for(dom.admin_email, "/") is None


def test_directory_lists_one_domain_or_the_whole_customer(two_domains, tmp_path):
    key = tmp_path / "key.json"
    with SandboxServer(two_domains) as srv:
        import json

        key.write_text(json.dumps(service_account(two_domains).key_json(srv.token_uri)))
        creds = ga_service_account.Credentials.from_service_account_file(str(key), scopes=[DIRECTORY_SCOPE])
        svc = build("admin", "directory_v1", credentials=creds.with_subject(two_domains.admin_email),
                    client_options={"api_endpoint": srv.url})

        def emails(**kw: str) -> list[str]:
            out, token = [], None
            while True:
                page = svc.users().list(maxResults=500, pageToken=token, **kw).execute()
                out += [u["primaryEmail"] for u in page.get("users", [])]
                token = page.get("nextPageToken")
                if not token:
                    return out

        school = two_domains.school_units[1]
        theirs = emails(domain=school.domain)
        assert theirs and all(e.endswith("@" + school.domain) for e in theirs)
        assert len(theirs) == sum(1 for u in two_domains.live_users() if u.school == school.name)
        assert len(emails(customer="my_customer")) == sum(1 for _ in two_domains.live_users())
        with pytest.raises(HttpError) as refused:
            svc.users().list(domain="elsewhere.sch.uk").execute()
        assert refused.value.resp.status == 403
        assert not srv.problems()


def test_python_m_sandbox_serves_a_two_domain_trust_and_refuses_domains_for_one_school(tmp_path):
    bad = subprocess.run([sys.executable, "-m", "sandbox", "--size", "demo", "--domains", "2", "--port", "0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--domains 2" in bad.stderr and "Traceback" not in bad.stderr
    proc = subprocess.Popen([sys.executable, "-m", "sandbox", "--size", "trust", "--domains", "2", "--port", "0",
                             "--write-config", str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert ".sch.uk" in first and " at http://127.0.0.1:" in first
        for _ in range(3):
            proc.stdout.readline()
        settings = load(tmp_path / "safechannels.toml", env={})
        assert len(settings.schools) == 2 and all(t.domain for t in settings.schools)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
