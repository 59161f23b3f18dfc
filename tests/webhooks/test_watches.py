"""Watches: renew_all opens what is wanted, replaces channels before they expire (new first, then
stops the old), renews Forms watches in place, stops what is no longer wanted, and never lets
one failure stop the rest; push_status says which sources push and why others are polled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from integration.errors import NotFound, SourceRefused
from integration.store.models_roster import Person
from integration.store.models_web import WatchChannel
from integration.watches import Opened, push_status, renew_all

STAFF = ["a.teacher@northfield.sch.uk", "b.teacher@northfield.sch.uk"]


class FakeWatchApi:
    """A WatchApi that records calls and answers like Google (expiry read back, ids echoed)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.fail: dict[str, Exception] = {}
        self.n = 0

    def _open(self, what: str, channel_id: str, expires: datetime | None = None) -> Opened:
        self.calls.append((what, channel_id))
        if what in self.fail:
            raise self.fail[what]
        self.n += 1
        return Opened(channel_id, f"res-{self.n}", expires or datetime.now(UTC) + timedelta(days=7))

    def watch_directory_users(self, event, channel_id, token, address, expires, ttl_seconds):
        assert address.endswith("/webhooks/directory") and len(token) >= 32 and ttl_seconds == 172800
        return self._open(f"directory:{event}", channel_id, expires)

    def watch_reports(self, application, channel_id, token, address, expires):
        assert address.endswith("/webhooks/reports")
        return self._open(f"reports:{application}", channel_id, expires)

    def watch_drive_changes(self, user, channel_id, token, address, expires):
        return self._open(f"drive:{user}", channel_id, expires)

    def stop_channel(self, api, channel_id, resource_id, subject=""):
        self.calls.append(("stop", api, channel_id, resource_id, subject))
        if "stop" in self.fail:
            raise self.fail["stop"]

    def watch_form(self, form_id, topic, event_type="RESPONSES"):
        return self._open(f"form:{form_id}", f"watch{self.n}")

    def renew_form_watch(self, form_id, watch_id):
        self.calls.append(("renew_form", form_id, watch_id))
        if "renew_form" in self.fail:
            raise self.fail["renew_form"]
        return Opened(watch_id, form_id, datetime.now(UTC) + timedelta(days=7))

    def delete_form_watch(self, form_id, watch_id):
        self.calls.append(("delete_form", form_id, watch_id))

    def watch_gmail(self, mailbox, topic):
        return self._open(f"gmail:{mailbox}", f"gmail:{mailbox}")

    def stop_gmail(self, mailbox):
        self.calls.append(("stop_gmail", mailbox))


@pytest.fixture
def staff(store):
    with store.session() as s:
        for email in STAFF:
            s.add(Person(email=email, role="staff", status="active", name=email.split("@")[0]))
        s.add(Person(email="left@northfield.sch.uk", role="staff", status="left", name="Left"))


def active(store, source: str | None = None) -> list[WatchChannel]:
    with store.session() as s:
        q = select(WatchChannel).where(WatchChannel.status == "active")
        if source:
            q = q.where(WatchChannel.source == source)
        return list(s.scalars(q.order_by(WatchChannel.id)))


def opened(api: FakeWatchApi) -> list[str]:
    return sorted(c[0] for c in api.calls if c[0] not in ("stop", "renew_form", "delete_form", "stop_gmail"))


def test_the_first_run_opens_every_wanted_watch_and_the_second_changes_nothing(ctx, store, staff):
    api = FakeWatchApi()
    summary = renew_all(ctx, api)
    assert opened(api) == sorted(
        [f"directory:{e}" for e in ("add", "update", "delete", "undelete")]
        + [f"reports:{a}" for a in ("drive", "chat", "meet", "token")]
        + [f"drive:{u}" for u in STAFF] + ["form:form-ack-2025"])
    assert summary["opened"] == 11 and summary["failed"] == 0
    rows = active(store)
    assert all(r.token and r.expires_at for r in rows if r.kind == "channel")
    assert len({r.token for r in rows if r.kind == "channel"}) == 10  # a token per channel
    api.calls.clear()
    assert renew_all(ctx, api)["opened"] == 0 and api.calls == []


