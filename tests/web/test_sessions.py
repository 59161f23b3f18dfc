"""Server-side sessions (issue 11 defect 10): signing out, signing in elsewhere, losing the role, an
idle or too-old session each end it at once — a cookie copied before that stops working."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from test_roles_and_triage import sign_in
from web_env import DSL, add_finding

from integration.store.models_privacy import WebSession

COOKIE = "safechannels_session"


def copy_of(app, client):
    """A second browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def sessions_of(store, email: str) -> list[WebSession]:
    with store.session() as s:
        return list(s.scalars(select(WebSession).where(WebSession.email == email)))


def test_a_copied_cookie_stops_working_at_logout(app, client, store):
    fid = add_finding(store)
    token = sign_in(client, DSL)
    thief = copy_of(app, client)
    assert thief.get(f"/api/findings/{fid}").status_code == 200
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 302
    assert thief.get(f"/api/findings/{fid}").status_code == 401
    assert thief.get(f"/findings/{fid}").headers["Location"].endswith("/auth/login")
    assert sessions_of(store, DSL) == []


def test_the_cookie_holds_an_id_not_the_user(app, client, store):
    sign_in(client, DSL)
    data = app.session_interface.get_signing_serializer(app).loads(client.get_cookie(COOKIE).value)
    assert set(data) == {"_permanent", "sid", "csrf"} and DSL not in str(data)
    [row] = sessions_of(store, DSL)
    assert row.token_hash != data["sid"] and len(row.token_hash) == 64


def test_signing_in_elsewhere_ends_the_other_session(app, client, store):
    sign_in(client, DSL)
    elsewhere = app.test_client()
    sign_in(elsewhere, DSL)
    assert client.get("/api/me").status_code == 401
    assert elsewhere.get("/api/me").status_code == 200 and len(sessions_of(store, DSL)) == 1


def test_removing_the_role_ends_the_session_for_good(app, client, store):
    sign_in(client, DSL)
    web = app.extensions["safechannels"].settings.web
    web.dsl_users = []
    assert client.get("/api/me").status_code == 401
    web.dsl_users = [DSL]  # given back: the old cookie does not come back to life
    assert client.get("/api/me").status_code == 401 and sessions_of(store, DSL) == []


@pytest.mark.parametrize(("column", "age"), [("last_seen_at", timedelta(minutes=61)),
                                             ("created_at", timedelta(hours=8, minutes=1))])
def test_an_idle_or_too_old_session_is_refused(client, store, column, age):
    sign_in(client, DSL)
    with store.session() as s:
        s.execute(update(WebSession).values({column: datetime.now(UTC) - age}))
    assert client.get("/api/me").status_code == 401 and sessions_of(store, DSL) == []


def test_an_active_session_is_kept_alive(client, store):
    sign_in(client, DSL)
    with store.session() as s:
        s.execute(update(WebSession).values(last_seen_at=datetime.now(UTC) - timedelta(minutes=59)))
    assert client.get("/api/me").status_code == 200
    [row] = sessions_of(store, DSL)
    assert datetime.now(UTC) - row.last_seen_at < timedelta(minutes=1)
