"""Roster sync at school and trust scale against the sandbox with emulated latency.

    python -m benchmarks.roster_sync [--sizes school trust] [--latency-ms 50] [--seed 1] [--repeat 3]

Measures, per size: API calls against the minimum (sum over collections of ceil(items / page
cap), batch parts counted), HTTP round trips, the read's wall time against the latency bound
(`latency_bound_s`: round trips × latency ÷ requests in flight), the store write time, and peak
memory (RSS). Targets: calls ≤ 1.05 × minimum; read wall ≤ 2 × bound; exit 1 if either is missed.

The sandbox runs in its own processes and answers at once; the timed reads go through
`benchmarks/replay.py`, which records the sandbox's answers on the first read and replays them
with the emulated latency, so that the simulator's CPU is not spent on the client's cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from connectors.google.auth import KeyFile
from connectors.google.classroom import PAGE as CLASSROOM_PAGE
from connectors.google.directory import GROUPS_PAGE, USERS_PAGE
from connectors.google.quotas import quota_floor_s
from connectors.google.transport import APIS, GoogleClient
from integration import settings as settings_mod
from integration.roster import run_sync, tuned_for_sync
from integration.wiring import Context
from sandbox import generate
from sandbox.config_writer import write_config
from sandbox.server import SandboxServer
from sandbox.token import TOKEN_PATH

# The sandbox enforces no per-minute quotas, and the bound below is the latency bound: pacing is off
# here, and the time the quotas would add against Google is reported beside it ("quota floor").
NO_PACING: dict[str, int] = {}


def minimum_calls(dom) -> dict[str, int]:
    """The fewest calls that can read this domain's roster at the APIs' page caps."""
    users = sum(1 for u in dom.users if not u.deleted)
    courses = [c for c in dom.courses if c.course_state != "DECLINED"]
    live = {u.id for u in dom.users if not u.deleted}
    guardians = sum(1 for g in dom.guardians if g.student_id in live)
    rosters = sum(max(1, math.ceil(len(c.teacher_ids) / CLASSROOM_PAGE)) +
                  max(1, math.ceil(len(c.student_ids) / CLASSROOM_PAGE)) for c in courses)
    return {"users": math.ceil(users / USERS_PAGE), "org_units": 1, "groups": math.ceil(len(dom.groups) / GROUPS_PAGE),
            "courses": max(1, math.ceil(len(courses) / CLASSROOM_PAGE)), "rosters": rosters,
            "guardians": max(1, math.ceil(guardians / CLASSROOM_PAGE))}


def latency_bound_s(trips: dict[str, int], latency_ms: float) -> float:
    """HTTP round trips × latency ÷ requests in flight, per API: the API round trips (batches are
    Classroom's) at the in-flight cap, plus the token exchanges, which all run at once (one per
    scope set) before any API call can: one latency, not a share of the cap."""
    in_flight = max(APIS[a].in_flight for a in ("directory", "classroom"))  # the same cap for both
    api_trips = sum(n for api, n in trips.items() if api != "oauth2")
    tokens = 1 if trips.get("oauth2") else 0
    return (tokens + api_trips / in_flight) * latency_ms / 1000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# The sandbox answers from several processes so that one process's GIL does not serialise the
# recording read. Measured on 2 cores (trust roster read against the live sandbox): 1 worker 8.4-10.3 s,
# 2 6.4 s, 4 5.3 s, 8 5.8 s.
SANDBOX_WORKERS = max(4, 2 * (os.cpu_count() or 1))


class _Served:
    """`python -m <module> ...` in its own processes (as Google is remote: its CPU is not ours),
    ready once it prints `ready`."""

    def __init__(self, args: list[str], ready: str):
        self.proc = subprocess.Popen([sys.executable, "-m", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        for line in self.proc.stdout:  # type: ignore[union-attr]
            if ready in line:
                break

    def cpu_s(self) -> float:
        """CPU seconds used so far by the server's processes (the parent and its forked workers)."""
        return sum(_proc_cpu(pid) for pid in _family(self.proc.pid))

    def problems(self) -> list[str]:
        return []  # checked by the in-process mode and the test suite

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class _SandboxProcess(_Served):
    """`python -m sandbox --workers N`; here answering at once (the emulated latency is the replay's)."""

    def __init__(self, size: str, seed: int, workdir: Path, workers: int = SANDBOX_WORKERS, latency_ms: float = 0):
        self.port = _free_port()
        self.dir = workdir / size
        super().__init__(["sandbox", "--size", size, "--seed", str(seed), "--port", str(self.port),
                          "--latency-ms", str(latency_ms), "--write-config", str(self.dir), "--workers", str(workers),
                          "--no-response-checks"], "wrote")
        self.url = f"http://127.0.0.1:{self.port}"


