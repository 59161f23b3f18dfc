"""A purged finding is never re-created from the activity it was about (issue 11 defect 5): purging
leaves a tombstone the next audit honours — no new finding, no e-mail — while activity after the
finding was closed is still a recurrence."""

from __future__ import annotations

from datetime import timedelta

from audit_env import NOW, PUPIL, PUPIL_GMAIL, TEACHER, FakeContext, ListSource, mail, make_settings
from sqlalchemy import func, select

from integration import findings as repo
from integration import jobs
from integration.audit import run_audit
from integration.crypto import Crypto
from integration.records import ActivityBatch
from integration.rekey import rotate_all
from integration.store.base import set_crypto
from integration.store.models_alerts import OutboxEmail
from integration.store.models_audit import Finding
from integration.store.models_privacy import FindingTombstone

DSL = "dsl@northfield.sch.uk"


def batch(*events) -> list[ActivityBatch]:
    return [ActivityBatch("mail", list(events), cursor={"page": 1}, partition=TEACHER, complete=True)]


def counts(store) -> tuple[int, int]:
    with store.session() as s:
        return (s.scalar(select(func.count()).select_from(Finding)),
                s.scalar(select(func.count()).select_from(OutboxEmail)))


def test_a_purged_finding_is_not_recreated_or_realerted_but_a_recurrence_is(store, school, tmp_path):
    register = tmp_path / "personal.csv"
    register.write_text(f"address,owner\n{PUPIL_GMAIL},{PUPIL}\n", encoding="utf-8")
    settings = make_settings(personal_address_register=str(register))
    settings.alerts.dsl_emails, settings.privacy.closed_findings_retention_days = [DSL], 1
    old = mail(TEACHER, PUPIL_GMAIL, event_id="e1", message_id="<1>", when=NOW)
    source = ListSource("gmail", {"mail": batch(old)})
    ctx = FakeContext(store, settings, [source])
    assert run_audit(ctx, now=NOW).findings_new == 1
    findings_before, emails_before = counts(store)
    assert (findings_before, emails_before > 0) == (1, True)
    closed = NOW + timedelta(hours=2)
    with store.session() as s:
        f = s.scalars(select(Finding).where(Finding.rule == "mail.staff_to_pupil_personal")).one()
        repo.transition(s, f.id, "reviewing", DSL, "looking", now=closed)
        repo.transition(s, f.id, "resolved", DSL, "spoken to the teacher", now=closed)
        fingerprint = f.fingerprint
    assert "1" in str(jobs.retention_purge(ctx, closed + timedelta(days=2))["findings"])
    with store.session() as s:
        [stone] = s.scalars(select(FindingTombstone))
        assert (stone.fingerprint, stone.closed_at) == (fingerprint, closed)

    again = run_audit(ctx, now=closed + timedelta(days=2, minutes=15), full=True)  # Reports returns it again
    assert again.findings_new == 0 and counts(store) == (0, emails_before)

    later = mail(TEACHER, PUPIL_GMAIL, event_id="e2", message_id="<2>", when=closed + timedelta(days=3))
    source.batches["mail"] = batch(old, later)
    recurred = run_audit(ctx, now=closed + timedelta(days=3, hours=1), full=True)
    assert recurred.findings_new == 1
    with store.session() as s:
        f = s.scalars(select(Finding).where(Finding.rule == "mail.staff_to_pupil_personal")).one()
        assert f.fingerprint == fingerprint and f.occurrences == 1 and f.status == "new"
    # the recurrence is alerted, as for a finding still kept — even where SQLite gave it the purged one's id
    assert counts(store)[1] > emails_before


def test_purging_again_after_a_recurrence_updates_the_one_tombstone(store, school):
    settings = make_settings()
    settings.privacy.closed_findings_retention_days = 1
    for day in (0, 10):
        with store.session() as s:
            f = Finding(fingerprint="f" * 64, rule="mail.out_of_hours", severity="low", status="resolved",
                        staff=TEACHER, confidence="known", source="t", evidence={}, policy=[], occurrences=1,
                        first_seen=NOW, last_seen=NOW, closed_at=NOW + timedelta(days=day),
                        created_at=NOW, updated_at=NOW)
            s.add(f)
        with store.session() as s:
            repo.purge(s, settings, NOW + timedelta(days=day + 2))
    with store.session() as s:
        [stone] = s.scalars(select(FindingTombstone))
        assert stone.closed_at == NOW + timedelta(days=10) and stone.purged_at == NOW + timedelta(days=12)


def test_a_purged_finding_stays_purged_after_the_key_is_rotated(store, school, tmp_path):
    """Issue 11: the fingerprint embeds a keyed hash of the counterpart's address, which `rotate-key`
    changes; the tombstone (no address kept) must still match once the old key is gone."""
    register = tmp_path / "personal.csv"
    register.write_text(f"address,owner\n{PUPIL_GMAIL},{PUPIL}\n", encoding="utf-8")
    settings = make_settings(personal_address_register=str(register))
    settings.alerts.dsl_emails, settings.privacy.closed_findings_retention_days = [DSL], 1
    old = mail(TEACHER, PUPIL_GMAIL, event_id="e1", message_id="<1>", when=NOW)
    ctx = FakeContext(store, settings, [ListSource("gmail", {"mail": batch(old)})])
    assert run_audit(ctx, now=NOW).findings_new == 1
    closed = NOW + timedelta(hours=2)
    with store.session() as s:
        f = s.scalars(select(Finding)).one()
        assert "counterpart" in f.key_fields.split(",") and f.counterpart == PUPIL_GMAIL  # a keyed fingerprint
        repo.transition(s, f.id, "reviewing", DSL, "looking", now=closed)
        repo.transition(s, f.id, "false_positive", DSL, "a parent's shared account", now=closed)
        before = f.fingerprint
        inputs = (f.rule, tuple(f.key_fields.split(",")), f.object_key or "")
        people = {"staff": f.staff, "pupil": f.pupil, "guardian": f.guardian, "counterpart": f.counterpart}
    jobs.retention_purge(ctx, closed + timedelta(days=2))
    emails_before = counts(store)[1]

    new_key = Crypto.new_key()
    rotated = store.crypto.with_new_key(new_key)
    _use(store, rotated)
    assert rotate_all(store, rotated)["retired_hash_keys"] == 1
    _use(store, Crypto([new_key]))  # the old key removed from the file, as rotate-key allows
    assert repo._fingerprint(*inputs, store.crypto.address_hash, **people) != before  # the audit's new one

    again = run_audit(ctx, now=closed + timedelta(days=2, minutes=15), full=True)  # Reports returns it again
    assert again.findings_new == 0 and counts(store) == (0, emails_before)
    assert rotate_all(store, store.crypto)["retired_hash_keys"] == 0  # kept once, re-encrypted each rotation


def _use(store, crypto: Crypto) -> None:
    store.crypto = crypto
    set_crypto(crypto)

