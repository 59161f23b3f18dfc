"""What a second audit costs when nothing happened, and what the daily state re-read costs.

    python -m benchmarks.incremental [--sizes school] [--seed 1] [--latency-ms 0]

Per size: roster sync, the first audit (the baseline: every account's tokens and every staff
mailbox's forwarding settings and filters read in full), then a second audit with no new activity
(issue 10's target: at most 50 calls at school scale), then a third with the full state re-read due
(`[audit] state_reread_hours` elapsed). Calls are counted by `GoogleClient` (batch parts counted,
token exchanges not), per API, and — for the state streams — per stream. Counts, not time, are the
measure: the sandbox runs in its own process with no emulated latency unless asked.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import timedelta
from pathlib import Path

from benchmarks.audit import audit_once, context
from benchmarks.roster_sync import SANDBOX_WORKERS, _SandboxProcess
from integration.roster import run_sync

BUDGET = 50  # calls for a second audit with no new activity at school scale (issue 10)


def run(size: str, seed: int, latency_ms: float, workdir: Path, workers: int = SANDBOX_WORKERS) -> dict:
    server = _SandboxProcess(size, seed, workdir, workers, latency_ms=latency_ms)
    try:
        ctx, client = context(workdir / size / "safechannels.toml", workdir / f"{size}.db")
        run_sync(ctx)
        real = ctx.activity_sources()[0]
        first = audit_once(ctx, client, "first")
        second = audit_once(ctx, client, "second (no new activity)")
        real.state_every = timedelta(0)  # as if a day had passed since the baseline
        daily = audit_once(ctx, client, "state re-read due")
        return {"size": size, "runs": [first, second, daily]}
    finally:
        server.stop()


def report(r: dict) -> str:
    lines = [f"## {r['size']}", "", "| audit | API calls | by API | new findings | wall s |", "|---|---|---|---|---|"]
    for run in r["runs"]:
        calls = sum(run["calls"].values())
        by_api = ", ".join(f"{k} {v}" for k, v in sorted(run["calls"].items()) if v)
        lines.append(f"| {run['run']} | {calls:,} | {by_api} | {run['new']} | {run['wall_s']:.1f} |")
    second = sum(r["runs"][1]["calls"].values())
    lines.append("")
    lines.append(f"Second audit: {second} calls against a budget of {BUDGET}: {'met' if second <= BUDGET else 'NOT met'}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.incremental", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["school"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--sandbox-workers", type=int, default=SANDBOX_WORKERS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            print(report(run(size, args.seed, args.latency_ms, Path(tmp), args.sandbox_workers)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
