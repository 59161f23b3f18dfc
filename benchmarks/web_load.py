"""Bounded load check of the web app under gunicorn: the DSL pages and the webhook endpoints.

Loopback only, a fixed number of requests per endpoint (``--requests``, default 300) at a fixed
concurrency; prints p50/p99 latency and the error rate (5xx or no answer) per endpoint.

    python benchmarks/web_load.py [--requests 300] [--concurrency 8] [--workers 2]

Setup: `demo --once` fills a scratch database from the tiny sandbox school; a DSL session is
opened through the app's own session store (production sign-in is Google's, not scriptable);
webhook requests carry headers Google would not have sent, so they measure the refusal path a
flood of forged notifications takes (the expected answers are 4xx, not errors).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import requests
import tomli_w

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _session_cookie(config: Path) -> tuple[str, int]:
    """A DSL session cookie signed with the app's key, and one finding id to open."""
    from sqlalchemy import select

    from integration import settings as settings_mod
    from integration.app import create_app
    from integration.store.models_audit import Finding
    from integration.web import sessions
    from integration.wiring import Context

    ctx = Context(settings_mod.load(config))
    app = create_app(ctx=ctx)
    dsl = ctx.settings.web.dsl_users[0]
    token = sessions.start(ctx.store, dsl, "DSL")
    cookie = app.session_interface.get_signing_serializer(app).dumps({"sid": token})
    with ctx.store.session() as s:
        finding = s.scalar(select(Finding.id).order_by(Finding.id))
    return cookie, int(finding)


def _hit(method: str, url: str, headers: dict, body: bytes) -> tuple[float, int]:
    started = time.perf_counter()
    try:
        status = requests.request(method, url, headers=headers, data=body, timeout=30,
                                  allow_redirects=False).status_code
    except requests.RequestException:
        status = 0
    return time.perf_counter() - started, status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo"
        subprocess.run([sys.executable, "-m", "integration", "demo", "--once", "--size", "tiny", "--no-browser",
                        "--web-port", "0", "--dir", str(demo)], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        config = demo / "safechannels.toml"
        data = tomllib.loads(config.read_text(encoding="utf-8"))
        data["web"]["dev_login"] = False  # production settings: gunicorn refuses development sign-in
        config.write_text(tomli_w.dumps(data), encoding="utf-8")
        cookie, finding = _session_cookie(config)
        port = _free_port()
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-k", "gthread",
                                   "--threads", "4", "-b", f"127.0.0.1:{port}", "integration.app:create_app()"],
                                  cwd=ROOT, env={**env, "SAFECHANNELS_CONFIG": str(config)},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while _hit("GET", base + "/healthz", {}, b"")[1] != 200:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("gunicorn did not start")
                time.sleep(0.2)
            page = {"Cookie": f"safechannels_session={cookie}"}
            channel = {"X-Goog-Channel-ID": "forged", "X-Goog-Channel-Token": "nope",
                       "X-Goog-Resource-ID": "r", "X-Goog-Resource-State": "change", "X-Goog-Message-Number": "7"}
            cases = [("GET /findings", "GET", "/findings", page, b"", 200),
                     (f"GET /findings/{finding}", "GET", f"/findings/{finding}", page, b"", 200),
                     ("GET /api/findings", "GET", "/api/findings", page, b"", 200),
                     ("POST /webhooks/drive (forged)", "POST", "/webhooks/drive", channel, b"", None),
                     ("POST /webhooks/pubsub (no token)", "POST", "/webhooks/pubsub",
                      {"Content-Type": "application/json"}, b'{"message":{"data":"e30="}}', None)]
            print(f"{'endpoint':<34} {'n':>5} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  answers")
            for name, method, path, headers, body, want in cases:
                with ThreadPoolExecutor(args.concurrency) as pool:
                    hit = partial(_hit, method, base + path, headers)
                    results = list(pool.map(hit, [body] * args.requests))
                times = sorted(t * 1000 for t, _ in results)
                codes = [c for _, c in results]
                errors = sum(1 for c in codes if c == 0 or c >= 500 or (want is not None and c != want))
                p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
                answers = ",".join(f"{c}×{codes.count(c)}" for c in sorted(set(codes)))
                print(f"{name:<34} {len(times):>5} {statistics.median(times):>8.1f} {p99:>8.1f} "
                      f"{100 * errors / len(codes):>6.1f}%  {answers}")
        finally:
            server.terminate()
            server.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
