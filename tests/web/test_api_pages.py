"""The JSON API for the new pages, behind the same sign-in and roles, and its OpenAPI 3 document,
validated by openapi-spec-validator; every path the document names answers (not 404/500)."""

from __future__ import annotations

from test_acks_page import school_with_a_round
from test_roles_and_triage import sign_in
from web_env import ADMIN, DOMAIN, DSL, VIEWER, add_finding, add_person


def schema_check(doc: dict, path: str, method: str, status: int, body) -> None:
    """``body`` against the document's schema for that answer (components resolved from the document)."""
    from openapi_schema_validator import OAS30Validator

    answer = doc["paths"][path][method]["responses"][str(status)]
    if "$ref" in answer:
        answer = doc["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    schema = answer["content"]["application/json"]["schema"]
    errors = sorted(OAS30Validator({**schema, "components": doc["components"]}).iter_errors(body), key=str)
    assert not errors, f"{method.upper()} {path} {status}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5])


def loose_objects(schema, where="") -> list[str]:
    """Places where the document says just "object" (any fields of any type)."""
    found = []
    if isinstance(schema, dict):
        if schema.get("type") == "object" and not schema.get("enum") and "properties" not in schema \
                and not isinstance(schema.get("additionalProperties"), dict):
            found.append(where)
        for k, v in schema.items():
            found += loose_objects(v, f"{where}/{k}")
    elif isinstance(schema, list):
        for i, v in enumerate(schema):
            found += loose_objects(v, f"{where}/{i}")
    return found


def test_the_openapi_document_is_valid_tight_and_every_answer_matches_it(client, store, ctx):
    from openapi_spec_validator import validate

    school_with_a_round(store, ctx)
    fid = add_finding(store, staff=f"ann.lee@{DOMAIN}", guardian="mrs.parent@yahoo.co.uk",
                      evidence={"file_id": "1AbC", "title": "Notes", "pupils": ["a@x", "b@x"], "pupil_count": 2,
                                "inherited": True, "filters": [{"id": "f1", "criteria": {"from": "x"}}]})
    add_finding(store, rule="mail.out_of_hours", severity="low", staff=None)
    token = sign_in(client, DSL)
    doc = client.get("/api/openapi.json").json
    validate(doc)
    assert loose_objects(doc["paths"]) == [] and loose_objects(doc["components"]["schemas"]) == []
    schema_check(doc, "/api/openapi.json", "get", 200, doc)
    urls = {"{finding_id}": str(fid), "{email}": f"ann.lee@{DOMAIN}"}
    for who in (DSL, ADMIN, VIEWER):
        sign_in(client, who)
        for path, ops in doc["paths"].items():
            if "get" in ops:
                url = path
                for k, v in urls.items():
                    url = url.replace(k, v)
                r = client.get(url)
                assert r.status_code in (200, 403), path
                schema_check(doc, path, "get", r.status_code, r.json)
    token = sign_in(client, DSL)
    for query, status in (("?status=open&sort=-last_seen&per_page=1&page=2", 200), ("?from=yesterday", 400),
                          (f"?q=ann&staff=ann.lee@{DOMAIN}&severity=high", 200)):
        r = client.get("/api/findings" + query)
        assert r.status_code == status, query
        schema_check(doc, "/api/findings", "get", status, r.json)
    assert client.get("/api/findings/999999").status_code == 404
    schema_check(doc, "/api/findings/{finding_id}", "get", 404, client.get("/api/findings/999999").json)
    moved = client.post(f"/api/findings/{fid}/transition", json={"to": "reviewing", "note": "Looking"},
                        headers={"X-CSRF-Token": token})
    schema_check(doc, "/api/findings/{finding_id}/transition", "post", 200, moved.json)
    refused = client.post(f"/api/findings/{fid}/transition", json={"to": "new", "note": "x"},
                          headers={"X-CSRF-Token": token})
    schema_check(doc, "/api/findings/{finding_id}/transition", "post", refused.status_code, refused.json)


def test_the_findings_api_has_the_inbox_filters_pages_and_names(client, store):
    add_person(store, f"ann.lee@{DOMAIN}", "staff", "Ann Lee", "/Staff")
    ids = [add_finding(store, staff=f"ann.lee@{DOMAIN}") for _ in range(3)]
    other = add_finding(store, rule="mail.out_of_hours", severity="low", staff=f"j.smith@{DOMAIN}", status="reviewing")
    sign_in(client, DSL)
    first = client.get("/api/findings?per_page=2").json
    assert (first["total"], first["pages"], first["page"], first["per_page"]) == (4, 2, 1, 2)
    second = client.get("/api/findings?per_page=2&page=2").json
    assert {f["id"] for f in first["findings"] + second["findings"]} == {*ids, other}
    assert first["findings"][0]["severity"] == "high" and second["findings"][-1]["id"] == other  # inbox order
    named = client.get("/api/findings?q=Ann Lee").json["findings"]
    assert sorted(f["id"] for f in named) == ids and {f["staff_name"] for f in named} == {"Ann Lee"}
    assert [f["id"] for f in client.get("/api/findings?status=open&severity=low").json["findings"]] == [other]
    assert [f["id"] for f in client.get("/api/findings?staff=smith&rule=mail.out_of_hours").json["findings"]] == [other]
    assert client.get("/api/findings?to=2000-01-01").json["total"] == 0
    page = client.get("/findings?per_page=2&page=2").get_data(as_text=True)  # the page lists the same two
    assert all(f'href="/findings/{f["id"]}"' in page for f in second["findings"])
    bad = client.get("/api/findings?severity=urgent&page=0")
    assert bad.status_code == 400 and "severity" in bad.json["error"] and "page" in bad.json["error"]


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