def test_channel_tokens_are_encrypted_at_rest(ctx, store, staff):
    renew_all(ctx, FakeWatchApi())
    row = active(store, "reports.drive")[0]
    with store.engine.connect() as conn:
        raw = conn.exec_driver_sql(f"SELECT token FROM watch_channels WHERE id = {row.id}").scalar()
    assert raw != row.token and row.token not in raw



def expires_in(store, channel: WatchChannel, left: timedelta) -> None:
    with store.session() as s:
        s.execute(update(WatchChannel).where(WatchChannel.id == channel.id).values(expires_at=datetime.now(UTC) + left))
def test_an_expiring_channel_is_replaced_first_and_then_stopped(ctx, store, staff):
    api = FakeWatchApi()
    renew_all(ctx, api)
    old = active(store, "reports.drive")[0]
    expires_in(store, old, timedelta(hours=2))
    api.calls.clear()
    summary = renew_all(ctx, api)
    assert [c[0] for c in api.calls] == ["reports:drive", "stop"]
    assert api.calls[1][1:4] == ("reports", old.channel_id, old.resource_id)
    now_live = active(store, "reports.drive")
    assert len(now_live) == 1 and now_live[0].channel_id != old.channel_id
    assert summary["renewed"] == 1 and summary["stopped"] == 1


def test_drive_channels_are_stopped_as_their_owner(ctx, store, staff):
    api = FakeWatchApi()
    renew_all(ctx, api)
    with store.session() as s:
        s.execute(update(Person).where(Person.email == STAFF[0]).values(status="left"))
    api.calls.clear()
    renew_all(ctx, api)
    assert [(c[1], c[4]) for c in api.calls if c[0] == "stop"] == [("drive", STAFF[0])]
    assert [r.partition for r in active(store, "drive.changes")] == [STAFF[1]]


def test_a_failed_open_is_recorded_and_the_rest_still_happen(ctx, store, staff):
    api = FakeWatchApi()
    api.fail["reports:meet"] = SourceRefused("Admin SDK Reports API refused", api="reports")
    summary = renew_all(ctx, api)
    assert summary["failed"] == 1 and "reports.meet" in summary["errors"][0]
    assert summary["opened"] == 10
    status = {s: (mode, detail) for s, mode, detail in push_status(ctx)}
    assert status["reports.meet"][0] == "polled" and "refused" in status["reports.meet"][1]
    assert status["reports.drive"][0] == "push"


def test_a_form_watch_is_renewed_in_place_and_recreated_if_google_forgot_it(ctx, store, staff):
    api = FakeWatchApi()
    renew_all(ctx, api)
    form = active(store, "forms")[0]
    expires_in(store, form, timedelta(days=1))
    api.calls.clear()
    assert renew_all(ctx, api)["renewed"] == 1
    assert api.calls == [("renew_form", "form-ack-2025", form.resource_id)]
    expires_in(store, form, timedelta(days=1))
    api.fail["renew_form"] = NotFound("gone", api="forms")
    api.calls.clear()
    renew_all(ctx, api)
    assert [c[0] for c in api.calls] == ["renew_form", "form:form-ack-2025"]
    assert len(active(store, "forms")) == 1


def test_push_status_names_the_sources_google_cannot_push(ctx, store, staff):
    renew_all(ctx, FakeWatchApi())
    status = {s: (mode, detail) for s, mode, detail in push_status(ctx)}
    assert status["reports.gmail"][0] == "polled" and "cannot watch gmail" in status["reports.gmail"][1]
    assert status["classroom"][0] == "polled" and "OAuth grant" in status["classroom"][1]
    assert status["gmail"][0] == "polled" and "mail_source" in status["gmail"][1]
    assert status["drive.changes"] == ("push", status["drive.changes"][1])
    assert status["forms"][0] == "push"


def test_without_a_public_url_nothing_is_opened_and_old_channels_are_stopped(ctx, store, staff):
    api = FakeWatchApi()
    renew_all(ctx, api)
    ctx.settings.webhooks.public_url = ""
    ctx.settings.webhooks.pubsub_topic = ""
    api.calls.clear()
    summary = renew_all(ctx, api)
    assert opened(api) == [] and summary["stopped"] == 11
    assert active(store) == []
    assert all(mode == "polled" for _, mode, _ in push_status(ctx))
