"""The audit engine: activity sources → rules → findings (+ alerts) → cursors, one batch at a time.

Each batch is one transaction: its findings, occurrences, queued alerts and the cursor
that is safe after it commit together, so a crash loses nothing and a re-run duplicates
nothing (occurrences are unique per event). A failing stream never stops the others: the
rules it feeds are reported "not evaluated", never "passed".

Streams run side by side in lanes (integration/lanes.py: streams feeding disjoint record types),
but one transaction at a time: every session of a run is taken under one lock, so SQLite sees a
single writer and PostgreSQL the same commit sequence per lane; a lane's reading from Google goes
on while another lane holds the lock. In a queue worker ([queue] broker_url) the lanes spread over
the queue workers' processes instead (integration/audit_spread.py); the result is added up the same.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from integration import alerts, findings, lanes
from integration.chat_rooms import ChatRooms
from integration.errors import CursorExpired, SkippableRecord, SourceError, SourceRefused, Unreachable
from integration.identity import Identity
from integration.logs import event, redact
from integration.mail_messages import MailMessages
from integration.records import (
    ActivityBatch,
    ChatEvent,
    DriveItem,
    ForwardingSetting,
    MailEvent,
    MeetCall,
    OAuthGrant,
)
from integration.registers import ExceptionIndex, ImportReport, masked_summary, sync_registers
from integration.rules import RuleSet, check_record, rule_set
from integration.rules.base import Candidate, ChannelPolicy, Rule, RuleContext
from integration.rules.oauth import SocialApps
from integration.store.models_ops import Cursor, Run
from integration.store.models_roster import Person

log = logging.getLogger("safechannels.audit")

REPORTING_OVERLAP = timedelta(hours=2)  # Reports events can arrive late: re-read this much of the last window
UNTIL_DELAY = timedelta(minutes=10)  # do not ask for the last minutes, which are still being logged
REPORTS_RETENTION = timedelta(days=180)  # the Reports API keeps no more: never ask for older activity
WINDOW_PARTITION = "__window__"  # the engine's own watermark row per (source, stream)
MAX_SKIP_LOGS = 20
MAIL_RELEASE_BATCH = 1000

_TYPES_BY_NAME = {t.__name__: t for t in (MailEvent, ForwardingSetting, DriveItem, ChatEvent, MeetCall, OAuthGrant)}
_STREAM_HINTS = (("forward", ForwardingSetting), ("settings", ForwardingSetting), ("gmail", MailEvent),
                 ("mail", MailEvent), ("drive", DriveItem), ("chat", ChatEvent), ("meet", MeetCall),
                 ("token", OAuthGrant), ("oauth", OAuthGrant))


@dataclass
class AuditResult:
    findings_new: int = 0
    findings_updated: int = 0
    events_read: int = 0
    api_calls: int = 0
    skipped: int = 0
    status: str = "ok"  # ok | partial (a stream failed; its rules are in not_evaluated)
    not_evaluated: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    registers: list[ImportReport] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stream and in the store (not in --json)

    def as_json(self) -> dict:
        """The operator contract's `audit --json` document, exactly."""
        return {"findings_new": self.findings_new, "findings_updated": self.findings_updated,
                "events_read": self.events_read, "api_calls": self.api_calls}


def stream_types(source, stream: str) -> set[type] | None:
    """Record types a stream yields: declared by the source (``stream_records``), else guessed
    from the stream name; None when unknown (then a failure marks every rule)."""
    declared = (getattr(source, "stream_records", None) or {}).get(stream)
    if declared:
        return {_TYPES_BY_NAME.get(t, t) if isinstance(t, str) else t for t in declared}
    name = stream.lower()
    guessed = {t for hint, t in _STREAM_HINTS if hint in name}
    if MailEvent in guessed and ForwardingSetting in guessed:
        guessed.discard(MailEvent)
    return guessed or None


