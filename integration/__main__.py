"""The CLI: `python -m integration COMMAND [--json]` — one entry for every operator job.

Exit codes (operator contract): 0 ok; 2 bad configuration or input; 3 an outside
system refused (auth, scope, quota exhausted). Errors print one clear message on
stderr, never a stack trace.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys

from integration.errors import ConfigError, SafeChannelsError, SourceError
from integration.logs import configure_logging

# command -> (module under integration.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "write a starter config and a new encryption key (never overwrites)"),
    "demo": ("demo", "run the simulated school and the whole service on this machine"),
    "doctor": ("doctor", "check key, delegation, every scope and API, and say what to fix"),
    "sync": ("sync", "roster sync (incremental unless --full)"),
    "roster": ("roster", "list people"),
    "audit": ("audit", "run every enabled rule over new activity and queue alerts"),
    "findings": ("findings", "list findings"),
    "acks": ("acks", "policy acknowledgement status (--remind sends due reminders)"),
    "alerts": ("alerts", "deliver every alert that is due now (--digest: the digest too)"),
    "serve": ("serve", "run the web app and webhooks"),
    "worker": ("worker", "run the scheduler (with [queue] broker_url: it enqueues the jobs)"),
    "queue-worker": ("queue_worker", "run queued jobs ([queue] broker_url); start one or more"),
    "rotate-key": ("rotate_key", "re-encrypt stored secrets and personal addresses with the newest key"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m integration", description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="config file (default: $SAFECHANNELS_CONFIG or config/safechannels.toml)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        mod = importlib.import_module(f"integration.cli.{module}")
        mod.add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    as_json = bool(getattr(args, "json", False))
    configure_logging(verbose=args.verbose, quiet=as_json)
    mod = importlib.import_module(f"integration.cli.{COMMANDS[args.command][0]}")
    try:
        result = mod.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ConfigError as exc:
        _fail(exc, as_json)
        return 2
    except SourceError as exc:
        _fail(exc, as_json)
        return exc.exit_code if exc.exit_code in (2, 3) else 3
    except SafeChannelsError as exc:
        _fail(exc, as_json)
        return exc.exit_code or 1
    except Exception as exc:  # noqa: BLE001 - an operator sees one line, never a stack trace
        logging.getLogger("safechannels").debug("unexpected failure", exc_info=True)
        print(f"error: unexpected {type(exc).__name__}: {exc} (run with -v for details)", file=sys.stderr)
        return 1
    return int(result or 0)


def _fail(exc: Exception, as_json: bool) -> None:
    msg = str(exc)
    fix = getattr(exc, "fix", "")
    if fix:
        msg = f"{msg}\n  fix: {fix}"
    print(f"error: {msg}", file=sys.stderr)
    logging.getLogger("safechannels").debug("command failed", exc_info=True)


def print_json(doc) -> None:
    """The one JSON document a --json command prints on stdout."""
    json.dump(doc, sys.stdout, ensure_ascii=False, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
