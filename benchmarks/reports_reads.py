"""Reports calls against the minimum: every application the audit reads, first window and a later one.

    python -m benchmarks.reports_reads [--size school] [--seed 1] [--latency-ms 0] [--lookback-days 29]

Reads exactly what the audit's Reports streams read — drive acl_change (drive.events), gmail delivery
(mail), chat message_posted, meet call_ended, token authorize (oauth) and
email_forwarding_out_of_domain under user_accounts and login (mail.forwarding) — through the real
`GoogleActivitySource`, against the in-process sandbox; the engine and the non-Reports calls are left
out (`benchmarks/audit.py` runs the whole audit). Twice: the first audit's look-back window, then the
window a later audit reads (its cursor's end minus the 2-h overlap, to now).

The minimum per application is ceil(events / 1000) pages, at least one, where `events` is what the
sandbox holds in the window for the events the rules use (`sandbox.reports.event_count`: the endpoint's
own rows and matching). Target (issue 10): calls ≤ 1.25 × Σ minimum + one per application. Counts are
exact; wall times are indicative (the sandbox shares this process).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.google import reports_accounts, state_streams
from sandbox import generate
from sandbox.config_writer import write_config
from sandbox.reports import event_count
from sandbox.server import SandboxServer

PAGE = 1000
# application -> (stream, the eventName counted for the minimum). Drive: "" = every event; the sandbox's
# drive log holds only the acl_change events the rules read, so that is the same count.
NEEDS = {"drive": ("drive.events", ""), "gmail": ("mail", "delivery"), "chat": ("chat", "message_posted"),
         "meet": ("meet", "call_ended"), "token": ("oauth", "authorize"),
         "user_accounts": ("mail.forwarding", reports_accounts.FORWARDING_EVENT),
         "login": ("mail.forwarding", reports_accounts.FORWARDING_EVENT)}
STREAMS = ("drive.events", "mail", "chat", "meet")
ACCOUNT_APPS = {"token": ("oauth", ("authorize",), reports_accounts.token_grants),
                "user_accounts": ("mail.forwarding", (reports_accounts.FORWARDING_EVENT,),
                                  reports_accounts.forwarding_events),
                "login": ("mail.forwarding", (reports_accounts.FORWARDING_EVENT,), reports_accounts.forwarding_events)}


def minimum(dom, start: datetime, end: datetime, page: int = PAGE) -> dict[str, tuple[int, int]]:
    """application -> (events the rules use in [start, end), fewest pages that read them)."""
    out = {}
    for app, (_stream, name) in NEEDS.items():
        if app == "gmail":  # the rules read sent (1) and received (2) deliveries only
            n = sum(event_count(dom, app, start, end, name, f"event_info.mail_event_type=={k}") for k in (1, 2))
        else:
            n = event_count(dom, app, start, end, name)
        out[app] = (n, max(1, math.ceil(n / page)))
    return out


def calls_by_app(server: SandboxServer) -> Counter:
    return Counter(e.path.rsplit("/", 1)[-1] for e in server.requests("reports.activities.list"))


def read_all(src, cursors: dict[str, dict], since: datetime, until: datetime) -> dict[str, dict]:
    """Every Reports stream's batches for the window; returns each stream's (and app's) last cursor."""
    out: dict[str, dict] = {}
    for stream in STREAMS:
        for batch in src.fetch(stream, cursors.get(stream, {}), since=since, until=until, people=[]):
            if batch.cursor is not None:
                out[stream] = {"": batch.cursor}
    for app, (stream, names, parse) in ACCOUNT_APPS.items():
        own = cursors.get(app, {})
        for batch in state_streams.events(src, stream, app, names, parse, {app: own[""]} if own else {}, since,
                                          until):
            if batch.cursor is not None:
                out[app] = {"": batch.cursor}
    return out


def run(size: str, seed: int, latency_ms: float, lookback: int) -> list[dict]:
    sys_path_tests()
    from sources_env import make_context

    dom = generate(size, seed)
    server = SandboxServer(dom, latency_ms=latency_ms).start()
    try:
        tmp = Path(tempfile.mkdtemp())
        ctx = make_context(write_config(dom, server.url, tmp / "school"), f"sqlite:///{tmp / 'bench.db'}")
        src = ctx.activity_sources()[0]
        now = datetime.now(UTC)
        until = now - timedelta(minutes=10)
        rows, cursors = [], {}
        for label, since in (("first audit", now - timedelta(days=lookback)), ("later audit", None)):
            if since is None:  # as the engine does: from the stored ends, 2 h overlap
                since = until - timedelta(hours=2)
            server.reset_log()
            t = time.perf_counter()
            cursors = read_all(src, cursors, since, until)
            wall = time.perf_counter() - t
            calls = calls_by_app(server)
            start = min(datetime.fromisoformat(e.query["startTime"].replace("Z", "+00:00"))
                        for e in server.requests("reports.activities.list"))
            mins = minimum(dom, max(start, since), until)
            rows.append({"run": label, "calls": calls, "minimum": mins, "wall_s": wall,
                         "problems": len(server.problems())})
        return rows
    finally:
        server.stop()


def sys_path_tests() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "audit_sources"))


def target(mins: dict[str, tuple[int, int]]) -> float:
    return 1.25 * sum(m for _n, m in mins.values()) + len(mins)


def report(size: str, rows: list[dict], latency_ms: float) -> str:
    lines = [f"## {size} (latency {latency_ms:.0f} ms)", "",
             "| run | application | events | minimum calls | calls |", "|---|---|---|---|---|"]
    for r in rows:
        for app, (n, m) in r["minimum"].items():
            lines.append(f"| {r['run']} | {app} | {n:,} | {m} | {r['calls'].get(app, 0)} |")
        total, floor = sum(r["calls"].values()), sum(m for _n, m in r["minimum"].values())
        lines.append(f"| {r['run']} | **all** | {sum(n for n, _m in r['minimum'].values()):,} | {floor} | "
                     f"**{total}** (target ≤ {target(r['minimum']):.1f}; {r['wall_s']:.1f} s; "
                     f"{r['problems']} conformance problems) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reports_reads", description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="school")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--lookback-days", type=int, default=29)
    args = parser.parse_args(argv)
    rows = run(args.size, args.seed, args.latency_ms, args.lookback_days)
    print(report(args.size, rows, args.latency_ms), flush=True)
    return 0 if all(sum(r["calls"].values()) <= target(r["minimum"]) for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
