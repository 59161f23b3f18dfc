"""Chat DMs at school scale: what learning DM members costs (Reports pages, Chat API member lists).

    python -m benchmarks.chat_dms [--size school] [--seed 1] [--shape classic]

Runs the audit with only `chat.staff_pupil_direct` enabled against the in-process sandbox (no emulated
latency: call counts are exact, wall times indicative), twice: the first audit (the look-back window)
and an immediate second one. Prints Reports chat pages, `spaces.members.list` calls, held DM messages,
and the chat findings against the truth file, with and without the optional Chat API scope.

The member lists are paced to Chat's per-project quota (3,000 membership reads per minute, kept at 90 %,
`connectors/google/quotas.py`); the sandbox enforces none, so the time that quota would add against
Google is printed beside them (`members_quota_floor_s`, a full minute per whole quota beyond the first).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from connectors.google.quotas import quota_floor_s
from integration.audit import run_audit
from integration.roster import run_sync
from integration.rules import RULES
from integration.store.models_chat import ChatRoom, HeldChatMessage
from sandbox import generate
from sandbox.activity import CHAT_MEMBERS_SCOPE, audit_truth
from sandbox.config_writer import write_config
from sandbox.server import SandboxServer

RULE = "chat.staff_pupil_direct"


def one(size: str, seed: int, shape: str, chat_api: bool) -> dict:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "audit_sources"))
    from sources_env import AuditEnv, key, make_context

    dom = generate(size, seed, shape)
    if not chat_api:
        dom.revoke_scope(CHAT_MEMBERS_SCOPE)
    server = SandboxServer(dom).start()
    try:
        tmp = Path(tempfile.mkdtemp())
        config = write_config(dom, server.url, tmp / "school")
        ctx = make_context(config, f"sqlite:///{tmp / 'bench.db'}")
        ctx.settings.audit.rules_disabled = [r for r in RULES if r != RULE]
        ctx.store.migrate()
        run_sync(ctx)
        out: dict = {"size": size, "shape": shape, "chat_api": chat_api}
        for run in ("first", "second"):
            server.reset_log()
            t = time.perf_counter()
            run_audit(ctx)
            out[f"{run}_s"] = round(time.perf_counter() - t, 1)
            out[f"{run}_reports_chat"] = sum(1 for e in server.requests("reports.activities.list")
                                             if e.path.endswith("/chat"))
            out[f"{run}_members_list"] = len(server.requests("chat.spaces.members.list"))
            out[f"{run}_members_quota_floor_s"] = quota_floor_s({"chat": out[f"{run}_members_list"]})
        with ctx.store.session() as s:
            out["held"] = s.scalar(select(func.count()).select_from(HeldChatMessage))
            out["rooms"] = s.scalar(select(func.count()).select_from(ChatRoom))
        found = {key(f) for f in AuditEnv(dom, server, config, ctx).findings() if f["rule"] == RULE}
        truth = {key(t) for t in audit_truth(dom) if t["rule"] == RULE}
        out["found/truth"] = f"{len(found & truth)}/{len(truth)} (+{len(found - truth)} unexpected)"
        ctx.store.dispose()
        return out
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="school")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shape", default="classic")
    args = ap.parse_args()
    for chat_api in (True, False):
        print(one(args.size, args.seed, args.shape, chat_api), flush=True)


if __name__ == "__main__":
    main()
