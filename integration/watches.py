"""Push channels and Pub/Sub watches: which should exist, opening/renewing/stopping them, and status.

Why: push only *triggers* incremental jobs sooner; the schedule still polls. So a watch that
cannot be opened is never fatal — the source is simply "polled" and `push_status` says why.
Some sources can never push: Reports cannot watch gmail events, and Classroom registrations
need a user's own OAuth grant (domain-wide delegation is refused), so both stay polled.

`renew_all(ctx)` is the worker's `watch_renewal` job. It reconciles the desired set (from
settings and the roster) with the `watch_channels` table: opens missing ones, replaces
channels before they expire (new one first, then stops the old one, so nothing is missed),
renews Forms/Gmail watches in place and stops watches that are no longer wanted. The row is
written before the Google call, because Google sends the `sync` message at once.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, select

from integration.crypto import random_token
from integration.errors import NotFound, SourceError
from integration.logs import event
from integration.store.models_roster import Person
from integration.store.models_web import PubSubMessage, WatchChannel

log = logging.getLogger("safechannels.watches")

PUBSUB_KEEP = timedelta(days=32)  # longer than Pub/Sub's longest message retention (31 days)


@dataclass(frozen=True)
class Opened:
    """What Google answered when a channel or watch was opened or renewed."""

    channel_id: str
    resource_id: str = ""
    expires_at: datetime | None = None


@dataclass(frozen=True)
class Source:
    name: str
    kind: str  # channel | pubsub | polled
    job: str  # the incremental job a notification requests
    route: str = ""  # webhook path (channels)
    api: str = ""  # whose channels.stop closes it
    lifetime: timedelta = timedelta(days=1)  # what we ask for; Google's answer is stored
    renew_before: timedelta = timedelta(hours=12)
    why_polled: str = ""


SOURCES: dict[str, Source] = {s.name: s for s in (
    Source("directory.users", "channel", "roster_sync", "/webhooks/directory", "directory", timedelta(days=2)),
    Source("reports.drive", "channel", "audit", "/webhooks/reports", "reports", timedelta(days=6)),
    Source("reports.chat", "channel", "audit", "/webhooks/reports", "reports", timedelta(days=6)),
    Source("reports.meet", "channel", "audit", "/webhooks/reports", "reports", timedelta(days=6)),
    Source("reports.token", "channel", "audit", "/webhooks/reports", "reports", timedelta(days=6)),
    Source("drive.changes", "channel", "audit", "/webhooks/drive", "drive", timedelta(days=6),
           timedelta(days=1)),
    Source("gmail", "pubsub", "audit", lifetime=timedelta(days=7), renew_before=timedelta(days=6)),
    Source("forms", "pubsub", "acknowledgement", lifetime=timedelta(days=7), renew_before=timedelta(days=2)),
    Source("reports.gmail", "polled", "audit",
           why_polled="the Reports API cannot watch gmail events; each audit run reads them"),
    Source("classroom", "polled", "roster_sync",
           why_polled="Classroom registrations need a user's own OAuth grant (domain-wide delegation "
                      "is refused); the roster sync polls Classroom"),
)}

DIRECTORY_EVENTS = ("add", "update", "delete", "undelete")


class WatchApi(Protocol):
    """The Google calls (connectors/google/watches.py implements them)."""

    def watch_directory_users(self, event: str, channel_id: str, token: str, address: str,
                              expires: datetime, ttl_seconds: int) -> Opened: ...

    def watch_reports(self, application: str, channel_id: str, token: str, address: str,
                      expires: datetime) -> Opened: ...

    def watch_drive_changes(self, user: str, channel_id: str, token: str, address: str,
                            expires: datetime) -> Opened: ...

    def stop_channel(self, api: str, channel_id: str, resource_id: str, subject: str = "") -> None: ...

    def watch_form(self, form_id: str, topic: str, event_type: str = "RESPONSES") -> Opened: ...

    def renew_form_watch(self, form_id: str, watch_id: str) -> Opened: ...

    def delete_form_watch(self, form_id: str, watch_id: str) -> None: ...

    def watch_gmail(self, mailbox: str, topic: str) -> Opened: ...

    def stop_gmail(self, mailbox: str) -> None: ...


def _now() -> datetime:
    return datetime.now(UTC)


def _staff(ctx) -> list[str]:
    with ctx.store.session() as s:
        return list(s.scalars(select(Person.email).where(Person.role == "staff", Person.status == "active")
                              .order_by(Person.email)))


def form_ids(session, settings) -> list[str]:
    """The acknowledgement forms to watch: the configured one and any open round's (created) form."""
    from integration.store.models_acks import AckRound

    ids = [settings.acknowledgement.form_id] if settings.acknowledgement.form_id else []
    ids += [f for f in session.scalars(select(AckRound.form_id).where(AckRound.closed_at.is_(None),
                                                                     AckRound.form_id != "")) if f not in ids]
    return ids


