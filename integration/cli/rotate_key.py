"""`rotate-key`: add a new encryption key and re-encrypt stored secrets and personal addresses with it."""

from __future__ import annotations

import argparse

from integration.crypto import Crypto
from integration.wiring import context_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--new", action="store_true", help="generate a new key and put it first in the key file")
    p.add_argument("--json", action="store_true", help="print one JSON document")


def run(args) -> int:
    ctx = context_from_args(args)
    path = ctx.settings.resolve(ctx.settings.privacy.encryption_key_file)
    ctx.store  # noqa: B018 - open and migrate with the current keys first
    if args.new:
        text = path.read_text(encoding="ascii")
        lines = text.splitlines()
        head = [ln for ln in lines if ln.startswith("#")]
        keys = [ln for ln in lines if ln.strip() and not ln.startswith("#")]
        path.write_text("\n".join(head + [Crypto.new_key().decode("ascii")] + keys) + "\n", encoding="ascii")
    crypto = Crypto.from_file(path)
    from integration.rekey import rotate_all
    from integration.store.base import set_crypto

    set_crypto(crypto)
    counts = rotate_all(ctx.store, crypto)
    if args.json:
        from integration.__main__ import print_json

        print_json({"rotated": counts, "keys": crypto.key_count})
    else:
        total = sum(counts.values())
        print(f"re-encrypted {total} value(s) with the newest key; older keys can now be removed from {path}")
    return 0
