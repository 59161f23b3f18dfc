"""``python -m sandbox``: serve a generated school until interrupted.

Runs on its own so anyone, and any Google client library, can talk to a simulated
school; ``--write-config DIR`` also writes a key and a complete service config for it.
"""

from __future__ import annotations

import argparse
import sys
import threading

from werkzeug.serving import make_server

from sandbox.config_writer import write_config
from sandbox.quotas import parse_quota
from sandbox.school import SHAPES, SIZES, generate, truth
from sandbox.server import QuietHandler, SandboxServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=list(SIZES), default="demo")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--domains", type=int, default=1,
                        help="with --size trust: N (2-20) schools, each in its own domain of the one customer "
                             "(default 1: twenty schools as OU trees in one domain)")
    parser.add_argument("--shape", choices=list(SHAPES), default="classic",
                        help="school layout: classic (/Staff, /Pupils) or academy (departments, tutor groups, "
                             "sixth form, roles by group); see sandbox/school.py")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 = any free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--fault-rate", type=float, default=0.0, help="fraction of API calls answering a transient error")
    parser.add_argument("--strict", action="store_true", help="answer 400 to requests the discovery documents reject")
    parser.add_argument("--no-response-checks", action="store_true",
                        help="skip checking responses against the discovery documents (benchmarks: the simulated "
                             "Google should not be the bottleneck; requests are still checked)")
    parser.add_argument("--user-quota", action="append", default=[], metavar="API=N",
                        help="answer 429 RESOURCE_EXHAUSTED beyond N requests per 60 s per delegated user of API "
                             "(repeatable; 'published' = Google's defaults); see sandbox/quotas.py")
    parser.add_argument("--write-config", metavar="DIR", default="")
    parser.add_argument("--workers", type=int, default=1,
                        help="serve from N forked processes (read-mostly benchmarks: the request log, forms, "
                             "watches and sent mail are per process)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.workers < 1:
        print("sandbox: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.domains != 1 and (args.size != "trust" or not 2 <= args.domains <= 20):
        print(f"sandbox: --domains {args.domains}: only a trust (--size trust) has several domains, 2 to 20",
              file=sys.stderr)
        return 2
    try:
        quotas = {api: n for text in args.user_quota for api, n in parse_quota(text).items()}
    except ValueError as exc:
        print(f"sandbox: --user-quota: {exc}", file=sys.stderr)
        return 2
    domain = generate(args.size, args.seed, args.shape, domains=args.domains)
    server = SandboxServer(domain, args.port, host=args.host, latency_ms=args.latency_ms,
                           fault_rate=args.fault_rate, seed=args.seed, strict=args.strict)
    server.state.check_responses = not args.no_response_checks
    server.state.quotas.enforce(quotas)
    if args.workers > 1:
        return _serve_forked(args, server)
    try:
        server.start()
    except OSError as exc:
        print(f"sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    _announce(args, server)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("sandbox: stopping", file=sys.stderr)
    finally:
        server.stop()
    return 0


def _serve_forked(args: argparse.Namespace, server: SandboxServer) -> int:
    """Bind here, then fork the workers (sandbox.workers); the app is already built, so all share its state."""
    from sandbox.workers import serve_forked

    try:
        wsgi = make_server(args.host, args.port, server.app, threaded=True, request_handler=QuietHandler)
    except OSError as exc:
        print(f"sandbox: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 2
    server.port = wsgi.server_port
    _announce(args, server)
    print(f"sandbox: {args.workers} worker processes (read-mostly: log and mutations are per process)")
    return serve_forked(wsgi, server.state, args.workers)


def _announce(args: argparse.Namespace, server: SandboxServer) -> None:
    domain = server.domain
    counts = {k: v for k, v in truth(domain).items() if k != "roles"}
    print(f"sandbox: {domain.name} ({', '.join(domain.domains)}, {args.size}, {args.shape}, seed {args.seed}) at {server.url}")
    print(f"sandbox: token endpoint {server.token_uri}; admin {domain.admin_email}; {counts}")
    if args.write_config:
        toml_path = write_config(domain, server.url, args.write_config)
        print(f"sandbox: wrote {toml_path} and {toml_path.parent / 'service-account.json'}")
        print(f"sandbox: try  python -m integration sync --config {toml_path} --json")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
