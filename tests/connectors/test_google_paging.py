"""Paging: every page exactly once, with or without reading the next page ahead, and a paging loop
(the API sending a token twice) refused rather than followed forever."""

from __future__ import annotations

import json
import time

import pytest
from stub_env import StubGoogle

from connectors.google.scopes import SCOPES
from connectors.google.transport import GoogleClient
from integration.errors import SourceError


def _list_users(client: GoogleClient, admin: str, ahead: bool, page: int = 3) -> list[list[str]]:
    users = client.resource("directory", "users")

    def req(token):
        return users.list(customer="my_customer", maxResults=page, fields="users(id),nextPageToken", pageToken=token)

    return [[u["id"] for u in p.get("users", [])]
            for p in client.pages("directory", req, subject=admin, scopes=SCOPES["directory"], ahead=ahead)]


@pytest.mark.parametrize("ahead", [False, True])
def test_every_page_once_in_order(google, ahead):
    g = google()
    client = g.client()
    pages = _list_users(client, g.admin, ahead)
    live = sorted(u.id for u in g.domain.users if not u.deleted)
    assert sorted(i for p in pages for i in p) == live and len(pages) == -(-len(live) // 3)
    assert client.stats.calls["directory"] == len(pages)  # reading ahead never reads a page twice or past the end


def test_a_consumer_that_stops_early_leaves_at_most_one_page_read_ahead(google):
    g = google()
    client = g.client()
    users = client.resource("directory", "users")
    gen = client.pages("directory", lambda t: users.list(customer="my_customer", maxResults=2, pageToken=t),
                       subject=g.admin, scopes=SCOPES["directory"], ahead=True)
    next(gen)
    gen.close()  # returns at once; the page read ahead, if it had started, is the only extra call
    time.sleep(0.5)
    assert client.stats.calls["directory"] <= 2


class _LoopingUsers(StubGoogle):
    def do_GET(self):  # noqa: N802 - http.server's naming
        self.reply("application/json", json.dumps({"users": [{"id": "1"}], "nextPageToken": "again"}).encode())


@pytest.mark.parametrize("ahead", [False, True])
def test_a_paging_loop_is_refused_by_name(google, stub_google, ahead):
    g = google()
    client = GoogleClient(g.key, api_base_url=stub_google(_LoopingUsers), sleep=g.sleeps.append)
    with pytest.raises(SourceError, match="paging loop"):
        _list_users(client, g.admin, ahead)
