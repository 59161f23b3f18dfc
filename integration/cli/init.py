"""`init`: write a commented starter config and a new encryption key, never overwriting either."""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

from integration.crypto import write_new_key_file
from integration.settings import DEFAULT_CONFIG_PATH


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default=".", help="where to write config/ and secrets/ (default: here; relative paths "
                   "in the config are read from the directory the service runs in)")


def run(args) -> int:
    root = Path(args.dir)
    config_path = Path(args.config) if getattr(args, "config", None) else root / DEFAULT_CONFIG_PATH
    key_path = root / "secrets" / "safechannels.key"
    if config_path.exists():
        print(f"kept existing {config_path} (init never overwrites)")
    else:
        config_path.parent.mkdir(parents=True, exist_ok=True)
        text = resources.files("integration").joinpath("starter.toml").read_text(encoding="utf-8")
        config_path.write_text(text, encoding="utf-8")
        print(f"wrote {config_path}: edit [school], [google] and [alerts], then run 'python -m integration doctor'")
    if write_new_key_file(key_path):
        print(f"wrote {key_path}: a new encryption key. Back it up; keep it out of version control.")
    else:
        print(f"kept existing {key_path}")
    sys.stdout.flush()
    return 0
