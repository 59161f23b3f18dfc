"""The Google activity source: Drive sharing, mail, forwarding, Chat, Meet and OAuth grants as streams.

| stream          | API                                         | partition | cursor (stored after the batch)     |
|-----------------|---------------------------------------------|-----------|-------------------------------------|
| drive.files     | files.list per owner (first crawl / --full) | bucket    | {"crawled_at", "owners": done}      |
| drive.events    | Reports drive acl_change (+ files.get types)| ""        | {"until"}: end of the last slice    |
| drive.shared    | drives.list + batched permissions.list      | ""        | {"crawled_at"} (re-read every run)  |
|                 | + each drive's files (shared_drive_files)   | "files"   | {"at", "drives": done this pass}    |
| mail            | Reports gmail windows, or mailboxes         | "" / box  | {"until", "mail_source"}            |
| mail.forwarding | Reports user_accounts/login forwarding events + Gmail settings (state_streams) | app / "state" | {"until"} / {"at", "users"} |
| chat            | Reports chat message_posted windows         | ""        | {"until"}                           |
|                 | (+ Chat API spaces.members.list, optional)  |           | (DM rooms: integration/chat_rooms)  |
| meet            | Reports meet call_ended, grouped by call;   | ""        | {"until"} on the last batch         |
|                 | calls ended < MEET_SETTLE ago: next run     |           |                                     |
| oauth           | Reports token authorize + Directory tokens.list (state_streams) | "token" / "state" | {"until"} / {"at", "users"} |

After the first crawl, Drive changes arrive through Reports drive events (rebuilt into
DriveItems, shared-drive items included); ``--full`` clears the cursors and re-crawls. The files
inside shared drives are crawled as a baseline on the first audit and again every
``[audit] state_reread_hours`` (a drive not covered by the current pass, new or failed, on the
next run); in between, their changes come from the same Reports drive events. Time-window streams honour the
engine's ``since``/``until`` and resume a broken run at the last finished slice.
``[audit] mail_source = auto`` probes Reports gmail once (an edition without it answers
empty or 403) and keeps the decision in the mail cursor; `mail_source_decision` exposes it.
"""

from __future__ import annotations

import logging
import queue
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

from connectors.google import drive_events, reports, state_streams
from connectors.google.chat import ChatMembers
from connectors.google.drive import DriveCrawler
from connectors.google.gmail import GmailReader
from connectors.google.report_windows import Query, WindowReader
from connectors.google.reports import ReportsReader
from connectors.google.tokens import TokenReader
from connectors.google.transport import GoogleClient, fan_out, in_order
from integration.errors import SourceError, SourceRefused
from integration.logs import event
from integration.protocols import Check
from integration.records import ActivityBatch

# Parts of a Reports window read at once (report_windows): their page chains run in parallel, results
# come back oldest first so cursors stay safe; bounded by the Reports in-flight cap.
REPORTS_AHEAD = 4
log = logging.getLogger("safechannels.google.activity")

OVERLAP = timedelta(hours=2)  # re-read this much before a stored slice end (late Reports events)
MEET_SETTLE = timedelta(hours=1)  # a call that ended more recently than this may still gain participants
PROBE_WINDOW = timedelta(days=7)
CRAWLED = ("staff", "pupil")  # former pupils' accounts are suspended: they cannot be impersonated
GIVE_UP_AFTER = 5  # consecutive per-user refusals before a stream is declared refused
READ_AHEAD = 4  # batches read from Google ahead of the engine
# Per-user crawls run on twice the Drive/Gmail in-flight cap: each user's first call waits for its own
# token exchange (the token endpoint, not the API), and meanwhile another thread's call uses the API's
# slot; the transport's per-API gates still hold every API to its cap. With 16 the crawl paid two
# round trips per owner (measured: drive.files 10.3 s at school scale, 50 ms).
PER_USER_WORKERS = 32
BUCKETS = 128  # Drive crawl partitions (fixed: a cursor's bucket must not move)
BUCKET_PREFIX = "owners:"
FAILED = "failed"  # the mail partition listing mailboxes to re-read from an earlier start
SHARED_FILES = "files"  # the drive.shared partition of the shared-drive files crawl
SHARED_DRIVES_AHEAD = 4  # drives whose files are read at once (each batches its permissions)


