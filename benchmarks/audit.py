"""The channel audit at school (and trust) scale against the sandbox with emulated latency.

    python -m benchmarks.audit [--sizes school trust] [--latency-ms 50] [--seed 1] [--sample 20]

Per size, in one run: the full first audit (every Drive owner crawled, 29 days of Reports gmail,
drive, chat and meet events, forwarding, OAuth grants, shared drives), then an incremental
audit; API calls (batch parts counted) against the minimum at the APIs' page caps; HTTP round
trips; wall time against the latency bound; the engine's own time (rules + findings store)
as rule throughput in events/s; peak RSS; findings against the truth file. Beside it, a naive
baseline on a sample of users — files.list without permissions then one permissions.list per
file, and messages.list then one messages.get per message, unbatched — extrapolated to the
whole school. The sandbox runs in its own process (Google is remote: its CPU is not ours).
"""

from __future__ import annotations

import argparse
import math
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.roster_sync import SANDBOX_WORKERS, _SandboxProcess
from benchmarks.shared_drives import minimum as shared_drive_minimum
from connectors.google.activity import SHARED_DRIVES_AHEAD
from connectors.google.auth import KeyFile
from connectors.google.reports import PAGE
from connectors.google.scopes import SCOPES
from connectors.google.transport import APIS, GoogleClient, fan_out
from integration import settings as settings_mod
from integration.audit import run_audit
from integration.findings import as_json, list_findings
from integration.lanes import MAX_LANES
from integration.roster import run_sync
from integration.wiring import Context
from sandbox import generate
from sandbox.activity import activity, audit_truth


class TimedSource:
    """Wraps the real source and measures how long the engine waited for each stream's batches
    (streams run side by side, so these waits overlap: they are per stream, not a share of the wall)."""

    def __init__(self, inner):
        self.inner, self.name, self.streams = inner, inner.name, inner.streams
        self.fetch_s = 0.0
        self.per_stream: dict[str, float] = {}

    def __getattr__(self, name):  # stream_records, stream_apis, chat_members: as the real source
        return getattr(self.inner, name)

    def fetch(self, stream, cursors, **kw):
        it = iter(self.inner.fetch(stream, cursors, **kw))
        while True:
            t = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                return
            finally:
                spent = time.perf_counter() - t
                self.fetch_s += spent
                self.per_stream[stream] = self.per_stream.get(stream, 0.0) + spent
            yield batch

    def check(self):
        return self.inner.check()


def minimum_calls(dom, since: datetime, until: datetime) -> dict[str, int]:
    """The fewest calls that read this activity at the page caps (one window, no slicing)."""
    act = activity(dom)
    people = act.staff + act.pupils
    files = sum(max(1, math.ceil(sum(1 for f in act.files(p) if not f.trashed) / 1000)) for p in people)
    days = range(max(0, act.day_of(since)), act.last_day + 1)

    def count(rows) -> int:
        return sum(1 for r in rows if since <= r.time < until)

    mail = sum(count(m for m in act.mail_day(d) if m.direction in ("sent", "received")) for d in days)
    drive_events = sum(count(act.drive_day(d)) for d in days)
    chat = sum(count(act.chat_day(d)) for d in days)
    meet = sum(count(act.meet_day(d)) for d in days)
    drives = len(act.shared_drives)
    return {"drive.files": files, "drive.events": max(1, math.ceil(drive_events / PAGE)),
            "drive.shared": shared_drive_minimum(act)["calls"], "_drives": drives,
            "mail": 1 + max(1, math.ceil(mail / PAGE)),
            "mail.forwarding": 3 * len(act.staff), "chat": max(1, math.ceil(chat / PAGE)),
            "meet": max(1, math.ceil(meet / PAGE)), "oauth": len(people),
            "_events": mail + drive_events + chat + meet}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def context(config: Path, db: Path) -> tuple[Context, GoogleClient]:
    settings = settings_mod.load(config, env={})
    settings.database.url = f"sqlite:///{db}"
    ctx = Context(settings)
    ctx.store  # noqa: B018 - migrate before timing
    key = KeyFile(settings.resolve(settings.google.service_account_file))
    # no quota pacing: the sandbox enforces no per-minute quotas and the bound is the latency bound
    client = ctx.__dict__["google"] = GoogleClient(key, api_base_url=settings.google.api_base_url, quotas={})
    return ctx, client


