"""Google push channels (Drive changes, Directory users, Reports activities): a notification from a
channel we opened, with its token and a new message number, asks for the incremental job; anything
else is refused with an empty 4xx."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select
from web_env import LiveServer, job_requests

from integration.store.models_web import WatchChannel

ROUTE = {"drive.changes": "/webhooks/drive", "directory.users": "/webhooks/directory",
         "reports.drive": "/webhooks/reports"}


def headers(channel, number: int, state: str = "change", **override) -> dict:
    h = {"X-Goog-Channel-ID": channel.channel_id, "X-Goog-Channel-Token": channel.token,
         "X-Goog-Message-Number": str(number), "X-Goog-Resource-State": state,
         "X-Goog-Resource-ID": channel.resource_id, "X-Goog-Resource-URI": "https://www.googleapis.com/drive/v3/changes",
         "X-Goog-Channel-Expiration": "Sat, 22 Nov 2026 10:00:00 GMT"}
    h.update(override)
    return {k: v for k, v in h.items() if v is not None}


def stored_number(store, channel) -> int:
    with store.session() as s:
        return s.scalar(select(WatchChannel.last_message_number).where(WatchChannel.id == channel.id))


def test_the_sync_message_is_recorded_and_requests_nothing(client, store, open_channel):
    ch = open_channel()
    r = client.post("/webhooks/drive", headers=headers(ch, 1, "sync"))
    assert r.status_code == 204
    assert stored_number(store, ch) == 1
    assert job_requests(store) == []


@pytest.mark.parametrize("source,job", [("drive.changes", "audit"), ("directory.users", "roster_sync"),
                                        ("reports.drive", "audit")])
def test_a_change_requests_the_sources_incremental_job(client, store, open_channel, source, job):
    ch = open_channel(source)
    client.post(ROUTE[source], headers=headers(ch, 1, "sync"))
    r = client.post(ROUTE[source], headers=headers(ch, 7, "change"), data=b"")
    assert r.status_code == 204 and r.data == b""
    assert job_requests(store) == [(job, f"push {source} change")]


def test_a_burst_of_changes_is_one_waiting_request(client, store, open_channel):
    ch = open_channel()
    for n in range(2, 12):
        assert client.post("/webhooks/drive", headers=headers(ch, n)).status_code == 204
    assert job_requests(store) == [("audit", "push drive.changes change")]
    assert stored_number(store, ch) == 11


@pytest.mark.parametrize("number", [5, 4])
def test_a_replayed_or_older_message_number_is_refused(client, store, open_channel, number):
    ch = open_channel()
    assert client.post("/webhooks/drive", headers=headers(ch, 5)).status_code == 204
    r = client.post("/webhooks/drive", headers=headers(ch, number))
    assert r.status_code == 409 and r.data == b""
    assert stored_number(store, ch) == 5
    assert len(job_requests(store)) == 1


@pytest.mark.parametrize("override", [
    {"X-Goog-Channel-Token": "forged-token"},
    {"X-Goog-Channel-Token": None},
    {"X-Goog-Channel-ID": "a-channel-we-never-opened"},
    {"X-Goog-Resource-ID": "another-resource"},
], ids=["forged token", "no token", "unknown channel", "wrong resource"])
def test_forged_or_unknown_channels_are_refused_without_detail(client, store, open_channel, override):
    ch = open_channel()
    r = client.post("/webhooks/drive", headers=headers(ch, 3, **override))
    assert r.status_code == 403 and r.data == b""
    assert job_requests(store) == [] and stored_number(store, ch) == 0


def test_a_channel_is_only_accepted_on_its_own_route(client, store, open_channel):
    ch = open_channel("drive.changes")
    assert client.post("/webhooks/reports", headers=headers(ch, 3)).status_code == 403
    assert client.post("/webhooks/directory", headers=headers(ch, 3)).status_code == 403


@pytest.mark.parametrize("kw", [{"status": "stopped"}, {"expires_in": __import__("datetime").timedelta(hours=-1)}],
                         ids=["stopped", "expired"])
def test_stopped_and_expired_channels_are_refused(client, store, open_channel, kw):
    ch = open_channel(**kw)
    assert client.post("/webhooks/drive", headers=headers(ch, 3)).status_code == 403
    assert job_requests(store) == []


@pytest.mark.parametrize("override", [{"X-Goog-Message-Number": "seven"}, {"X-Goog-Message-Number": None},
                                      {"X-Goog-Resource-State": None}, {"X-Goog-Channel-ID": None}])
def test_malformed_notifications_are_bad_requests(client, open_channel, override):
    r = client.post("/webhooks/drive", headers=headers(open_channel(), 3, **override))
    assert r.status_code == 400 and r.data == b""


def test_an_oversized_body_is_refused(client, store, open_channel):
    r = client.post("/webhooks/drive", headers=headers(open_channel(), 3), data=b"x" * (64 * 1024 + 1))
    assert r.status_code == 413 and r.data == b""
    assert job_requests(store) == []


def test_other_methods_and_paths_answer_empty(client):
    assert client.get("/webhooks/drive").status_code == 405
    assert client.get("/webhooks/drive").data == b""
    assert client.post("/webhooks/nowhere").data == b""


def test_notifications_over_real_http_and_concurrent_replays_are_accepted_once(app, store, open_channel):
    ch = open_channel("reports.drive")
    with LiveServer(app) as live:
        url = live.url + "/webhooks/reports"
        assert requests.post(url, headers=headers(ch, 1, "sync"), timeout=10).status_code == 204
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: requests.post(url, headers=headers(ch, 9, "add_user"), timeout=10)
                                  .status_code, range(8)))
    assert sorted(codes) == [204] + [409] * 7
    assert job_requests(store) == [("audit", "push reports.drive add_user")]
