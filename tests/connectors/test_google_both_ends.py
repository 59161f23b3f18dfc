"""Reading a list from both ends: every item exactly once, the calls the formula says, and the
whole list even when the server does not reverse its order or one direction fails."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from stub_env import StubGoogle

from connectors.google.both_ends import read_both_ends
from connectors.google.directory import DirectoryReader, _users_of, _wire_email, _wire_id
from connectors.google.transport import GoogleClient

PAGE = 500


def user(i: int) -> dict:
    return {"id": str(100000 + i), "primaryEmail": f"user{i:06d}@school.example"}


class Server:
    """users.list paging over `items`, the way GoogleClient.pages drives a server: `more(page)` is
    asked as each page arrives, and no further page is requested once it says no."""

    def __init__(self, items: list[dict], *, reverses: bool = True, fail_descending_at: int | None = None,
                 descending_delay_s: float = 0.0):
        self.items, self.reverses = items, reverses
        self.fail_descending_at, self.descending_delay_s = fail_descending_at, descending_delay_s
        self.calls: list[tuple[bool, int]] = []
        self.lock = threading.Lock()

    def pages(self, descending: bool, start: str | None, more):
        seq = self.items[::-1] if descending and self.reverses else self.items
        offset = int(start or 0)
        while True:
            with self.lock:
                self.calls.append((descending, offset))
            if descending:
                time.sleep(self.descending_delay_s)
                if self.fail_descending_at is not None and offset >= self.fail_descending_at * PAGE:
                    raise RuntimeError("descending read failed")
            page: dict = {"users": seq[offset:offset + PAGE]}
            if offset + PAGE < len(seq):
                page["nextPageToken"] = str(offset + PAGE)
            go_on = more(page)
            yield page
            if not go_on or "nextPageToken" not in page:
                return
            offset += PAGE


def read(server: Server) -> list[str]:
    return read_both_ends(server.pages, _users_of, lambda page: [u["id"] for u in _users_of(page)],
                          ident=_wire_id, key=_wire_email, what="users")


@pytest.mark.parametrize("n", [0, 1, 499, 500, 501, 999, 1000, 1001, 1706, 17042])
def test_every_item_is_read_and_the_calls_follow_the_formula(n):
    items = [user(i) for i in range(n)]
    server = Server(items)
    ids = read(server)
    assert set(ids) == {u["id"] for u in items}
    # in step, a step at a time: the formula, or one call fewer when a direction's last page arrives
    # first and already overlaps the other's
    assert 2 * math.ceil((n + 1) / (2 * PAGE)) - 1 <= len(server.calls) <= 2 * math.ceil((n + 1) / (2 * PAGE))
    assert len(server.calls) <= max(1, math.ceil(n / PAGE)) + 2
    ascending = [offset for desc, offset in server.calls if not desc]
    descending = [offset for desc, offset in server.calls if desc]
    assert abs(len(ascending) - len(descending)) <= 1  # neither direction ran ahead


def test_a_server_that_ignores_sort_order_still_gives_the_whole_list(caplog):
    items = [user(i) for i in range(2600)]
    server = Server(items, reverses=False)  # "descending" pages come back ascending
    with caplog.at_level(logging.WARNING):
        ids = read(server)
    assert set(ids) == {u["id"] for u in items}
    assert "google.both_ends_unordered" in caplog.text


def test_a_different_collation_is_caught_not_trusted(caplog):
    # the server orders by a key of its own: '.' after '_' (ours says '.' < '_'); ids interleave
    items = [{"id": str(i), "primaryEmail": f"a{'_' if i % 2 else '.'}{i // 2:05d}@s.example"} for i in range(2400)]
    server_order = sorted(items, key=lambda u: u["primaryEmail"].replace(".", "~"))
    server = Server(server_order)
    with caplog.at_level(logging.WARNING):
        ids = read(server)
    assert set(ids) == {u["id"] for u in items}
    assert "google.both_ends_unordered" in caplog.text


def test_a_failed_descending_read_is_covered_by_the_ascending_read(caplog):
    items = [user(i) for i in range(3000)]
    server = Server(items, fail_descending_at=1)
    with caplog.at_level(logging.WARNING):
        ids = read(server)
    assert set(ids) == {u["id"] for u in items}
    assert "google.both_ends_descending_failed" in caplog.text


def test_a_failed_ascending_read_fails_the_list():
    class AscendingFails(Server):
        def pages(self, descending, start, more):
            if not descending:
                raise RuntimeError("ascending read failed")
            return super().pages(descending, start, more)

    with pytest.raises(RuntimeError, match="ascending read failed"):
        read(AscendingFails([user(i) for i in range(3000)]))


def test_a_slow_direction_is_waited_for_not_overtaken():
    items = [user(i) for i in range(3900)]
    server = Server(items, descending_delay_s=0.02)
    ids = read(server)
    assert set(ids) == {u["id"] for u in items}
    assert len(server.calls) <= 8  # 4 steps of 2: the fast direction did not read on alone


def test_users_are_read_from_both_ends_of_the_address_order(google):
    g = google("demo", page_caps={"directory.users.list": 40}, strict=True)
    users = DirectoryReader(g.client(), admin=g.admin).users()
    live = {u.id for u in g.domain.users if not u.deleted}
    assert {u.google_id for u in users} == live and len(users) == len(live)
    calls = g.server.requests("directory.users.list")
    orders = {(e.query.get("orderBy"), e.query.get("sortOrder")) for e in calls}
    assert orders == {("email", "ASCENDING"), ("email", "DESCENDING")}
    assert 2 * math.ceil((len(live) + 1) / 80) - 1 <= len(calls) <= 2 * math.ceil((len(live) + 1) / 80)
    assert g.server.problems() == []


def test_a_stuck_direction_is_waited_for_once_not_at_every_page(monkeypatch):
    from connectors.google import both_ends

    monkeypatch.setattr(both_ends._Meeting, "STEP_WAIT_S", 0.05)
    items = [user(i) for i in range(3000)]
    server = Server(items, descending_delay_s=1.0)  # the descending read is stuck on its first page
    started = time.perf_counter()
    ids = read(server)
    assert set(ids) == {u["id"] for u in items}
    assert time.perf_counter() - started < 1.5  # one step's wait, then the ascending read went on


def test_both_ends_under_injected_faults_still_read_every_user(google):
    g = google("demo", page_caps={"directory.users.list": 40})
    g.server.faults.set_rate(0.2, seed=7)
    users = DirectoryReader(g.client(), admin=g.admin).users()
    live = {u.id for u in g.domain.users if not u.deleted}
    assert {u.google_id for u in users} == live and len(users) == len(live)
    assert g.server.faults.injected > 3
    assert g.server.problems() == []


class _NoOrderBy(StubGoogle):
    """A server that refuses orderBy/sortOrder with a 400, and otherwise lists two users."""

    def do_GET(self):  # noqa: N802 - http.server's naming
        query = parse_qs(urlsplit(self.path).query)
        if "orderBy" in query or "sortOrder" in query:
            body = {"error": {"code": 400, "message": "Invalid Input: orderBy", "errors": [
                {"message": "Invalid Input: orderBy", "domain": "global", "reason": "invalid"}]}}
            return self.reply("application/json", json.dumps(body).encode(), 400)
        users = [{"id": "1", "primaryEmail": "a@school.example"}, {"id": "2", "primaryEmail": "b@school.example"}]
        self.reply("application/json", json.dumps({"users": users}).encode())


def test_a_server_refusing_the_order_parameters_is_read_plainly(google, stub_google, caplog):
    g = google()
    client = GoogleClient(g.key, api_base_url=stub_google(_NoOrderBy), sleep=g.sleeps.append)
    with caplog.at_level(logging.WARNING):
        users = DirectoryReader(client, admin=g.admin).users()
    assert sorted(u.email for u in users) == ["a@school.example", "b@school.example"]
    assert "directory.users_order_refused" in caplog.text
