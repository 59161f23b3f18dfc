"""`demo`: the whole service against a simulated school on this machine, no Google account needed.

Starts the sandbox (a generated school speaking Google's wire format) on a free port, writes a
config for it, runs roster sync, the channel audit, the acknowledgement round (creating the
form; some simulated staff respond) and alert delivery to an outbox folder, then serves the
dashboard and runs the scheduler in its own `worker` process until Ctrl-C. The sandbox is a
development tool, imported only here.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import subprocess
import sys
import threading
import tomllib
import webbrowser
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import tomli_w

from integration import settings as settings_mod
from integration.wiring import Context


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--size", default="demo", choices=("tiny", "demo", "school", "trust"), help="generated school size")
    p.add_argument("--seed", type=int, default=1, help="generated school seed (same seed, same school)")
    p.add_argument("--port", type=int, default=0, help="sandbox port (default: any free port)")
    p.add_argument("--web-port", type=int, default=5000, help="dashboard port (default 5000; 0 = any free port)")
    p.add_argument("--dir", default="instance/demo", help="where the demo's config, key, database and outbox live")
    p.add_argument("--once", action="store_true", help="run every job once, print the summary and exit")
    p.add_argument("--no-browser", action="store_true", help="do not try to open the dashboard in a browser")


def run(args) -> int:
    from sandbox import generate
    from sandbox.config_writer import write_config
    from sandbox.server import SandboxServer

    if not args.verbose:
        logging.getLogger().setLevel(logging.WARNING)  # the demo prints its own summary
    domain = generate(args.size, args.seed)
    server = SandboxServer(domain, args.port).start()
    web = worker = None
    try:
        web_server, web_url = _bind_web(args.web_port)
        config = _write_demo_config(write_config(domain, server.url, Path(args.dir)), web_url, server)
        ctx = Context(settings_mod.load(config))
        say(f"{domain.name} ({domain.domain}) simulated at {server.url}")
        say(f"config {config}")
        status = _run_every_job(ctx, domain)
        if args.once:
            web_server.close()
            return status
        web = _serve_web(ctx, web_server)
        from integration.watches import renew_all

        watched = renew_all(ctx)
        say(f"push: {watched['opened']} Google push channels and watches opened to the dashboard's webhooks")
        worker = subprocess.Popen([sys.executable, "-m", "integration", "--config", str(config), "worker"],
                                  env={**os.environ, "PYTHONUNBUFFERED": "1"})
        w = ctx.settings.web
        say(f"dashboard {web_url}/  — 'Sign in with Google' goes through the simulated school's own Google "
            "sign-in; try each role:")
        for role, users in (("DSL", w.dsl_users), ("IT admin", w.admin_users), ("viewer (governor)", w.viewer_users)):
            if users:
                say(f"  {role:<18} {users[0]}")
        say(f"alerts and reminders are written to {ctx.settings.resolve(ctx.settings.alerts.outbox_dir)}")
        say(f"try: python -m integration --config {config} findings --json")
        say("Ctrl-C stops the demo")
        if not args.no_browser and (os.environ.get("DISPLAY") or sys.platform == "darwin"):
            webbrowser.open(f"{web_url}/")
        _wait_for_interrupt()
        return 0
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        if web is not None:
            web.shutdown()
        server.stop()


def say(message: str) -> None:
    print(f"demo: {message}", flush=True)


def _bind_web(port: int):
    """Reserve the dashboard's port now (the config names it); a taken port falls back to a free one."""
    from integration.app import create_app  # noqa: F401  (fail early if the web app cannot load)
    from integration.web.listen import listen

    sock, note = listen("127.0.0.1", port, fallback=True)
    if note:
        say(note)
    return sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