class _Run:
    """State of one audit run (kept small: records are never held beyond their batch)."""

    def __init__(self, ctx, rules: RuleSet, rctx: RuleContext, now: datetime, full: bool,
                 writer: threading.Lock | None = None):
        self.ctx, self.rules, self.rctx, self.now, self.full = ctx, rules, rctx, now, full
        self.settings = ctx.settings
        self.tenants = ctx.settings.tenants  # findings are placed in their people's schools as recorded
        self.store = ctx.store
        self.result = AuditResult()
        self.created: set[int] = set()
        self.updated: set[int] = set()
        self.fed: set[type] = set()
        self.unknown_fed = False
        self.people = rctx.identity.people()
        self.exceptions: list[Exception] = []
        self._skip_logs = 0
        self.rooms = ChatRooms(rctx.identity)
        hold = timedelta(hours=self.settings.audit.mail_hold_hours)
        self.mail = MailMessages(rctx.identity.is_approved, hold, hold + REPORTING_OVERLAP + UNTIL_DELAY,
                                 rejudge=full)
        self.stop = threading.Event()  # set when the run is interrupted: lanes stop after their batch
        self._writer = writer or threading.Lock()  # one transaction at a time (see the module docstring)
        self._state = threading.Lock()  # counters and logs shared by the lanes
        self._outage_logged = False
        self.store_s = self.store_wait_s = 0.0
        self.stream_s: dict[str, float] = {}
        self.api_calls: int | None = None  # queue mode: the calls its lanes counted, in whatever process

    @contextmanager
    def _session(self) -> Iterator:
        """A store session under the run's single-writer lock (time held and waited is measured)."""
        asked = time.perf_counter()
        with self._writer:
            got = time.perf_counter()
            try:
                with self.store.session() as s:
                    yield s
            finally:
                self.store_wait_s += got - asked
                self.store_s += time.perf_counter() - got

    # ------------------------------------------------------------------ cursors and windows

    def _cursors(self, source: str, stream: str) -> tuple[dict[str, dict], datetime | None]:
        with self._session() as s:
            rows = list(s.scalars(select(Cursor).where(Cursor.source == source, Cursor.stream == stream)))
        cursors = {r.partition: r.cursor for r in rows if r.partition != WINDOW_PARTITION}
        mark = next((r.cursor.get("end") for r in rows if r.partition == WINDOW_PARTITION), None)
        return cursors, datetime.fromisoformat(mark) if mark else None

    def _window(self, mark: datetime | None) -> tuple[datetime, datetime]:
        until = self.now - UNTIL_DELAY
        if mark is None or self.full:
            since = self.now - timedelta(days=self.settings.audit.initial_lookback_days)
        else:
            since = mark - REPORTING_OVERLAP
        since = max(since, self.now - REPORTS_RETENTION)
        return min(since, until), until

    @staticmethod
    def _save_cursor(session, source: str, stream: str, partition: str, cursor: dict, now: datetime) -> None:
        row = session.scalars(select(Cursor).where(Cursor.source == source, Cursor.stream == stream,
                                                   Cursor.partition == partition)).first()
        if row is None:
            row = Cursor(source=source, stream=stream, partition=partition)
            session.add(row)
        row.cursor, row.updated_at = cursor, now

    # ------------------------------------------------------------------ streams

    def run_stream(self, source, stream: str) -> Exception | None:
        """Read one stream to the end; returns its error when it failed (its rules are then not
        evaluated: see `fail`), None when it was read or skipped. Runs on a lane's thread."""
        types = stream_types(source, stream)
        if types is not None and not self.rules.rules_for_types(types):
            event(log, "audit.stream_skipped", source=source.name, stream=stream, reason="no enabled rule reads it")
            return None
        started = time.perf_counter()
        cursors, mark = self._cursors(source.name, stream)
        if self.full:
            cursors, mark = {}, None
        since, until = self._window(mark)
        try:
            try:
                self._consume(source, stream, cursors, since, until)
            except CursorExpired as exc:
                event(log, "audit.cursor_expired", logging.WARNING, source=source.name, stream=stream, error=str(exc))
                with self._session() as s:
                    s.execute(delete(Cursor).where(Cursor.source == source.name, Cursor.stream == stream))
                since, until = self._window(None)
                self._consume(source, stream, {}, since, until)
        except (SourceError, SkippableRecord) as exc:
            with self._state:
                repeat = isinstance(exc, Unreachable) and self._outage_logged
                self._outage_logged = self._outage_logged or isinstance(exc, Unreachable)
            event(log, "audit.stream_failed", logging.DEBUG if repeat else logging.ERROR,  # an outage: one line
                  source=source.name, stream=stream, api=getattr(exc, "api", ""), error=str(exc),
                  fix=getattr(exc, "fix", ""))
            return exc
        finally:
            self.stream_s[f"{source.name}/{stream}"] = time.perf_counter() - started
        if self.stop.is_set():  # interrupted: the window is not finished, so its watermark stays
            return None
        with self._session() as s:
            self._save_cursor(s, source.name, stream, WINDOW_PARTITION, {"end": until.isoformat()}, self.now)
        with self._state:
            if types is None:
                self.unknown_fed = True
            else:
                self.fed |= types
        return None

    def fail(self, source, stream: str, exc: Exception) -> None:
        """Record a failed stream (called in the streams' declared order, so the run's errors and
        its "not evaluated" reasons read the same however the lanes interleaved)."""
        self.exceptions.append(exc)
        self.result.errors.append(f"{source.name}/{stream}: {exc}")
        for rule_id in self.rules.rules_for_types(stream_types(source, stream)):
            self.result.not_evaluated.setdefault(rule_id, f"{source.name}/{stream} failed: {exc}")

    def _consume(self, source, stream: str, cursors: dict, since: datetime, until: datetime) -> None:
        batches: Iterable[ActivityBatch] = source.fetch(stream, cursors, since=since, until=until, people=self.people)
        try:
            for batch in batches:
                if self.stop.is_set():
                    return
                self._batch(source.name, stream, batch)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:  # stopped early: the source's reader threads stop too
                close()
        types = stream_types(source, stream) or ()
        if ChatEvent in types:
            self._list_rooms(source, stream)
        if MailEvent in types:
            self._release_mail(source.name, stream)

    def _release_mail(self, source: str, stream: str) -> None:
        """Judge the receipts whose hold window has passed without their sender's event (1,000 a batch)."""
        while self._batch(source, stream, ActivityBatch(stream, [], None), count=False,
                          release_mail=MAIL_RELEASE_BATCH) == MAIL_RELEASE_BATCH:
            pass

    def _list_rooms(self, source, stream: str) -> None:
        """DM rooms still waiting for their other member: ask the source for the members (optional
        ``chat_members``: the Chat API with admin access) and judge the messages held for them."""
        with self._session() as s:
            released, rooms = self.rooms.waiting(s, self.now)
        lister = getattr(source, "chat_members", None)
        if rooms and lister is not None:
            lists = lister(rooms)  # outside any transaction (and the writer lock): network calls
            with self._session() as s:
                released += self.rooms.listed(s, lists, self.now)
        if released:
            self._batch(source.name, stream, ActivityBatch(stream, released, None), count=False)

    def _batch(self, source: str, stream: str, batch: ActivityBatch, *, count: bool = True,
               release_mail: int = 0) -> int:
        """Judge one batch in one transaction; returns how many held messages it released."""
        for attempt in (1, 2):
            try:
                with self._session() as s:
                    records = self.rooms.absorb(s, batch.records)  # DM members filled in, or held
                    records = self.mail.absorb(s, records, self.now)  # whole messages, or receipts held
                    released = self.mail.release(s, self.now, release_mail) if release_mail else []
                    records += released
                    prepared = [p for record in records for p in self._evaluate(source, stream, record)]
                    outcome = findings.record(s, prepared, self.now, tenants=self.tenants)
                    alerts.queue_finding_alerts(s, outcome.alertable, self.settings, self.now, hold=True)
                    if batch.cursor is not None:
                        self._save_cursor(s, source, batch.stream or stream, batch.partition, batch.cursor, self.now)
                break
            except IntegrityError:  # another run recorded the same finding first: read it back and retry
                if attempt == 2:
                    raise
        with self._state:
            if count:
                self.result.events_read += len(batch.records)
            self.created.update(f.id for f in outcome.created)
            self.updated.update(f.id for f in outcome.updated if f.id not in self.created)
        return len(released)

    def _evaluate(self, source: str, stream: str, record) -> list[findings.Prepared]:
        rules = self.rules.by_type.get(type(record))
        if not rules:
            return []
        try:
            check_record(record)
        except SkippableRecord as exc:
            self._skipped(source, stream, exc)
            return []
        out = []
        for rule in rules:
            try:
                candidates = rule.evaluate(record, self.rctx)
            except SkippableRecord as exc:
                self._skipped(source, stream, exc)
                continue
            out.extend(self._prepare(rule, c) for c in candidates)
        return out

    def _prepare(self, rule: Rule, c: Candidate) -> findings.Prepared:
        ident = self.rctx.identity
        exc_id = self.rctx.exceptions.match(c) if self.rctx.exceptions is not None else None  # type: ignore[attr-defined]
        return findings.Prepared(c, self.rules.severity(rule, c), rule.policy, exc_id,
                                 findings.fingerprint(c, ident.address_hash),
                                 ident.address_hash(c.counterpart) if c.counterpart else "")

    def _skipped(self, source: str, stream: str, exc: Exception) -> None:  # under the writer lock
        self.result.skipped += 1
        if self._skip_logs < MAX_SKIP_LOGS:
            self._skip_logs += 1
            event(log, "audit.record_skipped", logging.WARNING, source=source, stream=stream, reason=str(exc))