class _ReplayProcess(_Served):
    """`python -m benchmarks.replay` in front of the sandbox, with the emulated latency."""

    def __init__(self, upstream: str, latency_ms: float):
        self.port = _free_port()
        super().__init__(["benchmarks.replay", "--upstream", upstream, "--port", str(self.port),
                          "--latency-ms", str(latency_ms)], "listening")
        self.url = f"http://127.0.0.1:{self.port}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _key_via(settings, url: str, workdir: Path) -> KeyFile:
    """The sandbox's service-account key with its token_uri pointed at `url` (the replay server)."""
    path = settings.resolve(settings.google.service_account_file)
    info = json.loads(path.read_text())
    info["token_uri"] = url + TOKEN_PATH
    copy = workdir / f"key-{urlsplit(url).port}.json"
    copy.write_text(json.dumps(info))
    return KeyFile(copy)


def _family(pid: int) -> list[int]:
    """`pid` and its children (Linux /proc; empty elsewhere)."""
    out = [pid]
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(entry.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _read(settings, key: KeyFile, url: str):
    """One complete roster read with a new client (so token exchanges are included), as run_sync reads."""
    ctx = Context(settings, migrate=False)
    client = ctx.__dict__["google"] = GoogleClient(key, api_base_url=url, quotas=NO_PACING)
    src = ctx.roster_sources()[0]
    with tuned_for_sync():
        snap = src.fetch_roster()
    assert not snap.errors, snap.errors
    return src, snap, client


def _timed_reads(settings, key: KeyFile, server: _Served, repeat: int) -> tuple[float, float, float]:
    """Median (wall, our CPU, server CPU) of `repeat` complete reads through `server`."""
    walls, ours, theirs = [], [], []
    for _ in range(repeat):
        s0 = server.cpu_s()
        t0, c0 = time.perf_counter(), time.process_time()
        _read(settings, key, server.url)  # type: ignore[attr-defined]
        walls.append(time.perf_counter() - t0)
        ours.append(time.process_time() - c0)
        theirs.append(server.cpu_s() - s0)
    return statistics.median(walls), statistics.median(ours), statistics.median(theirs)


def run(size: str, seed: int, latency_ms: float, workdir: Path, in_process: bool = False,
        workers: int = SANDBOX_WORKERS, repeat: int = 3) -> dict:
    dom = generate(size, seed)
    if in_process:
        sandbox = SandboxServer(dom).start()
        write_config(dom, sandbox.url, workdir / size)
    else:
        sandbox = _SandboxProcess(size, seed, workdir, workers)  # type: ignore[assignment]
    servers: list[_Served] = []
    try:
        settings = settings_mod.load(workdir / size / "safechannels.toml", env={})
        ctx = Context(settings)
        ctx.store  # noqa: B018 - migrate before timing
        replay = _ReplayProcess(sandbox.url, latency_ms)
        floor = _ReplayProcess(sandbox.url, 0)
        servers += [replay, floor]
        key = _key_via(settings, replay.url, workdir)
        src, snap, client = _read(settings, key, replay.url)  # recorded; its result is the one written
        stats = client.stats
        ctx.roster_sources = lambda: [_Replay(src, snap)]  # type: ignore[method-assign]
        t1 = time.perf_counter()
        result = run_sync(ctx)
        write_s = time.perf_counter() - t1
        t2 = time.perf_counter()
        again = run_sync(ctx)  # the routine case: nothing changed, nothing written but the run row
        rewrite_s = time.perf_counter() - t2
        assert (again.added, again.updated, again.removed) == (0, 0, 0), again
        read_s, read_cpu, server_cpu = _timed_reads(settings, key, replay, repeat)
        floor_key = _key_via(settings, floor.url, workdir)
        _read(settings, floor_key, floor.url)  # recorded
        floor_s = _timed_reads(settings, floor_key, floor, repeat)[0]
        minimum = minimum_calls(dom)
        trips = {k: v for k, v in stats.round_trips.items()}
        bound = latency_bound_s(trips, latency_ms)
        # the users list is read from both ends: a chain of half its pages, each at least one latency
        chain = math.ceil(minimum["users"] / 2) * latency_ms / 1000
        return {"size": size, "people": len(snap.users), "courses": len(snap.courses), "calls": stats.api_calls,
                "minimum": sum(minimum.values()), "round_trips": stats.http_round_trips, "trips": trips,
                "quota_s": quota_floor_s(stats.calls), "read_s": read_s, "floor_s": floor_s, "read_cpu_s": read_cpu,
                "server_cpu_s": server_cpu, "bound_s": bound, "chain_s": chain, "write_s": write_s,
                "rewrite_s": rewrite_s, "sync": result.as_json(), "rss_mb": peak_rss_mb(),
                "problems": len(sandbox.problems())}
    finally:
        for server in servers:
            server.stop()
        sandbox.stop()


class _Replay:
    """Hands the engine the snapshot already read, so the write is timed on its own."""

    def __init__(self, src, snap):
        self.name, self.platform, self.collections = src.name, src.platform, src.collections
        self._snap = snap
        self.api_calls = 0

    def fetch_roster(self):
        return self._snap


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", nargs="+", default=["school", "trust"])
    p.add_argument("--latency-ms", type=float, default=50)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--in-process", action="store_true",
                   help="serve the sandbox from this process (shares the GIL; also counts conformance problems)")
    p.add_argument("--repeat", type=int, default=3, help="timed reads per sandbox; medians are reported")
    p.add_argument("--sandbox-workers", type=int, default=SANDBOX_WORKERS,
                   help=f"sandbox processes (python -m sandbox --workers; default {SANDBOX_WORKERS})")
    args = p.parse_args(argv)
    print("| size | people | courses | API calls | minimum | ratio | round trips | read s | bound s | read/bound "
          "| read at 0 ms s | (read − read at 0 ms)/bound | our CPU s | server CPU s | users chain s | quota floor s "
          "| first write s | re-sync write s | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            r = run(size, args.seed, args.latency_ms, Path(tmp), args.in_process, args.sandbox_workers, args.repeat)
            ratio, slow = r["calls"] / r["minimum"], r["read_s"] / r["bound_s"]
            extra = max(0.0, r["read_s"] - r["floor_s"]) / r["bound_s"]
            ok &= ratio <= 1.05 and slow <= 2 and r["problems"] == 0
            print(f"| {size} | {r['people']} | {r['courses']} | {r['calls']} | {r['minimum']} | {ratio:.3f} | "
                  f"{r['round_trips']} | {r['read_s']:.2f} | {r['bound_s']:.2f} | {slow:.2f} | {r['floor_s']:.2f} | "
                  f"{extra:.2f} | {r['read_cpu_s']:.2f} | {r['server_cpu_s']:.2f} | {r['chain_s']:.2f} | "
                  f"{r['quota_s']:.0f} | {r['write_s']:.2f} | {r['rewrite_s']:.2f} | {r['rss_mb']:.0f} |", flush=True)
            print(f"<!-- {size}: round trips per API {r['trips']}; sync {r['sync']}; "
                  f"sandbox workers {1 if args.in_process else args.sandbox_workers}; cores {os.cpu_count()}; "
                  f"medians of {args.repeat} reads; conformance problems {r['problems']} -->", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
