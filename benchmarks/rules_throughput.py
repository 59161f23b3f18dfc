"""Audit throughput, outside the test suite: `python benchmarks/rules_throughput.py [EVENTS]`.

Measures (1) the rules alone over mail events (the heaviest family: four rules per message)
and (2) the whole engine — rules, findings, occurrences and cursors committed per batch of
1,000 — on a temporary SQLite store. The target is ≥100,000 events/s through the rules on
an unloaded machine; the engine number is bounded by one commit per batch.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "audit")]  # reuses the audit tests' fixtures

from audit_env import FakeContext, make_settings  # noqa: E402

from integration.audit import run_audit  # noqa: E402
from integration.crypto import Crypto  # noqa: E402
from integration.identity import Identity  # noqa: E402
from integration.records import ActivityBatch, MailEvent  # noqa: E402
from integration.rules import RULES, RuleSet, check_record  # noqa: E402
from integration.rules.base import ChannelPolicy, RuleContext  # noqa: E402
from integration.rules.oauth import SocialApps  # noqa: E402
from integration.store import Store  # noqa: E402
from integration.store.models_roster import Person  # noqa: E402

D = "northfield.sch.uk"
STAFF, PUPILS = 200, 2000
START = datetime(2026, 1, 5, 9, tzinfo=UTC)


def events(n: int, rng: random.Random):
    """School-day mail: half staff↔pupil, half staff↔staff, a few external addresses."""
    for k in range(n):
        sender = f"s{rng.randrange(STAFF)}@{D}"
        to = rng.choice([f"p{rng.randrange(PUPILS)}@{D}"] * 45 + [f"x{rng.randrange(50_000)}@gmail.com"] * 5
                        + [f"s{rng.randrange(STAFF)}@{D}"] * 50)
        yield MailEvent(f"e{k}", START + timedelta(seconds=k % 30_000), sender, "sent", sender, (to,), f"<{k}>")


def bench_rules(n: int) -> float:
    ident = Identity([D], Crypto([Crypto.new_key()]))
    for i in range(STAFF):
        ident.add_person(f"s{i}@{D}", "staff", f"Staff Member{i}")
    for i in range(PUPILS):
        ident.add_person(f"p{i}@{D}", "pupil", f"Pupil Person{i}")
    ctx = RuleContext(ident, ChannelPolicy(frozenset({D})), SocialApps.load())
    rules = RuleSet(list(RULES.values())).by_type[MailEvent]
    batch = list(events(n, random.Random(1)))
    started = time.perf_counter()
    for ev in batch:
        check_record(ev)
        for rule in rules:
            rule.evaluate(ev, ctx)
    return n / (time.perf_counter() - started)


class _Generated:
    name, streams = "bench", ("mail",)

    def __init__(self, n: int):
        self.batches = [ActivityBatch("mail", chunk, cursor={"b": i})
                        for i, chunk in enumerate(_chunks(list(events(n, random.Random(2))), 1000))]

    def fetch(self, stream, cursors, *, since, until, people):
        yield from self.batches

    def check(self):
        return []


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def bench_engine(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/bench.db", Crypto([Crypto.new_key()]))
        store.migrate()
        with store.session() as s:
            s.add_all([Person(email=f"s{i}@{D}", role="staff", name=f"Staff Member{i}") for i in range(STAFF)])
            s.add_all([Person(email=f"p{i}@{D}", role="pupil", name=f"Pupil Person{i}") for i in range(PUPILS)])
        ctx = FakeContext(store, make_settings(), [_Generated(n)])
        started = time.perf_counter()
        result = run_audit(ctx, now=START + timedelta(days=2))
        rate = result.events_read / (time.perf_counter() - started)
        store.dispose()
    return rate


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    print(f"rules only : {bench_rules(n):>10,.0f} mail events/s")
    print(f"engine     : {bench_engine(n):>10,.0f} mail events/s (SQLite, batches of 1,000)")