def audit_once(ctx: Context, client: GoogleClient, label: str, max_lanes: int = MAX_LANES) -> dict:
    source = TimedSource(ctx.activity_sources()[0])
    ctx.activity_sources = lambda: [source]  # type: ignore[method-assign]
    calls0, trips0 = dict(client.stats.calls), dict(client.stats.round_trips)
    t0 = time.perf_counter()
    result = run_audit(ctx, max_lanes=max_lanes)
    wall = time.perf_counter() - t0
    calls = {k: v - calls0.get(k, 0) for k, v in client.stats.calls.items()}
    trips = {k: v - trips0.get(k, 0) for k, v in client.stats.round_trips.items()}
    engine = max(result.timings.get("store_s", 0.0), 1e-9)  # every transaction, under the single writer
    streams = {k.split("/", 1)[1]: round(v, 1) for k, v in result.timings.items() if "/" in k}
    return {"run": label, "wall_s": wall, "fetch_s": source.fetch_s, "engine_s": engine,
            "store_wait_s": result.timings.get("store_wait_s", 0.0), "stream_wall_s": streams,
            "events": result.events_read, "events_per_s": result.events_read / engine,
            "calls": calls, "trips": trips, "new": result.findings_new, "errors": result.errors,
            "per_stream_s": {k: round(v, 1) for k, v in source.per_stream.items()}}


def naive_sample(client: GoogleClient, owners: list[str], mailboxes: list[str], workers: int = 16) -> dict:
    """The obvious client: permissions per file, one messages.get per message, no batches, no masks."""
    def crawl(owner: str) -> int:
        files, perms = client.resource("drive", "files"), client.resource("drive", "permissions")
        ids = []
        for page in client.pages("drive", lambda t: files.list(q="'me' in owners and trashed=false", pageSize=100,
                                                               pageToken=t), subject=owner, scopes=SCOPES["drive"]):
            ids += [f["id"] for f in page.get("files", [])]
        for fid in ids:
            client.execute("drive", perms.list(fileId=fid), subject=owner, scopes=SCOPES["drive"])
        return len(ids)

    def mailbox(box: str) -> int:
        messages = client.resource("gmail", "users", "messages")
        ids = []
        for page in client.pages("gmail", lambda t: messages.list(userId="me", pageToken=t), subject=box,
                                 scopes=SCOPES["gmail_metadata"]):
            ids += [m["id"] for m in page.get("messages", [])]
        for mid in ids:
            client.execute("gmail", messages.get(userId="me", id=mid, format="metadata"), subject=box,
                           scopes=SCOPES["gmail_metadata"])
        return len(ids)

    out = {}
    for name, fn, items in (("drive", crawl, owners), ("gmail", mailbox, mailboxes)):
        c0 = client.stats.api_calls
        t0 = time.perf_counter()
        n = sum(r for _, r, e in fan_out(fn, items, workers) if e is None)
        out[name] = {"users": len(items), "objects": n, "calls": client.stats.api_calls - c0,
                     "wall_s": time.perf_counter() - t0}
    return out


