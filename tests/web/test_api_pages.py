"""The JSON API for the new pages, behind the same sign-in and roles, and its OpenAPI 3 document,
validated by openapi-spec-validator; every path the document names answers (not 404/500)."""

from __future__ import annotations

import pytest
from test_acks_page import school_with_a_round
from test_roles_and_triage import sign_in
from web_env import ADMIN, DOMAIN, DSL, VIEWER, add_finding


def test_the_openapi_document_is_valid_and_every_get_path_answers(client, store, ctx):
    validator = pytest.importorskip("openapi_spec_validator")
    school_with_a_round(store, ctx)
    fid = add_finding(store, staff=f"ann.lee@{DOMAIN}")
    sign_in(client, DSL)
    doc = client.get("/api/openapi.json").json
    validator.validate(doc)
    for path, ops in doc["paths"].items():
        if "get" in ops:
            url = path.replace("{finding_id}", str(fid)).replace("{email}", f"ann.lee@{DOMAIN}")
            assert client.get(url).status_code in (200, 403), path


def test_the_pages_json_follows_the_roles_and_hides_personal_addresses(client, store, ctx):
    school_with_a_round(store, ctx)
    add_finding(store, staff=f"ann.lee@{DOMAIN}", pupil=f"amy.pupil@{DOMAIN}")
    token = sign_in(client, DSL)
    acks = client.get("/api/acks").json
    assert acks["policy_version"] == "2025-10" and acks["totals"]["acknowledged"] == 1
    person = client.get(f"/api/people/ann.lee@{DOMAIN}").json
    assert person["name"] == "Ann Lee" and person["acknowledgement"]["state"] == "acknowledged"
    assert "amy.personal@gmail.com" not in str(person)
    assert client.get("/api/admin/roster").status_code == 403
    client.post("/auth/logout", data={"csrf_token": token})
    token = sign_in(client, VIEWER)
    reports = client.get("/api/reports").json
    assert reports["by_rule"][0]["total"] == 1 and "@" not in str(reports)
    assert client.get("/api/acks").status_code == 403 and client.get(f"/api/people/ann.lee@{DOMAIN}").status_code == 403
    client.post("/auth/logout", data={"csrf_token": token})
    sign_in(client, ADMIN)
    roster = client.get("/api/admin/roster").json
    assert {r["email"] for r in roster} >= {f"ann.lee@{DOMAIN}"} and roster[0]["role_sources"] is not None
    assert isinstance(client.get("/api/admin/access-log").json, list)
