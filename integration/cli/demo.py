"""`demo`: a simulated school on this machine — sandbox, config, first roster sync — served until Ctrl-C.

First version: the sandbox (in-process, free port) and the roster. The lead extends it to the
whole service (web app, audit, alerts). The sandbox is a development tool, imported only here.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from integration import settings as settings_mod
from integration.roster import list_roster, run_sync
from integration.wiring import Context


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", default="demo", choices=("tiny", "demo", "school", "trust"), help="generated school size")
    p.add_argument("--seed", type=int, default=1, help="generated school seed (same seed, same school)")
    p.add_argument("--port", type=int, default=0, help="sandbox port (default: any free port)")
    p.add_argument("--dir", default="instance/demo", help="where the demo's config, key and database live")
    p.add_argument("--once", action="store_true", help="sync, print the summary and exit (no serving)")


def run(args) -> int:
    from sandbox import generate
    from sandbox.config_writer import write_config
    from sandbox.server import SandboxServer

    domain = generate(args.size, args.seed)
    server = SandboxServer(domain, args.port).start()
    try:
        config = write_config(domain, server.url, Path(args.dir))
        ctx = Context(settings_mod.load(config))
        say = (lambda msg: print(f"  {msg}", file=sys.stderr, flush=True)) if sys.stderr.isatty() else None
        print(f"demo: {domain.name} ({domain.domain}) simulated at {server.url}")
        print(f"demo: config {config}")
        result = run_sync(ctx, progress=say)
        doc = result.as_json()
        print(f"demo: roster synced — {doc['staff']} staff, {doc['pupils']} pupils, {doc['former_pupils']} former "
              f"pupils, {doc['guardians']} guardians, {doc['courses']} courses ({doc['api_calls']} API calls)")
        rows = list_roster(ctx.store)
        for role in ("staff", "pupil", "former_pupil"):
            sample = [r for r in rows if r["role"] == role][:3]
            for r in sample:
                print(f"  {role:<13} {r['email']:<38} {r['name']:<26} {len(r['courses'])} courses")
        print(f"demo: try  python -m integration --config {config} roster --role staff")
        sys.stdout.flush()
        if args.once:
            return 0 if result.status == "ok" else 3
        print("demo: serving the sandbox until Ctrl-C", file=sys.stderr)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("demo: stopping", file=sys.stderr)
        return 0
    finally:
        server.stop()