def run(size: str, seed: int, latency_ms: float, sample: int, workdir: Path,
        workers: int = SANDBOX_WORKERS, lanes: int = MAX_LANES) -> dict:
    dom = generate(size, seed)
    server = _SandboxProcess(size, seed, workdir, workers, latency_ms=latency_ms)
    try:
        ctx, client = context(workdir / size / "safechannels.toml", workdir / f"{size}.db")
        t0 = time.perf_counter()
        sync = run_sync(ctx)
        sync_s = time.perf_counter() - t0
        full = audit_once(ctx, client, "full", lanes)
        rss_full = peak_rss_mb()
        incremental = audit_once(ctx, client, "incremental", lanes)
        now = datetime.now(UTC)
        minimum = minimum_calls(dom, now - timedelta(days=ctx.settings.audit.initial_lookback_days), now)
        with ctx.store.session() as s:
            found = [as_json(f) for f in list_findings(s)]
        truth = audit_truth(dom)
        act = activity(dom)
        people = act.staff + act.pupils
        naive = naive_sample(client, people[:: max(1, len(people) // sample)][:sample],
                             people[:: max(1, len(people) // sample)][:sample])
        return {"size": size, "people": len(people), "files": sum(len(act.files(p)) for p in people),
                "sync_s": sync_s, "sync": sync.as_json(), "full": full, "incremental": incremental,
                "minimum": minimum, "rss_mb": rss_full, "findings": len(found), "truth": len(truth),
                "naive": naive, "latency_ms": latency_ms, "workers": workers, "lanes": lanes}
    finally:
        server.stop()


def api_floors(r: dict) -> dict[str, float]:
    """Round trips each API must serve at the minimum calls, divided by its in-flight cap
    (``transport.APIS``): no schedule can serve that API faster. Reports pages (drive, gmail, chat,
    meet events) can be split by time into windows read in parallel, so they are limited by the cap,
    not by one chain; per-user lists (Drive files, Gmail settings: one batch per mailbox) and batches
    (tokens per 1,000 users, shared-drive permissions per 100) are one trip each; the Chat API's member
    lists are the ones the data asked for (DM rooms where only a staff member wrote: counted in the run)."""
    m, calls = r["minimum"], r["full"]["calls"]
    trips = {
        "reports": m["drive.events"] + m["mail"] + m["chat"] + m["meet"],
        "drive": m["drive.files"],
        "gmail": m["mail.forwarding"] // 3,
        "directory": math.ceil(m["oauth"] / 1000),
        "chat": calls.get("chat", 0),
    }
    floors = {api: n / APIS[api].in_flight for api, n in trips.items()}
    # shared drives: drives.list + members in one batch, then per drive a files.list and a permissions
    # batch, SHARED_DRIVES_AHEAD drives at a time — a chain after the crawl (the same lane, DriveItems)
    floors["drive"] += 2 + 2 * math.ceil(m.get("_drives", 0) / SHARED_DRIVES_AHEAD)
    return floors


def bound_s(r: dict) -> float:
    """The latency bound of the full audit: streams on different APIs overlap, so it is the slowest
    API's floor (`api_floors`, in round trips) plus the one token exchange before any call, × latency."""
    return r["latency_ms"] / 1000 * (max(api_floors(r).values()) + 1)


def report(r: dict) -> str:
    full, inc, m = r["full"], r["incremental"], r["minimum"]
    calls = sum(full["calls"].values())
    minimum = sum(v for k, v in m.items() if not k.startswith("_"))
    lines = [
        f"## {r['size']}: {r['people']:,} people, {r['files']:,} Drive files, {m['_events']:,} Reports events "
        f"(latency {r['latency_ms']:.0f} ms, {r['workers']} sandbox processes)",
        f"- findings {r['findings']} (truth {r['truth']})",
        f"- full audit ({r['lanes']} lanes at most): {full['wall_s']:.1f} s wall, bound {bound_s(r):.1f} s "
        f"(wall/bound {full['wall_s'] / bound_s(r):.2f}); engine (every transaction, one writer) "
        f"{full['engine_s']:.1f} s, waited for the writer {full['store_wait_s']:.1f} s; {calls:,} API calls vs "
        f"minimum {minimum:,} ({calls / max(minimum, 1):.2f}×); {sum(full['trips'].values()):,} HTTP round trips",
        f"  API floors (round trips ÷ cap) { {k: round(v, 1) for k, v in api_floors(r).items()} }",
        f"  calls by API {full['calls']}; round trips {full['trips']}",
        f"  stream wall s {full['stream_wall_s']}; engine waited for each stream s {full['per_stream_s']}",
        f"- rule throughput: {full['events']:,} records in {full['engine_s']:.1f} s engine time = "
        f"{full['events_per_s']:,.0f} records/s (rules + findings + cursor commits)",
        f"- incremental audit: {inc['wall_s']:.1f} s, {sum(inc['calls'].values()):,} calls, "
        f"{inc['events']:,} records, {inc['new']} new findings",
        f"- peak RSS after the full audit: {r['rss_mb']:.0f} MB",
    ]
    for api, n in r["naive"].items():
        scale = r["people"] / max(n["users"], 1)
        lines.append(f"- naive {api} (sample of {n['users']} users, unbatched, one call per object): "
                     f"{n['calls']:,} calls, {n['wall_s']:.1f} s → ≈{n['calls'] * scale:,.0f} calls, "
                     f"≈{n['wall_s'] * scale:,.0f} s for the school")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.audit", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["school"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--sandbox-workers", type=int, default=SANDBOX_WORKERS,
                        help=f"sandbox processes (python -m sandbox --workers; default {SANDBOX_WORKERS})")
    parser.add_argument("--lanes", type=int, default=MAX_LANES,
                        help="streams' lanes run at once (1 = one stream after another, the serial reference)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            print(report(run(size, args.seed, args.latency_ms, args.sample, Path(tmp), args.sandbox_workers,
                             args.lanes)),
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
