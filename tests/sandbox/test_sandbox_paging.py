"""Paging: opaque tokens bound to the query, Google's page-size rules, and fields masks."""

from __future__ import annotations

import json

import pytest
import requests
from googleapiclient.errors import HttpError

from sandbox.fields import FieldsError, filter_json, parse
from sandbox.school import generate, truth
from sandbox.server import SandboxServer


def _all_users(directory, **kw):
    req, users, pages = directory.users().list(customer="my_customer", **kw), [], 0
    while req is not None:
        resp = req.execute()
        users += resp.get("users", [])
        pages += 1
        req = directory.users().list_next(req, resp)
    return users, pages


def test_list_next_walks_every_page_once(server, directory):
    users, pages = _all_users(directory, maxResults=7)
    live = [u for u in server.domain.users if not u.deleted]
    assert len(users) == len(live) == len({u["id"] for u in users})
    assert pages == -(-len(live) // 7)


def test_directory_refuses_page_sizes_above_500(directory):
    with pytest.raises(HttpError) as err:
        directory.users().list(customer="my_customer", maxResults=501).execute()
    assert err.value.status_code == 400 and "[1, 500]" in json.loads(err.value.content)["error"]["message"]


def test_a_page_token_replayed_with_another_query_is_invalid(directory):
    first = directory.users().list(customer="my_customer", maxResults=5).execute()
    with pytest.raises(HttpError) as err:
        directory.users().list(customer="my_customer", maxResults=5, query="isSuspended=false",
                               pageToken=first["nextPageToken"]).execute()
    assert err.value.status_code == 400
    with pytest.raises(HttpError):
        directory.users().list(customer="my_customer", pageToken="garbage").execute()


def test_classroom_page_sizes_above_the_cap_are_coerced():
    d = generate("demo")
    with SandboxServer(d) as srv:
        admin_token = srv.access_token(d.admin_email, ["https://www.googleapis.com/auth/classroom.courses.readonly"])
        headers = {"Authorization": f"Bearer {admin_token}"}
        page = requests.get(srv.url + "/v1/courses", params={"pageSize": 5000}, headers=headers, timeout=10).json()
        assert len(page["courses"]) == truth(d)["courses"] + 1 and "nextPageToken" not in page


def test_page_caps_force_short_pages(tiny_school, credentials):
    with SandboxServer(tiny_school, page_caps={"directory.users.list": 3}) as srv:
        token = srv.access_token(tiny_school.admin_email, ["https://www.googleapis.com/auth/admin.directory.user"])
        resp = requests.get(srv.url + "/admin/directory/v1/users", params={"customer": "my_customer", "maxResults": 500},
                            headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        assert len(resp["users"]) == 3 and resp["nextPageToken"]


def test_users_query_filters_by_org_unit_including_sub_units(server, directory):
    users, _ = _all_users(directory, query="orgUnitPath='/Pupils' isSuspended=false")
    assert users and all(u["orgUnitPath"].startswith("/Pupils/Year") for u in users)
    deleted, _ = _all_users(directory, showDeleted=True)
    assert [u["primaryEmail"] for u in deleted] == [u.primary_email for u in server.domain.users if u.deleted]


def test_fields_masks_return_exactly_what_was_asked(directory):
    resp = directory.users().list(customer="my_customer", maxResults=2,
                                  fields="nextPageToken,users(id,primaryEmail,name/fullName)").execute()
    assert set(resp) == {"users", "nextPageToken"}
    assert all(set(u) <= {"id", "primaryEmail", "name"} and set(u.get("name", {})) <= {"fullName"}
               for u in resp["users"])


def test_fields_mask_grammar():
    doc = {"kind": "k", "files": [{"id": "1", "owners": [{"emailAddress": "a", "me": True}], "x": 2}]}
    assert filter_json(doc, "files(id,owners(emailAddress))") == {"files": [{"id": "1", "owners": [{"emailAddress": "a"}]}]}
    assert filter_json(doc, "files/owners/me,kind") == {"kind": "k", "files": [{"owners": [{"me": True}]}]}
    assert filter_json(doc, "*") == doc
    assert parse("a/b,a/c") == {"a": {"b": {}, "c": {}}}
    with pytest.raises(FieldsError):
        parse("files(id")
