"""An exception added on a finding's page is honoured by the next audit exactly like a register row:
the finding stays suppressed through new activity, a new finding between the same two people is
created suppressed with the exception's id, nothing is alerted, a re-import of the exceptions
register does not drop it, and after it expires the next activity brings the finding back."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from audit_env import NOW, PUPIL, PUPIL_GMAIL, TEACHER, FakeContext, ListSource, mail, make_settings
from sqlalchemy import select

from integration import exceptions
from integration.audit import run_audit
from integration.errors import InputError
from integration.identity import Identity
from integration.records import ActivityBatch
from integration.registers import ExceptionIndex
from integration.rules.base import Candidate
from integration.store.models_alerts import AlertedFinding
from integration.store.models_audit import ChannelException, Finding
from integration.store.models_webapp import FindingException

DSL = "dsl@northfield.sch.uk"


@pytest.fixture
def registers(tmp_path):
    path = tmp_path / "personal.csv"
    path.write_text(f"address,owner\n{PUPIL_GMAIL},{PUPIL}\n", encoding="utf-8")
    return path


def source(*batches):
    return ListSource("gmail", {"mail": list(batches)})


def batch(event_id: str, message_id: str, **kw) -> ActivityBatch:
    return ActivityBatch("mail", [mail(TEACHER, PUPIL_GMAIL, event_id=event_id, message_id=message_id, **kw)],
                         cursor={"e": event_id}, partition=TEACHER, complete=True)


def all_findings(store) -> list[Finding]:
    with store.session() as s:
        return list(s.scalars(select(Finding).order_by(Finding.id)))


def add(store, finding_id: int, **kw):
    values = {"approved_by": "Mrs Head (Headteacher)", "reason": "Mr Jones is Amy's uncle",
              "expires": (NOW + timedelta(days=20)).date(), "actor": DSL, "note": "Family link confirmed",
              "now": NOW} | kw
    with store.session() as s:
        return exceptions.add_from_finding(s, store.crypto, finding_id, **values).id


def test_the_next_audit_honours_an_exception_added_on_the_page(store, school, registers, tmp_path):
    ctx = FakeContext(store, make_settings(personal_address_register=str(registers)), [source(batch("e1", "<1>"))])
    run_audit(ctx, now=NOW)
    (f,) = all_findings(store)
    assert f.status == "new"
    exc_id = add(store, f.id)
    (f,) = all_findings(store)
    assert (f.status, f.exception_id) == ("suppressed", exc_id)
    with store.session() as s:
        alerted_before = len(list(s.scalars(select(AlertedFinding))))

    # a register re-import replaces channel_exceptions wholesale: the page's exception must survive it
    register = tmp_path / "exceptions.csv"
    register.write_text("staff,counterpart,reason,approved_by,expires\n", encoding="utf-8")
    ctx.settings.channels.exceptions_register = str(register)
    ctx.sources = [source(batch("e2", "<2>", when=NOW + timedelta(days=1)))]
    run_audit(ctx, now=NOW + timedelta(days=1))
    (f,) = all_findings(store)
    assert (f.status, f.exception_id, f.occurrences) == ("suppressed", exc_id, 2)
    with store.session() as s:
        assert s.scalars(select(ChannelException)).first() is None
        assert s.get(FindingException, exc_id) is not None
        assert len(list(s.scalars(select(AlertedFinding)))) == alerted_before  # nothing alerted

    # after the expiry, new activity reopens it for the DSL, as an expired register row would
    later = NOW + timedelta(days=25)
    ctx.sources = [source(batch("e3", "<3>", when=later))]
    run_audit(ctx, now=later)
    (f,) = all_findings(store)
    assert (f.status, f.exception_id, f.occurrences) == ("new", None, 3)


def test_a_new_finding_between_the_same_people_is_created_suppressed(store, school, registers):
    ctx = FakeContext(store, make_settings(personal_address_register=str(registers)), [source(batch("e1", "<1>"))])
    run_audit(ctx, now=NOW)
    (f,) = all_findings(store)
    exc_id = add(store, f.id)
    with store.session() as s:
        identity = Identity.load(s, ctx.settings, store.crypto, NOW)
        index = ExceptionIndex.load(s, identity, NOW.date())
    # a Drive share to the same pupil's personal address (another rule, same two people)
    drive = Candidate("drive.shared_with_pupil_personal", staff=TEACHER, pupil=PUPIL, counterpart=PUPIL_GMAIL)
    assert index.match(drive) == exc_id
    assert index.match(Candidate("drive.shared_with_pupil_personal", staff=TEACHER, counterpart="x@gmail.com")) is None


@pytest.mark.parametrize("change, problem", [
    ({"approved_by": " "}, "who approved"),
    ({"reason": ""}, "reason"),
    ({"note": ""}, "triage note"),
    ({"expires": NOW.date()}, "in the future"),
    ({"expires": date(2040, 1, 1)}, "at most"),
])
def test_an_incomplete_exception_is_refused_and_changes_nothing(store, school, registers, change, problem):
    ctx = FakeContext(store, make_settings(personal_address_register=str(registers)), [source(batch("e1", "<1>"))])
    run_audit(ctx, now=NOW)
    (f,) = all_findings(store)
    with pytest.raises(InputError, match=problem):
        add(store, f.id, **change)
    (f,) = all_findings(store)
    assert f.status == "new"
    with store.session() as s:
        assert s.scalars(select(FindingException)).first() is None
