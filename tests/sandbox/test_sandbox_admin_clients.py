"""What an admin's client (GAM7) asks for beyond the service's own reads, each checked against the
discovery documents through Google's client library: the gaps GAM7 found (issue 10)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import google.oauth2.credentials
import google.oauth2.id_token
import pytest
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from sandbox.activity import activity, share_now
from sandbox.model import SCOPE
from sandbox.oidc import CERTS_PATH
from sandbox.token import oauth_client, refresh_token

GAM_ALL_USERS = "isSuspended=False isGuest=False"  # GAM7's query for `gam all users ...`


def test_the_all_users_query_of_gam_selects_every_live_unsuspended_account(directory, server):
    users = directory.users().list(customer="my_customer", query=GAM_ALL_USERS, maxResults=500).execute()["users"]
    expected = {u.primary_email for u in server.domain.live_users() if not u.suspended}
    assert {u["primaryEmail"] for u in users} == expected
    guests = directory.users().list(customer="my_customer", query="isGuest=True").execute()
    assert "users" not in guests
    with pytest.raises(HttpError) as bad:
        directory.users().list(customer="my_customer", query="isGuest=Maybe").execute()
    assert bad.value.resp.status == 400
    assert server.problems() == []


def test_an_org_unit_is_read_by_path_and_by_id(directory, server):
    ou = server.domain.org_units[-1]
    by_path = directory.orgunits().get(customerId="my_customer", orgUnitPath=ou.path.lstrip("/")).execute()
    assert (by_path["orgUnitPath"], by_path["orgUnitId"], by_path["parentOrgUnitPath"]) == (
        ou.path, ou.org_unit_id, ou.parent_path)
    by_id = directory.orgunits().get(customerId="my_customer", orgUnitPath=ou.org_unit_id).execute()
    assert by_id == by_path
    with pytest.raises(HttpError) as missing:
        directory.orgunits().get(customerId="my_customer", orgUnitPath="No/Such/Unit").execute()
    assert missing.value.resp.status == 404
    assert server.problems() == []


def _gmail(server, credentials, who: str):
    creds = credentials([SCOPE + "gmail.readonly"], who)
    return build("gmail", "v1", credentials=creds, client_options={"api_endpoint": server.url + "/"})


def _all_ids(call) -> list[str]:
    ids, token = [], None
    while True:
        page = call(pageToken=token).execute()
        ids += [m["id"] for m in page.get("messages", [])]
        token = page.get("nextPageToken")
        if not token:
            return ids


def test_gmail_search_q_selects_by_sender_folder_and_date(server, credentials):
    act = activity(server.domain)
    box = max(act.staff, key=lambda e: len(act.mailbox(e)))
    mail = act.mailbox(box)
    svc = _gmail(server, credentials, box).users().messages()
    sent = {m.id for m in mail if m.direction == "sent"}
    assert sent and set(_all_ids(lambda **kw: svc.list(userId="me", q="in:sent", **kw))) == sent
    other = next(m.sender for m in mail if m.direction == "received")
    got = set(_all_ids(lambda **kw: svc.list(userId="me", q=f"from:{other}", **kw)))
    assert got == {m.id for m in mail if other in m.sender}
    cut = act.day_start(act.last_day - 2)
    after = set(_all_ids(lambda **kw: svc.list(userId="me", q=f"after:{int(cut.timestamp())} -in:sent", **kw)))
    assert after == {m.id for m in mail if m.time >= cut and m.direction != "sent"}
    assert _all_ids(lambda **kw: svc.list(userId="me", q="subject:no-such-subject-anywhere", **kw)) == []
    inbox = set(_all_ids(lambda **kw: svc.list(userId="me", labelIds=["INBOX"], **kw)))
    assert inbox == {m.id for m in mail if m.direction == "received"}
    assert server.problems() == []


def test_files_list_for_a_user_includes_files_shared_with_them_but_not_with_owners_only(server, credentials):
    act = activity(server.domain)
    owner, reader = act.staff[0], act.staff[1]
    fid = share_now(server.domain, owner, reader, role="reader")
    creds = credentials([SCOPE + "drive.readonly"], reader)
    drive = build("drive", "v3", credentials=creds, client_options={"api_endpoint": server.url + "/drive/v3/"}).files()
    fields = "nextPageToken,files(id,ownedByMe,owners,permissions)"
    everything = drive.list(corpora="user", pageSize=1000, fields=fields).execute()["files"]
    shared = next(f for f in everything if f["id"] == fid)
    assert shared["ownedByMe"] is False and "permissions" not in shared
    assert shared["owners"][0]["emailAddress"] == owner
    mine = drive.list(q="'me' in owners", pageSize=1000, fields=fields).execute()["files"]
    assert fid not in {f["id"] for f in mine} and all(f["ownedByMe"] for f in mine)
    assert {f["id"] for f in mine} < {f["id"] for f in everything}
    assert server.problems() == []


def _user_credentials(server, email: str, scopes: list[str]):
    client = oauth_client(server.domain)
    return google.oauth2.credentials.Credentials(
        token=None, refresh_token=refresh_token(server.domain, email, scopes), token_uri=server.token_uri,
        client_id=client.client_id, client_secret=client.client_secret, scopes=scopes)


def test_a_refresh_token_gives_the_admin_an_access_token_and_a_verifiable_id_token(server):
    admin = server.domain.admin_email
    scopes = ["openid", "email", SCOPE + "admin.directory.user.readonly"]
    creds = _user_credentials(server, admin, scopes)
    creds.refresh(Request())
    assert creds.valid and creds.expiry > datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=50)
    claims = google.oauth2.id_token.verify_token(creds.id_token, Request(), certs_url=server.url + CERTS_PATH,
                                                 audience=oauth_client(server.domain).client_id)
    assert (claims["email"], claims["hd"], claims["iss"]) == (admin, server.domain.domain, "https://accounts.google.com")
    svc = build("admin", "directory_v1", credentials=creds, client_options={"api_endpoint": server.url})
    assert svc.users().get(userKey=admin).execute()["primaryEmail"] == admin
    assert server.problems() == []


def test_refresh_errors_are_googles(server):
    import requests

    admin, client = server.domain.admin_email, oauth_client(server.domain)
    scopes = [SCOPE + "admin.directory.user.readonly"]
    form = {"grant_type": "refresh_token", "client_id": client.client_id, "client_secret": client.client_secret,
            "refresh_token": refresh_token(server.domain, admin, scopes)}

    def post(**changes: str) -> tuple[int, dict]:
        r = requests.post(server.token_uri, data={**form, **changes}, timeout=10)
        return r.status_code, json.loads(r.text)

    assert post()[0] == 200
    assert post(client_secret="GOCSPX-wrong") == (401, {"error": "invalid_client", "error_description": "Unauthorized"})
    assert post(refresh_token=form["refresh_token"][:-3] + "abc")[1]["error"] == "invalid_grant"
    status, body = post(scope=SCOPE + "gmail.readonly")
    assert (status, body["error"]) == (400, "invalid_scope")
    server.domain.suspend_user(admin)
    with pytest.raises(RefreshError, match="expired or revoked"):
        _user_credentials(server, admin, scopes).refresh(Request())
