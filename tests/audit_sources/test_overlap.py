"""Streams side by side (integration/lanes.py) store exactly what the serial run stores: the same
findings with the same evidence, the same cursors and the same held messages, on both generated
schools; and a stream that fails while the others run loses none of their results."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from sources_env import compare
from sqlalchemy import func, select

from integration.audit import run_audit
from integration.errors import SourceRefused
from integration.store.models_chat import ChatRoomMember, HeldChatMessage
from integration.store.models_mail import MailMessage
from integration.store.models_ops import Cursor

PG_URL = os.environ.get("SAFECHANNELS_TEST_DATABASE_URL", "")


def stored(env) -> dict:
    """Everything an audit leaves behind that must not depend on how streams interleaved (ids do:
    they follow commit order)."""
    found = sorted(({k: v for k, v in f.items() if k != "id"} for f in env.findings()),
                   key=lambda f: json.dumps(f, sort_keys=True, default=str))
    with env.ctx.store.session() as s:
        cursors = sorted((c.source, c.stream, c.partition, json.dumps(c.cursor, sort_keys=True))
                         for c in s.scalars(select(Cursor)))
        held = {m.__name__: s.scalar(select(func.count()).select_from(m))
                for m in (MailMessage, HeldChatMessage, ChatRoomMember)}
    return {"findings": found, "cursors": cursors, "held": held}


def test_side_by_side_stores_what_the_serial_run_stores(school, school_variant, other_database):
    now = datetime.now(UTC)
    serial = school("tiny", 5, shape=school_variant, database=other_database)
    one = run_audit(serial.ctx, now=now, max_lanes=1)
    reference = stored(serial)  # read now: the next school's store brings its own encryption key
    side = school("tiny", 5, shape=school_variant)
    many = run_audit(side.ctx, now=now)
    assert many.errors == [] and many.not_evaluated == {}
    assert (many.findings_new, many.events_read) == (one.findings_new, one.events_read)
    assert stored(side) == reference
    assert compare(side.findings(), side.domain) == []
    assert side.server.problems() == []


def test_a_stream_failing_mid_run_keeps_the_others_results(school):
    env = school("tiny", 6)
    source = env.ctx.activity_sources()[0]
    real = source.fetch

    def fetch(stream, cursors, **kw):
        if stream == "chat":
            batches = iter(real(stream, cursors, **kw))
            yield next(batches)
            raise SourceRefused("Reports chat refused mid-window", api="reports", fix="grant the scope")
        yield from real(stream, cursors, **kw)

    source.fetch = fetch
    result = run_audit(env.ctx)
    assert result.errors == ["google/chat: Reports chat refused mid-window"]
    assert result.not_evaluated and all(r.startswith("chat.") for r in result.not_evaluated)
    with env.ctx.store.session() as s:
        marks = {c.stream for c in s.scalars(select(Cursor).where(Cursor.partition == "__window__"))}
    assert "chat" not in marks and {"drive.files", "mail", "meet", "oauth"} <= marks
    # every other stream's findings are all there; only chat findings may be missing
    assert all(d.startswith("missed ('chat.") for d in compare(env.findings(), env.domain))
