"""`doctor`: check the config, key, delegation of every scope group, each API and the configured OUs.

Exit 0 when every check passes, 2 when the local configuration is wrong (config, key file,
an org unit that does not exist), 3 when an outside system refused (token, scope, API).
"""

from __future__ import annotations

import argparse

from integration.errors import ConfigError
from integration.protocols import Check
from integration.wiring import context_from_args

CONFIG_CHECKS = ("config", "key file", "org unit")  # same convention as connectors/google/doctor.py
WIDTH = 36  # check names are padded to this (checks are printed as they run, so the longest is not known)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help='print {"checks":[{"name","ok","detail","fix"}]}')
    p.add_argument("--scopes", action="store_true",
                   help="print the client ID and scope list for the Admin console's domain-wide delegation entry")


def exit_code(checks: list[Check]) -> int:
    failed = [c for c in checks if not c.ok]
    if not failed:
        return 0
    return 2 if any(c.name.startswith(CONFIG_CHECKS) for c in failed) else 3


def run(args) -> int:
    try:
        ctx = context_from_args(args, migrate=False)
    except ConfigError as exc:
        if args.scopes or not args.json:
            raise
        checks = [Check("config", False, str(exc), "fix the configuration file named above")]
    else:
        if args.scopes:
            print(ctx.delegation_text())
            return 0
        if not args.json:
            return exit_code(_stream(ctx.iter_doctor_checks()))
        checks = list(ctx.doctor_checks())
    if args.json:
        from integration.__main__ import print_json

        print_json({"checks": [c.as_json() for c in checks]})
    else:
        _stream(checks)
    return exit_code(checks)


def _stream(checks) -> list[Check]:
    """Print each check the moment it is known (a slow or unreachable system shows where it is)."""
    done: list[Check] = []
    for c in checks:
        print(f"{'ok ' if c.ok else 'FAIL'} {c.name:<{WIDTH}}  {c.detail}", flush=True)
        if not c.ok and c.fix:
            print(f"     {'':<{WIDTH}}  fix: {c.fix}", flush=True)
        done.append(c)
    return done
