"""Quota pacing: no 60-second window ever holds more calls than a user's per-minute quota, batch parts
count one by one, and a paced client still reads everything (it waits, it does not fail)."""

from __future__ import annotations

import logging

import pytest

from connectors.google.quotas import (
    PER_PROJECT_PER_MINUTE,
    PER_USER_PER_MINUTE,
    WINDOW_S,
    QuotaPacer,
    quota_floor_s,
)
from connectors.google.scopes import SCOPES


class Clock:
    """Simulated time: sleeping moves it on, so the pacer's waits are exact and instant."""

    def __init__(self):
        self.now, self.slept = 1000.0, []

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def _windows_hold_at_most(stamps: list[float], limit: int) -> bool:
    return all(sum(1 for t in stamps if start <= t < start + WINDOW_S) <= limit for start in stamps)


def test_no_sixty_second_window_holds_more_than_the_quota():
    clock = Clock()
    pacer = QuotaPacer({"classroom": 10}, clock=lambda: clock.now, sleep=clock.sleep)
    stamps = []
    for _ in range(35):
        pacer.acquire("classroom", "admin@school.test")
        stamps.append(clock.now)
        clock.now += 0.5  # the calls themselves take time too
    assert _windows_hold_at_most(stamps, 10)
    assert stamps[9] - stamps[0] < WINDOW_S  # a minute's quota goes at once: Google averages over the window
    assert 3 * WINDOW_S <= stamps[-1] - stamps[0] < 4 * WINDOW_S  # 35 calls = 3 full windows after the first


def test_batch_parts_count_and_users_and_apis_are_separate():
    clock = Clock()
    pacer = QuotaPacer({"classroom": 100, "directory": 100}, clock=lambda: clock.now, sleep=clock.sleep)
    pacer.acquire("classroom", "a@school.test", 50)
    pacer.acquire("classroom", "a@school.test", 50)
    pacer.acquire("classroom", "B@school.test", 50)  # another user: own quota
    pacer.acquire("directory", "a@school.test", 100)  # another API: own quota
    pacer.acquire("drive", "a@school.test", 10_000)  # not paced
    assert clock.slept == []
    pacer.acquire("classroom", "A@school.test", 50)  # the same user, whatever the case of the address
    assert clock.slept == [pytest.approx(WINDOW_S)]


def test_the_quota_floor_is_a_window_per_whole_quota_beyond_the_first():
    limit = PER_USER_PER_MINUTE["classroom"]
    assert quota_floor_s({"classroom": limit}) == 0
    assert quota_floor_s({"classroom": limit + 1}) == WINDOW_S
    assert quota_floor_s({"classroom": 5 * limit + 1, "directory": 40, "drive": 10**6}) == 5 * WINDOW_S


