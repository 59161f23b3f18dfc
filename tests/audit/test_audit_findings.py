"""Findings: fingerprints, triage workflow and its log, views, retention, the CLI documents, schema."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from audit_env import DOMAIN, NOW, PUPIL, PUPIL_GMAIL, TEACHER, FakeContext, ListSource, make_settings
from sqlalchemy import func, select

from integration import findings as repo
from integration.cli import audit as audit_cli
from integration.cli import findings as findings_cli
from integration.errors import InputError
from integration.findings import Prepared, fingerprint, record
from integration.rules.base import Candidate
from integration.store.models import metadata
from integration.store.models_audit import Finding, FindingEvent, FindingOccurrence

DSL = f"dsl@{DOMAIN}"
MY_TABLES = {"personal_addresses", "channel_exceptions", "register_imports", "findings", "finding_occurrences",
             "finding_events"}


def candidate(event_key: str = "mail:<1>", **kw) -> Candidate:
    base = dict(rule="mail.staff_to_pupil_personal", staff=TEACHER, pupil=PUPIL, counterpart=PUPIL_GMAIL,
                source="reports.gmail", evidence={"message_id": event_key, "event_ids": [event_key]},
                event_key=event_key, time=NOW)
    return Candidate(**{**base, **kw})


def prepare(store, c: Candidate, exception_id=None) -> Prepared:
    h = store.crypto.address_hash
    return Prepared(c, "high", ("000",), exception_id, fingerprint(c, h), h(c.counterpart) if c.counterpart else "")


def a_finding(store) -> int:
    with store.session() as s:
        out = record(s, [prepare(store, candidate())], NOW)
        return out.created[0].id


def test_fingerprints_key_rule_people_and_object_not_the_event(store):
    h = store.crypto.address_hash
    assert fingerprint(candidate("a"), h) == fingerprint(candidate("b"), h)
    assert fingerprint(candidate(), h) != fingerprint(candidate(pupil="other@x"), h)
    assert fingerprint(candidate(), h) != fingerprint(candidate(object_key="f1"), h)
    assert PUPIL_GMAIL not in fingerprint(candidate(), h)


def test_one_event_in_one_batch_twice_counts_once(store):
    with store.session() as s:
        out = record(s, [prepare(store, candidate()), prepare(store, candidate())], NOW)
    assert len(out.created) == 1 and out.created[0].occurrences == 1


def test_the_triage_workflow_is_logged_and_rejects_invalid_moves(store):
    fid = a_finding(store)
    with store.session() as s:
        with pytest.raises(InputError, match="is new: it can move to reviewing, not resolved"):
            repo.transition(s, fid, "resolved", "dsl@x", "done")
        with pytest.raises(InputError, match="needs a note"):
            repo.transition(s, fid, "reviewing", "dsl@x", "  ")
        repo.transition(s, fid, "reviewing", "dsl@x", "looking")
        repo.transition(s, fid, "false_positive", "dsl@x", "it is the pupil's parent")
        repo.transition(s, fid, "reviewing", "deputy@x", "reopened")
        f = repo.transition(s, fid, "resolved", "dsl@x", "spoken to")
        assert f.closed_at is not None
        repo.log_view(s, fid, "head@x")
        with pytest.raises(InputError, match="unknown status"):
            repo.transition(s, fid, "done", "dsl@x", "x")
        with pytest.raises(InputError, match="no finding"):
            repo.transition(s, 999, "reviewing", "dsl@x", "x")
        log = [(e.action, e.actor, e.from_status, e.to_status) for e in repo.history(s, fid)]
    assert log == [("created", "audit", "", "new"), ("status", "dsl@x", "new", "reviewing"),
                   ("status", "dsl@x", "reviewing", "false_positive"),
                   ("status", "deputy@x", "false_positive", "reviewing"),
                   ("status", "dsl@x", "reviewing", "resolved"), ("viewed", "head@x", "", "")]


def test_a_resolved_finding_that_recurs_is_new_again(store):
    fid = a_finding(store)
    with store.session() as s:
        repo.transition(s, fid, "reviewing", "dsl@x", "looking")
        repo.transition(s, fid, "resolved", "dsl@x", "spoken to")
    with store.session() as s:
        out = record(s, [prepare(store, candidate("mail:<2>"))], NOW + timedelta(days=1))
    assert [f.status for f in out.alertable] == ["new"] and out.updated[0].occurrences == 2


def test_retention_purges_old_closed_findings_and_old_occurrences(store):
    settings = make_settings()
    fid = a_finding(store)
    with store.session() as s:
        out = record(s, [prepare(store, candidate(rule="mail.out_of_hours", counterpart=None))], NOW)
        kept = out.created[0].id
        repo.transition(s, fid, "reviewing", "dsl@x", "looking", now=NOW)
        repo.transition(s, fid, "resolved", "dsl@x", "spoken to", now=NOW)
    with store.session() as s:
        assert repo.purge(s, settings, NOW + timedelta(days=10)) == {"findings": 0, "occurrences": 0}
    with store.session() as s:
        assert repo.purge(s, settings, NOW + timedelta(days=1100)) == {"findings": 1, "occurrences": 1}
    with store.session() as s:
        assert [f.id for f in s.scalars(select(Finding))] == [kept]
        assert s.scalar(select(func.count()).select_from(FindingOccurrence)) == 0
        assert s.scalar(select(func.count()).select_from(FindingEvent).where(FindingEvent.finding_id == fid)) == 0


def test_findings_json_has_the_contract_keys_and_logs_views(store, capsys, monkeypatch):
    a_finding(store)
    ctx = FakeContext(store, make_settings(), [])
    monkeypatch.setattr(findings_cli, "context_from_args", lambda args: ctx)
    args = argparse.Namespace(status=None, rule=None, school=None, set_status=None, actor="dsl@x", note="", json=True)
    assert findings_cli.run(args) == 0
    [doc] = json.loads(capsys.readouterr().out)
    assert list(doc) == ["id", "rule", "severity", "status", "staff", "pupil", "guardian", "counterpart",
                         "confidence", "source", "evidence", "first_seen", "last_seen", "occurrences", "school",
                         "schools"]
    assert doc["first_seen"] == "2026-03-10T12:00:00Z" and doc["counterpart"] == PUPIL_GMAIL
    ctx.settings.web.dsl_users = [DSL]
    args = argparse.Namespace(status=None, rule=None, school=None, set_status=[str(doc["id"]), "reviewing"], actor=DSL,
                              note="on it", json=True)
    assert findings_cli.run(args) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "reviewing"
    args.set_status, args.actor = [str(doc["id"]), "resolved"], None
    with pytest.raises(InputError, match="--actor"):
        findings_cli.run(args)
    args.set_status, args.rule = None, "nope"
    with pytest.raises(InputError, match="unknown rule id"):
        findings_cli.run(args)


@pytest.mark.parametrize(("actor", "note", "refusal"), [
    (DSL, "", "--note"), (DSL, "   ", "--note"), ("anything", "why", "may not triage"),
    ("dsl@gmail.com", "why", "may not triage"), (f"head@{DOMAIN}", "why", "may not triage"),
    (f"dsl@{DOMAIN}@evil.com", "why", "may not triage")])
def test_cli_triage_needs_a_note_and_a_school_dsl(store, monkeypatch, actor, note, refusal):
    fid = a_finding(store)
    settings = make_settings()
    settings.web.dsl_users, settings.web.admin_users = [DSL], [f"head@{DOMAIN}"]
    monkeypatch.setattr(findings_cli, "context_from_args", lambda args: FakeContext(store, settings, []))
    args = argparse.Namespace(status=None, rule=None, school=None, set_status=[str(fid), "reviewing"], actor=actor, note=note,
                              json=True)
    with pytest.raises(InputError, match=refusal):
        findings_cli.run(args)
    with store.session() as s:
        assert s.get(Finding, fid).status == "new"
        assert [e.action for e in repo.history(s, fid)] == ["created"]


def test_audit_json_prints_exactly_the_contract(store, school, capsys, monkeypatch):
    ctx = FakeContext(store, make_settings(), [ListSource("gmail", {"mail": []})])
    monkeypatch.setattr(audit_cli, "context_from_args", lambda args: ctx)
    assert audit_cli.run(argparse.Namespace(full=False, json=True)) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == {"findings_new": 0, "findings_updated": 0, "events_read": 0, "api_calls": 7}
    assert "not evaluated: drive.public_media" in out.err


def test_the_migration_matches_the_models(store):
    with store.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    mine = [d for d in diffs if any(f"'{t}'" in repr(d) or f"name={t!r}" in repr(d) for t in MY_TABLES)]
    assert mine == []


def test_after_a_key_rotation_refingerprint_keeps_findings_from_duplicating(store):
    from integration.crypto import Crypto

    a_finding(store)
    rotated = Crypto([Crypto.new_key()])
    with store.session() as s:
        assert repo.refingerprint(s, rotated.address_hash) == 1
    c = candidate("mail:<2>")
    with store.session() as s:
        h = rotated.address_hash
        out = record(s, [Prepared(c, "high", ("000",), None, fingerprint(c, h), h(c.counterpart))], NOW)
    assert out.created == [] and out.updated[0].occurrences == 2


def test_an_overlong_message_id_still_records_one_occurrence(store):
    key = "mail:<" + "x" * 400 + "@example.com>"
    with store.session() as s:
        out = record(s, [prepare(store, candidate(key)), prepare(store, candidate(key))], NOW)
    assert out.created[0].occurrences == 1
    with store.session() as s:
        again = record(s, [prepare(store, candidate(key))], NOW)
    assert again.updated == []
