"""An audit broken off mid-way (a fifth of all requests failing, and the source dying after a few
batches) and then re-run loses no event and duplicates no finding or occurrence."""

from __future__ import annotations

import pytest
from sources_env import compare
from sqlalchemy import select

from integration.audit import run_audit
from integration.store.models_ops import Cursor


class Dies(Exception):
    """The process dies: nothing after this batch is stored."""


class DyingSource:
    """Wraps the real source and dies after `after` batches, as a killed worker would."""

    def __init__(self, inner, after: int):
        self.inner, self.after, self.seen = inner, after, 0
        self.name, self.streams = inner.name, inner.streams
        self.stream_records = inner.stream_records

    def fetch(self, stream, cursors, **kw):
        for batch in self.inner.fetch(stream, cursors, **kw):
            if self.seen >= self.after:
                raise Dies(f"killed after {self.after} batches")
            self.seen += 1
            yield batch

    def check(self):
        return self.inner.check()

    def __getattr__(self, name: str):  # the optional hooks (chat_members) are the real source's
        return getattr(self.inner, name)


@pytest.mark.parametrize(("seed", "reports_gmail", "share"), [(1, True, 0.4), (2, False, 0.3)])
def test_an_interrupted_audit_under_faults_loses_nothing_and_duplicates_nothing(school, tmp_path, seed,
                                                                                 reports_gmail, share):
    clean = school("tiny", seed, reports_gmail=reports_gmail, database=f"sqlite:///{tmp_path / 'clean.db'}")
    counted = DyingSource(clean.ctx.activity_sources()[0], 10**9)
    clean.ctx.activity_sources = lambda: [counted]
    run_audit(clean.ctx)
    after = int(counted.seen * share)  # die that far into the audit's batches, whatever their number
    assert compare(clean.findings(), clean.domain) == []
    expected_occurrences = clean.occurrences()
    clean.ctx.store.dispose()

    env = school("tiny", seed, reports_gmail=reports_gmail, max_attempts=12)
    env.server.faults.set_rate(0.2, seed=seed)
    real = env.ctx.activity_sources()[0]
    env.ctx.activity_sources = lambda: [DyingSource(real, after)]
    with pytest.raises(Dies):
        run_audit(env.ctx)
    partial = env.findings()
    assert 0 < len(partial) < len(expected_occurrences)

    env.ctx.activity_sources = lambda: [real]
    result = run_audit(env.ctx)
    assert result.errors == []
    assert env.server.faults.injected > 10  # the faults really happened
    assert compare(env.findings(), env.domain) == []
    assert env.occurrences() == expected_occurrences


def test_mailboxes_that_failed_are_read_again_from_where_they_started(school):
    """The engine moves a stream's window on even when some mailboxes failed (their errors are
    per user); those mailboxes keep their own start in the cursor and lose nothing."""
    env = school("tiny", 5, reports_gmail=False, mail_source="mailbox", max_attempts=1)
    env.server.faults.set_rate(0.3, seed=5)
    run_audit(env.ctx)
    with env.ctx.store.session() as s:
        behind = s.scalars(select(Cursor).where(Cursor.stream == "mail", Cursor.partition == "failed")).one()
        assert behind.cursor["since"], "some mailboxes failed under a 30% fault rate with no retries"
    env.server.faults.set_rate(0.0)
    run_audit(env.ctx)
    assert compare(env.findings(), env.domain) == []