def test_a_paced_client_reads_every_page_and_says_why_it_waited(google, caplog):
    caplog.set_level(logging.INFO, logger="safechannels.google")
    g = google()
    client = g.client(quotas={"directory": 4})
    users = client.resource("directory", "users")
    ids = [u["id"] for page in client.pages(
        "directory", lambda t: users.list(customer="my_customer", maxResults=2, fields="users(id),nextPageToken",
                                          pageToken=t), subject=g.admin, scopes=SCOPES["directory"])
        for u in page.get("users", [])]
    assert sorted(ids) == sorted(u.id for u in g.domain.users if not u.deleted)
    pages = client.stats.calls["directory"]
    windows = -(-pages // 4) - 1  # every whole quota beyond the first waits out a window
    assert pages > 4 and windows * WINDOW_S - 1 <= sum(g.sleeps) <= windows * WINDOW_S + 5
    assert all(0 < s <= WINDOW_S for s in g.sleeps)
    paced = [r for r in caplog.records if r.getMessage() == "google.paced"]
    assert paced and paced[0].levelno == logging.INFO and paced[0].fields["api"] == "directory"
    assert "per-user quota" in paced[0].fields["reason"]


# --- Chat: spaces.members.list is paced per project (one window whoever is impersonated)


def _most_in_a_window(stamps: list[float]) -> int:
    """The largest number of calls any 60-second window holds (stamps in call order)."""
    stamps, lo, most = sorted(stamps), 0, 0
    for hi, t in enumerate(stamps):
        while stamps[lo] <= t - WINDOW_S:
            lo += 1
        most = max(most, hi - lo + 1)
    return most


def test_chat_member_reads_keep_to_the_documented_per_project_quota_across_users():
    # developers.google.com/workspace/chat/limits, "Per-project quotas": Membership reads per minute
    # (spaces.members.get, spaces.members.list) = 3,000 per 60 seconds; paced at 90 %.
    assert PER_PROJECT_PER_MINUTE["chat"] == 2700
    clock = Clock()
    pacer = QuotaPacer(clock=lambda: clock.now, sleep=clock.sleep)  # the published defaults
    stamps = []
    for i in range(6000):
        pacer.acquire("chat", f"admin{i % 3}@school.test")  # three subjects still share the project's window
        stamps.append(clock.now)
        clock.now += 0.002
    assert _most_in_a_window(stamps) == 2700
    assert 2 * WINDOW_S <= stamps[-1] - stamps[0] < 3 * WINDOW_S  # 6,000 calls: two windows after the first
    assert quota_floor_s({"chat": 6000}) == 2 * WINDOW_S
    waits = len(clock.slept)
    pacer.acquire("classroom", "admin0@school.test")  # per-user APIs keep their own windows
    assert len(clock.slept) == waits


def test_chat_members_lister_waits_for_the_quota_and_still_lists_every_dm(google, caplog):
    from connectors.google.chat import ChatMembers
    from sandbox.activity import activity

    caplog.set_level(logging.INFO, logger="safechannels.google")
    g = google()
    act = activity(g.domain)
    dms = sorted(r for r, (kind, _) in act.rooms.items() if kind == "DIRECT_MESSAGE")
    client = g.client()
    clock = Clock()
    pacer = QuotaPacer({"chat": 3}, clock=lambda: clock.now, sleep=clock.sleep, on_wait=client._paced)
    stamps: list[float] = []
    acquire = pacer.acquire

    def counted(api: str, user: str, n: int = 1) -> None:
        acquire(api, user, n)
        stamps.append(clock.now)

    pacer.acquire = counted
    client.pacer = pacer
    found = ChatMembers(client, g.admin, workers=4).members(dms)  # four in flight, as in the audit
    ids = {u.primary_email: u.id for u in g.domain.users}
    assert len(dms) > 3 and found == {r: [f"users/{ids[e]}" for e in act.rooms[r][1]] for r in dms}
    assert len(stamps) == len(dms) and _most_in_a_window(stamps) <= 3
    assert stamps[-1] - stamps[0] >= (-(-len(dms) // 3) - 1) * WINDOW_S
    paced = [r for r in caplog.records if r.getMessage() == "google.paced"]
    assert paced and paced[0].fields["api"] == "chat" and "per-project" in paced[0].fields["reason"]


def test_filtered_reports_queries_are_paced_to_their_own_quota(google):
    """activities.list with eventName or filters counts against Google's 250 filtered queries/min as well as
    the 2,400/min: a chain of filtered pages waits, an unfiltered one does not."""
    from datetime import timedelta

    from connectors.google.reports import ReportsReader
    from sandbox.activity import activity

    g = google(page_caps={"reports.activities.list": 10})
    client = g.client(quotas={"reports": 1000, "reports_filtered": 3})
    reader, act = ReportsReader(client, g.admin), activity(g.domain)
    start, end = act.start, act.horizon - timedelta(hours=1)
    unfiltered = sum(len(p) for p in reader.pages("chat", start, end))
    assert unfiltered > 40 and g.sleeps == []
    filtered = sum(len(p) for p in reader.pages("chat", start, end, event_name="message_posted"))
    assert filtered == unfiltered
    pages = -(-filtered // 10)
    assert sum(g.sleeps) >= (-(-pages // 3) - 1) * WINDOW_S - 1


def test_chat_members_lists_a_room_the_sandbox_process_has_not_derived_and_a_gone_room_as_empty(google):
    """A gone space (404) comes back with no members, so the engine stamps it as listed instead of asking
    again every run; a worker process that has not yet derived a room's chat day still knows the room."""
    from connectors.google.chat import ChatMembers
    from sandbox.activity import activity

    g = google()
    act = activity(g.domain)
    planted = {c.room_id for day in act.plant_chat.values() for c in day}  # registered when planted
    act.chat_day(act.last_day - 1)  # background rooms are learnt as their day is derived
    dm = sorted(r for r, (kind, _) in act.rooms.items() if kind == "DIRECT_MESSAGE" and r not in planted)[0]
    members = act.rooms[dm][1]
    act.rooms.clear()  # as in a sandbox worker that has answered no chat Reports page yet:
    act._days.clear()  # no chat day derived (and cached) in this process
    ids = {u.primary_email: u.id for u in g.domain.users}
    found = ChatMembers(g.client(), g.admin, workers=2).members([dm, "spaces/AAAAgone000"])
    assert {k: sorted(v) for k, v in found.items()} == {dm: sorted(f"users/{ids[e]}" for e in members),
                                                        "spaces/AAAAgone000": []}