def build_rule_context(session, settings, crypto, now: datetime) -> RuleContext:
    """Identity, channel policy, social-app list and exceptions for one run."""
    identity = Identity.load(session, settings, crypto, now)
    today = now.astimezone(ZoneInfo(settings.school.timezone)).date()
    apps_file = settings.audit.social_apps_file
    social = SocialApps.load(settings.resolve(apps_file) if apps_file else None)
    return RuleContext(identity, ChannelPolicy.from_settings(settings, _schools_of_people(session, settings)), social,
                       ExceptionIndex.load(session, identity, today))


def _schools_of_people(session, settings) -> dict[str, str]:
    """person email -> school id, read only when a school keeps working hours of its own."""
    tenants = settings.tenants
    if not tenants.is_trust or all(t.working_hours == settings.channels.working_hours for t in tenants.schools):
        return {}
    rows = session.execute(select(Person.email, Person.school).where(Person.school.is_not(None)))
    return {email.lower(): school for email, school in rows}


def run_audit(ctx, *, full: bool = False, now: datetime | None = None, max_lanes: int = lanes.MAX_LANES) -> AuditResult:
    """Run every enabled rule over new activity (all activity in the look-back with ``full``);
    ``max_lanes=1`` runs the streams one after another (the serial reference)."""
    now = now or datetime.now(UTC)
    settings = ctx.settings
    rules = rule_set(settings)  # an unknown rule id stops here, before anything is read
    store = ctx.store
    with store.session() as s:
        run = Run(job="audit", started_at=now, status="running")
        s.add(run)
    try:
        with store.session() as s:
            registers = sync_registers(s, settings, store.crypto, now)
        with store.session() as s:
            rctx = build_rule_context(s, settings, store.crypto, now)
        state = _Run(ctx, rules, rctx, now, full)
        try:
            lane_queue = getattr(ctx, "lane_queue", None)  # set only in a queue worker ([queue] broker_url)
            if lane_queue is None:
                failures = _run_sources(state, ctx.activity_sources(), max_lanes)
            else:
                from integration import audit_spread

                failures = audit_spread.run_spread(state, run.id, ctx.activity_sources(), lane_queue, max_lanes)
        finally:  # the run's high/medium findings, emailed together (one email if they are a burst)
            with store.session() as s:
                alerts.release_held(s, settings, now)
    except BaseException as exc:  # the error is shown to admins: personal addresses masked
        _finish(store, run.id, "failed", {}, redact(str(exc) or type(exc).__name__, set(settings.approved_domains)))
        raise
    result = state.result
    result.registers = registers
    result.findings_new, result.findings_updated = len(state.created), len(state.updated - state.created)
    if state.api_calls is not None:
        result.api_calls = state.api_calls
    else:
        result.api_calls = ctx.api_calls() if hasattr(ctx, "api_calls") else 0
    if not state.unknown_fed:
        for rule in rules.rules:
            if rule.record_type not in state.fed:
                result.not_evaluated.setdefault(rule.id, "no activity source provided this data")
    refused = [r.register for r in registers if r.refused]
    status = result.status = "partial" if result.errors or refused else "ok"
    summary = {**result.as_json(), "skipped": result.skipped, "not_evaluated": result.not_evaluated,
               "errors": result.errors}
    if registers:
        summary["registers"] = masked_summary(registers, settings)
    if failures is not None:
        _finish(store, run.id, "failed", summary, str(failures))
        raise failures
    _finish(store, run.id, status, summary,
            "; ".join(result.errors + [f"register {r} refused (the previous one stays in force)" for r in refused]))
    event(log, "audit.done", status=status, **result.as_json(), skipped=result.skipped,
          not_evaluated=len(result.not_evaluated))
    return result