class GoogleActivitySource:
    """Implements integration.protocols.ActivitySource over the shared GoogleClient."""

    name = "google"
    streams = ("drive.files", "drive.events", "drive.shared", "mail", "mail.forwarding", "chat", "meet", "oauth")
    stream_records = {"drive.files": ("DriveItem",), "drive.events": ("DriveItem",), "drive.shared": ("DriveItem",),
                      "mail": ("MailEvent",), "mail.forwarding": ("ForwardingSetting",), "chat": ("ChatEvent",),
                      "meet": ("MeetCall",), "oauth": ("OAuthGrant",)}
    # the APIs each stream calls (transport.APIS names; their in-flight caps bound every stream together)
    stream_apis = {"drive.files": ("drive",), "drive.events": ("reports", "drive"), "drive.shared": ("drive",),
                   "mail": ("reports", "gmail"), "mail.forwarding": ("reports", "gmail"), "chat": ("reports", "chat"),
                   "meet": ("reports",), "oauth": ("reports", "directory")}

    def __init__(self, client: GoogleClient, admin: str, *, mail_source: str = "auto", workers: int = PER_USER_WORKERS,
                 state_every: timedelta = timedelta(hours=24)):
        self.client, self.admin, self.mail_source, self.workers = client, admin, mail_source, workers
        self.state_every = state_every  # full re-read of tokens and forwarding settings (state_streams)
        self.reports = ReportsReader(client, admin)
        self.windows = WindowReader(self.reports)
        self.drive = DriveCrawler(client, admin)
        self.gmail = GmailReader(client)
        self.tokens = TokenReader(client, admin)
        self.chat = ChatMembers(client, admin)
        self.mail_source_decision = "" if mail_source == "auto" else mail_source

    def fetch(self, stream: str, cursors: dict[str, dict], *, since: datetime, until: datetime,
              people: list[tuple[str, str]]) -> Iterator[ActivityBatch]:
        handler = getattr(self, "_" + stream.replace(".", "_"), None)
        if handler is None:
            raise SourceError(f"google: unknown activity stream {stream!r}", api="activity")
        return read_ahead(handler(cursors, since, until, people), READ_AHEAD)

    # ------------------------------------------------------------------ drive

    def _drive_files(self, cursors, since, until, people) -> Iterator[ActivityBatch]:
        """Crawl every owner not yet crawled. Owners are grouped into fixed hash buckets, one batch (one
        transaction) per bucket whose cursor lists the owners done, so a school's crawl commits ~100 times
        rather than once per person, a broken crawl resumes per owner, and a person who later becomes
        staff or a pupil is crawled on the next run. A failed owner stays out of the list: retried next run.
        """
        current = {e for e, role in people if role in CRAWLED}
        done = {b: set(c.get("owners", ())) for b, c in cursors.items() if b.startswith(BUCKET_PREFIX)}
        todo = sorted((e for e in current if e not in done.get(bucket_of(e), ())), key=lambda e: (bucket_of(e), e))
        left = Counter(bucket_of(e) for e in todo)
        records: dict[str, list] = {}
        for owner, items, err in self._per_user(self.drive.user_files, todo, "drive.files"):
            b = bucket_of(owner)
            left[b] -= 1
            if err is None:
                records.setdefault(b, []).extend(items)
                done.setdefault(b, set()).add(owner)
            if left[b] == 0:
                owners = sorted(done.get(b, set()) & current)
                yield ActivityBatch("drive.files", records.pop(b, []),
                                    {"crawled_at": until.isoformat(), "owners": owners}, b)

    def _drive_shared(self, cursors, since, until, people) -> Iterator[ActivityBatch]:
        """Every run: the drives and their members. Then the files of each drive the current pass has
        not covered yet (every drive when a pass is due), a batch per drive whose cursor lists the
        drives done, so a broken crawl resumes per drive."""
        state = cursors.get(SHARED_FILES) or {}
        due = not state.get("at") or until - datetime.fromisoformat(state["at"]) >= self.state_every
        at = until.isoformat() if due else state["at"]
        covered: set[str] = set() if due else set(state.get("drives", ()))
        impersonable = {e for e, role in people if role in CRAWLED}
        for items in self.drive.shared_drives():
            yield ActivityBatch("drive.shared", items, {"crawled_at": until.isoformat()})
            todo = [d for d in items if d.item_id not in covered]
            work = fan_out(lambda d: self.drive.drive_files(d, impersonable), todo, SHARED_DRIVES_AHEAD)
            for drive, files, err in work:
                if isinstance(err, SourceRefused):  # nobody to read it as: said once, tried again next run
                    event(log, "drive.shared_drive_unread", logging.WARNING, drive=drive.item_id, error=str(err))
                    continue
                if err is not None:
                    raise err
                covered.add(drive.item_id)
                yield ActivityBatch("drive.shared", files, {"at": at, "drives": sorted(covered)}, SHARED_FILES)

    def _drive_events(self, cursors, since, until, people) -> Iterator[ActivityBatch]:
        yield from self._windowed("drive.events", "drive", drive_events.EVENT_NAMES, drive_events.drive_items,
                                  cursors, since, until, finish=self.drive.resolve_mime)

    # ------------------------------------------------------------------ mail

    def _mail(self, cursors, since, until, people) -> Iterator[ActivityBatch]:
        source = self._decide_mail_source(cursors, until)
        if source == "reports":
            extra = {"mail_source": "reports"}
            yield from self._windowed("mail", "gmail", ("delivery",), reports.mail_events, cursors, since, until,
                                      extra)
            return
        boxes = [e for e, role in people if role in CRAWLED]
        behind = (cursors.get(FAILED) or {}).get("since", {})  # mailboxes a previous run could not read

        def start_of(box: str) -> datetime:
            start = _resume(cursors.get(box), since)
            return min(start, datetime.fromisoformat(behind[box])) if box in behind else start

        def read(box: str) -> list:
            return [ev for page in self.gmail.mailbox(box, start_of(box), until) for ev in page]

        failed: dict[str, str] = {}
        for box, events, err in self._per_user(read, boxes, "mail"):
            if err is None:
                yield ActivityBatch("mail", events, {"until": until.isoformat(), "mail_source": "mailbox"}, box)
            else:
                failed[box] = start_of(box).isoformat()
        # the engine moves its window on after this stream; a mailbox that failed keeps its own start
        yield ActivityBatch("mail", [], {"since": failed, "mail_source": "mailbox"}, FAILED)

    def _decide_mail_source(self, cursors: dict[str, dict], until: datetime) -> str:
        if self.mail_source != "auto":
            return self.mail_source
        stored = next((c.get("mail_source") for c in cursors.values() if c.get("mail_source")), None)
        if stored:
            self.mail_source_decision = stored
            return stored
        try:
            available = self.reports.probe("gmail", until - PROBE_WINDOW, until)
        except SourceRefused as exc:
            event(log, "audit.mail_source_probe", logging.INFO, refused=str(exc))
            available = False
        self.mail_source_decision = "reports" if available else "mailbox"
        event(log, "audit.mail_source", decision=self.mail_source_decision,
              missed=REPORTS_MAIL_MISSES if self.mail_source_decision == "reports" else "")
        return self.mail_source_decision

    def _mail_forwarding(self, cursors, since, until, people) -> Iterator[ActivityBatch]:
        staff = [e for e, role in people if role == "staff"]
        return state_streams.forwarding(self, cursors, since, until, staff, self.state_every)

    # ------------------------------------------------------------------ chat, meet, oauth

    def _chat(self, cursors, since, until, people) -> Iterator[ActivityBatch]:
        yield from self._windowed("chat", "chat", ("message_posted",), reports.chat_events, cursors, since, until)

    def chat_members(self, rooms: list[str]) -> dict[str, list[str]]:
        """The engine's optional room lister (integration/chat_rooms.py): DM members via the Chat API."""
        return self.chat.members(rooms)

    def _meet(self, cursors, since, until, people) -> Iterator[ActivityBatch]:
        """Read the whole window, then group: a call's participants arrive as separate events (one per
        endpoint, each when that participant leaves). A call whose last leg is within MEET_SETTLE of the
        window's end is judged next run, when its later legs (a third person leaving later, Reports lag)
        are in: the next window re-reads OVERLAP (> MEET_SETTLE) before this one's end."""
        start, query = _resume(cursors.get(""), since), Query("meet", ("call_ended",))
        legs = [a for _part, pages in in_order(lambda part: self.windows.read(query, part),
                                               self.windows.plan(query, start, until), ahead=REPORTS_AHEAD)
                for page in pages for a in page]
        calls = [c for c in reports.meet_calls(legs) if c.time <= until - MEET_SETTLE]
        for i in range(0, len(calls), 1000):
            yield ActivityBatch("meet", calls[i:i + 1000], None)
        yield ActivityBatch("meet", [], {"until": until.isoformat()})

    def _oauth(self, cursors, since, until, people) -> Iterator[ActivityBatch]:
        users = [e for e, role in people if role in CRAWLED]
        return state_streams.oauth(self, cursors, since, until, users, self.state_every)

    # ------------------------------------------------------------------ shared machinery

    def _windowed(self, stream: str, app: str, names: tuple[str, ...], parse, cursors: dict[str, dict],
                  since: datetime, until: datetime, extra: dict | None = None,
                  finish=None) -> Iterator[ActivityBatch]:
        """Reports events of the window, part by part (oldest first, `report_windows`); each part's end is
        stored once it is read. `finish`, when given, completes each page's records (one batched call)
        before they are stored."""
        query = Query(app, names)

        def read(part) -> list[list]:
            pages = [[r for act in page for r in parse(act)] for page in self.windows.read(query, part)]
            return [finish(records) for records in pages] if finish else pages

        parts = self.windows.plan(query, _resume(cursors.get(""), since), until)
        for part, pages in in_order(read, parts, ahead=REPORTS_AHEAD):
            for records in pages:
                if records:
                    yield ActivityBatch(stream, records, None)
            yield ActivityBatch(stream, [], {"until": part.end.isoformat(), **(extra or {})})

    def _per_user(self, fn, users: list[str], stream: str):
        """fan_out over users; one user's failure is logged and retried next run (no cursor), but a
        refusal for every one of the first users means a human must act, so it is raised."""
        failures = successes = 0
        for user, result, err in fan_out(fn, users, workers=self.workers):
            if err is None:
                successes += 1
                yield user, result, None
                continue
            failures += 1
            event(log, "audit.user_failed", logging.WARNING, stream=stream, user=user, error=str(err))
            if isinstance(err, SourceRefused) and not successes and failures >= min(GIVE_UP_AFTER, len(users)):
                raise err
            if not isinstance(err, SourceError):
                raise err
            yield user, None, err

    # ------------------------------------------------------------------ doctor

    def check(self) -> list[Check]:
        """One live call per API the audit reads, each naming its fix."""
        probes = [
            ("Reports API (drive, chat, meet events)", lambda: self.reports.probe("drive", *_last_day())),
            ("Drive shared drives (drive.readonly as admin)", lambda: next(self.drive.shared_drives(), None)),
            ("Directory tokens.list (admin.directory.user.security)", lambda: next(self.tokens.grants([self.admin]))),
        ]
        out = []
        for name, probe in probes:
            try:
                probe()
                out.append(Check(name, True))
            except SourceError as exc:
                out.append(Check(name, False, str(exc), getattr(exc, "fix", "")))
        try:
            end = _last_day()[1]
            source = self._decide_mail_source({}, end)
            detail = {"reports": "Reports gmail events are available. " + REPORTS_MAIL_MISSES,
                      "mailbox": "no Reports gmail events: reading mailbox headers (gmail.metadata)"}[source]
            out.append(Check("Mail source", True, f"{source}: {detail}"))
        except SourceError as exc:
            out.append(Check("Mail source", False, str(exc), getattr(exc, "fix", "")))
        return out