def _form_ids(ctx) -> list[str]:
    with ctx.store.session() as s:
        return form_ids(s, ctx.settings)


def unavailable(ctx, source: Source) -> str:
    """Why push cannot be used for this source with this configuration ('' when it can)."""
    hooks, s = ctx.settings.webhooks, ctx.settings
    if source.kind == "polled":
        return source.why_polled
    if source.kind == "channel" and not hooks.public_url:
        return "set [webhooks] public_url (an HTTPS address Google can reach) to receive push"
    if source.name == "reports.chat" and s.channels.chat_approved:
        return "Chat is an approved channel: no chat rule needs it"
    if source.name == "reports.meet" and s.channels.meet_approved:
        return "Meet is an approved channel: no meet rule needs it"
    if source.kind == "pubsub":
        if not hooks.pubsub_topic:
            return "set [webhooks] pubsub_topic (and a push subscription to /webhooks/pubsub) to receive push"
        if not hooks.pubsub_service_account:
            return "set [webhooks] pubsub_service_account (the push subscription's OIDC account)"
        if not (hooks.pubsub_audience or hooks.public_url):
            return ("set [webhooks] pubsub_audience or public_url (the push subscription's audience): "
                    "Pub/Sub push is refused until one is set")
        if source.name == "gmail" and s.audit.mail_source != "mailbox":
            return "mail is read from the Reports API ([audit] mail_source), which cannot push"
        if source.name == "forms" and not _form_ids(ctx):
            return "no acknowledgement form yet ([acknowledgement] form_id)"
    return ""


def desired(ctx) -> list[tuple[str, str]]:
    """(source, partition) pairs that should have a live channel or watch now."""
    out: list[tuple[str, str]] = []
    for src in SOURCES.values():
        if unavailable(ctx, src):
            continue
        if src.name == "directory.users":
            out += [(src.name, ev) for ev in DIRECTORY_EVENTS]
        elif src.name in ("drive.changes", "gmail"):
            out += [(src.name, user) for user in _staff(ctx)]
        elif src.name == "forms":
            out += [(src.name, f) for f in _form_ids(ctx)]
        else:
            out.append((src.name, ""))
    return out


def push_status(ctx) -> list[tuple[str, str, str]]:
    """(source, "push"|"polled", detail) for doctor and the status page. Reads the database only."""
    now = _now()
    with ctx.store.session() as s:
        rows = list(s.scalars(select(WatchChannel).where(WatchChannel.status.in_(("active", "failed")))
                              .order_by(WatchChannel.created_at)))
    out = []
    for src in SOURCES.values():
        why = unavailable(ctx, src)
        if why:
            out.append((src.name, "polled", why))
            continue
        live = [r for r in rows if r.source == src.name and r.status == "active"
                and (r.expires_at is None or r.expires_at > now)]
        if not live:
            failed = [r.last_error for r in rows if r.source == src.name and r.last_error]
            out.append((src.name, "polled", "no live watch yet (the watch_renewal job opens it)"
                        + (f"; last error: {failed[-1]}" if failed else "")))
            continue
        nxt = min((r.expires_at for r in live if r.expires_at), default=None)
        detail = f"{len(live)} live" + (f", next expiry {nxt:%Y-%m-%d %H:%M} UTC" if nxt else "")
        out.append((src.name, "push", detail))
    return out


def renew_all(ctx, api: WatchApi | None = None) -> dict:
    """Reconcile watches with what is wanted; returns counts and the errors met (never raises for one)."""
    if api is None:
        api = ctx.watch_api()
    now = _now()
    want = desired(ctx)
    summary: dict = {"opened": 0, "renewed": 0, "stopped": 0, "failed": 0, "errors": []}
    with ctx.store.session() as s:
        rows = list(s.scalars(select(WatchChannel).where(WatchChannel.status == "active")))
        s.execute(delete(PubSubMessage).where(PubSubMessage.received_at < now - PUBSUB_KEEP))
        s.execute(delete(WatchChannel).where(WatchChannel.status.in_(("stopped", "failed")),
                                             WatchChannel.created_at < now - PUBSUB_KEEP))
    by_key: dict[tuple[str, str], list[WatchChannel]] = {}
    for r in rows:
        if r.expires_at is not None and r.expires_at <= now:  # Google already dropped it
            _set(ctx, r.id, status="stopped", stopped_at=now)
            continue
        by_key.setdefault((r.source, r.partition), []).append(r)
    for key in want:
        current = sorted(by_key.pop(key, []), key=lambda r: r.created_at)
        try:
            _reconcile(ctx, api, SOURCES[key[0]], key[1], current, now, summary)
        except SourceError as exc:
            summary["failed"] += 1
            summary["errors"].append(f"{key[0]} {key[1]}".strip() + f": {exc}")
            event(log, "watch.failed", logging.WARNING, source=key[0], partition=key[1], error=str(exc))
    for leftovers in by_key.values():  # no longer wanted
        for r in leftovers:
            _stop(ctx, api, r, summary)
    event(log, "watch.renewed", **{k: v for k, v in summary.items() if k != "errors"})
    return summary