def plan_jobs(sources: list) -> list[lanes.Job]:
    """Every stream of every source, in declared order."""
    jobs = []
    for source in sources:
        for stream in source.streams:
            types = stream_types(source, stream)
            jobs.append(lanes.Job(len(jobs), source, stream, None if types is None else frozenset(types),
                                  lanes.stream_apis(source, stream)))
    return jobs


def log_plan(plan: list[lanes.Lane], max_lanes: int, **fields) -> None:
    event(log, "audit.lanes", lanes=len(plan), max_lanes=max_lanes,
          plan="; ".join(f"{lane.label} [{','.join(sorted(lane.apis)) or '?'}]" for lane in plan), **fields)


def _run_sources(state: _Run, sources: list, max_lanes: int = lanes.MAX_LANES) -> SourceError | None:
    """Run every stream, lanes side by side; return the error to raise when every source failed entirely.
    An unexpected error (a bug, not a SourceError) is raised once the other lanes have finished."""
    jobs = plan_jobs(sources)
    plan = lanes.plan(jobs)
    log_plan(plan, max_lanes)
    try:
        outcomes = lanes.run(plan, lambda job: state.run_stream(job.source, job.stream), max_lanes=max_lanes,
                             stop=state.stop)
    finally:
        state.result.timings = {**{k: round(v, 3) for k, v in state.stream_s.items()},
                                "store_s": round(state.store_s, 3), "store_wait_s": round(state.store_wait_s, 3)}
    return conclude(state, sources, jobs, outcomes)