# What Reports gmail cannot show (issue 10). Gmail logs deliveries, not headers: a message from outside
# the school is logged once per school mailbox it reached, naming that mailbox alone (the sender's
# event, which lists every destination, exists only when the sender is a school mailbox). The outside
# co-recipients of such a message are in its To/Cc headers only, which only mailbox mode reads.
REPORTS_MAIL_MISSES = (
    "Missed in this mode: outside co-recipients of mail that came from outside the school (a staff "
    "member's personal address writing to a guardian and copying the school mailbox; a guardian writing "
    "to a staff member's personal address and copying the pupil): Reports logs each school mailbox's "
    "delivery naming that mailbox alone, and the To/Cc headers are read only with "
    '[audit] mail_source = "mailbox" (gmail.metadata, every mailbox each run)')


def bucket_of(owner: str) -> str:
    return f"{BUCKET_PREFIX}{zlib.crc32(owner.encode()) % BUCKETS:03d}"


def read_ahead(batches: Iterator[ActivityBatch], depth: int) -> Iterator[ActivityBatch]:
    """Read the next batches from Google on a thread while the engine stores this one.

    The engine still receives (and stores cursors for) batches strictly in order; reading overlaps
    rules and database work instead of alternating with them. Closing this generator (the engine
    stopped) stops the reader after the batch it is on.
    """
    out: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        out.put(batch, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            out.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            out.put(exc)
        finally:
            if stop.is_set():
                batches.close()  # type: ignore[attr-defined]

    reader = threading.Thread(target=produce, name="activity-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            item = out.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while reader.is_alive():
            try:
                out.get(timeout=0.1)
            except queue.Empty:
                pass


def _resume(cursor: dict | None, since: datetime) -> datetime:
    """Where a window read starts: the engine's `since`, or just before the last part a broken run finished."""
    if cursor and cursor.get("until"):
        return max(since, datetime.fromisoformat(cursor["until"]) - OVERLAP)
    return since


def _last_day() -> tuple[datetime, datetime]:
    from datetime import UTC

    end = datetime.now(UTC) - timedelta(minutes=10)
    return end - timedelta(days=1), end