def _reconcile(ctx, api: WatchApi, src: Source, partition: str, current: list[WatchChannel],
               now: datetime, summary: dict) -> None:
    newest = current[-1] if current else None
    fresh = newest is not None and (newest.expires_at is None or newest.expires_at > now + src.renew_before)
    if fresh:
        for old in current[:-1]:
            _stop(ctx, api, old, summary)
        return
    topic = ctx.settings.webhooks.pubsub_topic
    if src.name == "forms" and newest is not None:
        try:
            got = api.renew_form_watch(partition, newest.resource_id)
            _set(ctx, newest.id, expires_at=got.expires_at, renewed_at=now, last_error="")
            summary["renewed"] += 1
            return
        except NotFound:  # it expired at Google: create a new one
            _set(ctx, newest.id, status="stopped", stopped_at=now)
    if src.name == "gmail" and newest is not None:
        got = api.watch_gmail(partition, topic)
        _set(ctx, newest.id, expires_at=got.expires_at, renewed_at=now, last_error="")
        summary["renewed"] += 1
        return
    if src.kind == "pubsub":
        got = api.watch_form(partition, topic) if src.name == "forms" else api.watch_gmail(partition, topic)
        with ctx.store.session() as s:
            # our own id: Google's watch id (Forms) is kept in resource_id for renew/delete
            s.add(WatchChannel(source=src.name, partition=partition, kind="pubsub",
                               channel_id=f"{src.name}:{uuid.uuid4().hex}",
                               resource_id=got.channel_id if src.name == "forms" else "",
                               expires_at=got.expires_at, status="active", last_error=""))
        summary["opened"] += 1
        return
    _open_channel(ctx, api, src, partition, now)
    summary["opened" if newest is None else "renewed"] += 1
    for old in current:
        _stop(ctx, api, old, summary)


def _open_channel(ctx, api: WatchApi, src: Source, partition: str, now: datetime) -> None:
    channel_id, token = str(uuid.uuid4()), random_token(32)
    address = ctx.settings.webhooks.public_url.rstrip("/") + src.route
    expires = now + src.lifetime
    with ctx.store.session() as s:
        row = WatchChannel(source=src.name, partition=partition, kind="channel", channel_id=channel_id,
                           token=token, address=address, status="active", expires_at=expires, last_error="")
        s.add(row)
        s.flush()
        row_id = row.id
    try:
        if src.name == "directory.users":
            got = api.watch_directory_users(partition, channel_id, token, address, expires,
                                            int(src.lifetime.total_seconds()))
        elif src.name == "drive.changes":
            got = api.watch_drive_changes(partition, channel_id, token, address, expires)
        else:
            got = api.watch_reports(src.name.split(".", 1)[1], channel_id, token, address, expires)
    except SourceError as exc:
        _set(ctx, row_id, status="failed", last_error=str(exc)[:500], stopped_at=now)
        raise
    _set(ctx, row_id, resource_id=got.resource_id, expires_at=got.expires_at or expires)
    event(log, "watch.opened", source=src.name, partition=partition, expires=str(got.expires_at or expires))


def _stop(ctx, api: WatchApi, row: WatchChannel, summary: dict) -> None:
    """Stop at Google, then mark stopped. A watch Google no longer knows counts as stopped."""
    try:
        if row.kind == "channel":
            subject = row.partition if row.source == "drive.changes" else ""
            api.stop_channel(SOURCES[row.source].api, row.channel_id, row.resource_id, subject)
        elif row.source == "forms":
            api.delete_form_watch(row.partition, row.resource_id)
        elif row.source == "gmail":
            api.stop_gmail(row.partition)
    except NotFound:
        pass
    except SourceError as exc:
        summary["errors"].append(f"stop {row.source} {row.partition}".strip() + f": {exc}")
        _set(ctx, row.id, last_error=str(exc)[:500])
        return
    _set(ctx, row.id, status="stopped", stopped_at=_now())
    summary["stopped"] += 1


def _set(ctx, row_id: int, **values) -> None:
    with ctx.store.session() as s:
        row = s.get(WatchChannel, row_id)
        if row is not None:
            for k, v in values.items():
                setattr(row, k, v)


def job_for(source: str) -> str:
    """The incremental job a notification from this source asks for."""
    return SOURCES[source].job if source in SOURCES else "audit"