def _write_demo_config(path: Path, web_url: str, server) -> Path:
    """The sandbox's config plus what only the demo wants: dev sign-in on localhost, push to the local app."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data.setdefault("web", {})["dev_login"] = True
    ack = data.setdefault("acknowledgement", {})
    ack.setdefault("policy_url", f"https://www.{data['school']['domain']}/policies/social-networking-policy.pdf")
    if not ack["policy_url"]:
        ack["policy_url"] = f"https://www.{data['school']['domain']}/policies/social-networking-policy.pdf"
    data["alerts"]["base_url"] = web_url
    hooks = data.setdefault("webhooks", {})
    hooks["public_url"] = web_url
    hooks["pubsub_topic"] = "projects/safechannels-demo/topics/safechannels"
    server.add_push_subscription(hooks["pubsub_topic"], f"{web_url}/webhooks/pubsub")
    schedule = data.setdefault("schedule", {})
    schedule.update({"audit": "*/5 * * * *", "alerts": "* * * * *"})
    path.write_text("# Written by `python -m integration demo` for the simulated school.\n" + tomli_w.dumps(data),
                    encoding="utf-8")
    return path


def _run_every_job(ctx: Context, domain) -> int:
    from integration.acknowledgement import run_acknowledgement
    from integration.alerts import deliver_due
    from integration.audit import run_audit
    from integration.findings import list_findings
    from integration.roster import run_sync

    sync_result = run_sync(ctx)
    sync = sync_result.as_json()
    say(f"roster: {sync['staff']} staff, {sync['pupils']} pupils, {sync['former_pupils']} former pupils, "
        f"{sync['guardians']} guardians, {sync['courses']} classes ({sync['api_calls']} API calls)")
    audit = run_audit(ctx)
    doc = audit.as_json()
    say(f"audit: {doc['events_read']} events read, {doc['findings_new']} findings ({doc['api_calls']} API calls)")
    with ctx.store.session() as s:
        rows = list_findings(s)
    by_rule = Counter((f.rule, f.severity, f.status) for f in rows)
    for (rule, severity, status), n in sorted(by_rule.items()):
        say(f"  {n:>3} × {rule:<42} {severity:<6} {status}")
    acks = run_acknowledgement(ctx)
    _simulate_responses(ctx, domain)
    acks = run_acknowledgement(ctx)
    say(f"acknowledgement: {acks.doc.get('acknowledged', 0)} acknowledged, {acks.doc.get('outstanding', 0)} "
        f"outstanding for policy {acks.doc.get('policy_version')} (form {acks.doc.get('form_id')})")
    sent = deliver_due(ctx)
    outbox = ctx.settings.resolve(ctx.settings.alerts.outbox_dir)
    written = len(list(outbox.glob("*.eml"))) if outbox.exists() else 0
    say(f"email: {written} alerts and policy emails in the outbox, {sent.pending_digest} findings waiting for "
        "the daily digest")
    return 3 if "partial" in (sync_result.status, audit.status) else 0


def _simulate_responses(ctx: Context, domain) -> None:
    """Most simulated staff acknowledge the new policy form over the last few days."""
    from integration.acknowledgement.rounds import current_round
    from sandbox.forms import submit_response

    with ctx.store.session() as s:
        rnd = current_round(s, ctx.settings.acknowledgement.policy_version)
        form_id = rnd.form_id if rnd else ""
    if not form_id:
        return
    rng = random.Random(7)
    staff = [u for u in domain.users if getattr(u, "role_truth", "") == "staff" and not u.suspended]
    now = datetime.now(UTC)
    for user in staff:
        if rng.random() < 0.7:
            submit_response(domain, form_id, user.primary_email, now - timedelta(hours=rng.randint(1, 72)))


def _serve_web(ctx: Context, sock):
    """Serve the app on the socket reserved earlier (no re-bind: nobody can take the port meanwhile)."""
    from integration.app import create_app
    from integration.web.listen import wsgi_server

    server = wsgi_server(sock, create_app(bind_host="127.0.0.1", ctx=ctx))
    sock.close()
    threading.Thread(target=server.serve_forever, name="demo-web", daemon=True).start()
    return server


def _wait_for_interrupt() -> None:
    """Until Ctrl-C or SIGTERM. SIGINT gets its own handler: a process started in the background by a
    non-interactive shell (a CI script, `cmd &`) inherits SIGINT ignored, and Python then never raises
    KeyboardInterrupt, so the demo would not stop."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
    say("stopping")