def conclude(state: _Run, sources: list, jobs: list[lanes.Job], outcomes: dict) -> SourceError | None:
    """Failed streams recorded in declared order; a crash raised; the error to raise when every source
    failed entirely (or an outage let nothing be evaluated), else None."""
    failed_sources = 0
    for source in sources:
        mine = [j for j in jobs if j.source is source]
        for job in mine:
            outcome = outcomes.get(job.order)
            if isinstance(outcome, (SourceError, SkippableRecord)):
                state.fail(source, job.stream, outcome)
        if mine and all(isinstance(outcomes.get(j.order), (SourceError, SkippableRecord)) for j in mine):
            failed_sources += 1
    crashed = next((outcomes[j.order] for j in jobs if isinstance(outcomes.get(j.order), Exception)
                    and not isinstance(outcomes[j.order], (SourceError, SkippableRecord))), None)
    if crashed is not None:
        raise crashed
    if not state.exceptions:
        return None
    down = next((e for e in state.exceptions if isinstance(e, Unreachable)), None)
    if down is not None and not state.result.events_read:  # an outage, and nothing was evaluated
        return Unreachable(f"audit evaluated nothing: {down}", api=down.api, fix=down.fix, endpoint=down.endpoint)
    if not sources or failed_sources < len(sources):
        return None
    refused = next((e for e in state.exceptions if isinstance(e, SourceRefused)), None)
    if refused is not None:
        return refused
    first = state.exceptions[0]
    if isinstance(first, SourceError):
        return first
    return SourceRefused("every activity source failed: " + "; ".join(state.result.errors), api="activity",
                         fix="run 'python -m integration doctor' for the fix")


def _finish(store, run_id: int, status: str, summary: dict, error: str) -> None:
    with store.session() as s:
        run = s.get(Run, run_id)
        if run is not None:
            run.status, run.summary, run.error = status, summary, error[:4000]
            run.finished_at = datetime.now(UTC)
