"""The form: created once per policy version (title, description with the policy link, one required
confirmation checkbox, verified emails), or an admin's existing form — checked, never changed."""

from __future__ import annotations

import pytest
from acks_env import POLICY_URL, T0

from connectors.google import forms as forms_connector
from integration.acknowledgement import checks, run_acknowledgement
from integration.errors import SourceError, SourceRefused
from sandbox.forms import forms_state, seed_form


def test_the_service_creates_one_form_per_version_and_reuses_it(acks_env):
    env = acks_env()
    first = run_acknowledgement(env.ctx, T0, send=False)
    forms = forms_state(env.domain).forms
    assert list(forms) == [first.doc["form_id"]]
    form = forms[first.doc["form_id"]]
    assert form.settings["emailCollectionType"] == "VERIFIED"  # the sandbox default here was DO_NOT_COLLECT
    assert "2025-10" in form.info["title"] and POLICY_URL in form.info["description"]
    (item,) = form.items
    question = item["questionItem"]["question"]
    assert question["required"] and question["choiceQuestion"]["type"] == "CHECKBOX"
    assert "I have read and understood" in question["choiceQuestion"]["options"][0]["value"]
    assert form.owner == env.ctx.settings.acknowledgement.form_owner
    assert [e.method_id for e in env.server.requests() if e.api == "forms"][:2] == [
        "forms.forms.create", "forms.forms.batchUpdate"]

    again = run_acknowledgement(env.ctx, T0, send=False)
    assert again.doc["form_id"] == first.doc["form_id"]
    assert len(forms) == 1 and len(env.server.requests("forms.forms.create")) == 1
    assert env.server.problems() == []


def test_a_refused_create_stores_nothing_and_is_reported(acks_env):
    env = acks_env()
    env.server.fail_api("forms", 403)
    with pytest.raises(SourceRefused) as info:
        run_acknowledgement(env.ctx, T0, send=False)
    assert info.value.exit_code == 3 and "enable the Google Forms API" in info.value.fix
    assert forms_state(env.domain).forms == {}


def test_a_failed_setup_is_finished_on_the_next_run_without_a_second_form(acks_env, monkeypatch):
    env = acks_env()
    good = forms_connector.setup_requests
    monkeypatch.setattr(forms_connector, "setup_requests", lambda *a: [{"createItem": {"item": {}}}])  # 400
    with pytest.raises(SourceError):
        run_acknowledgement(env.ctx, T0, send=False)
    (fid,) = forms_state(env.domain).forms
    assert forms_state(env.domain).forms[fid].items == []  # batchUpdate is atomic: nothing half-applied
    monkeypatch.setattr(forms_connector, "setup_requests", good)
    result = run_acknowledgement(env.ctx, T0, send=False)
    assert result.doc["form_id"] == fid and list(forms_state(env.domain).forms) == [fid]
    assert len(forms_state(env.domain).forms[fid].items) == 1
    assert len(env.server.requests("forms.forms.create")) == 1


def test_an_existing_form_that_does_not_collect_emails_is_explained(acks_env):
    env = acks_env(seed_roster=True)
    fid = seed_form(env.domain, env.ctx.settings.acknowledgement.form_owner, email_collection="DO_NOT_COLLECT")
    env.ctx.settings.acknowledgement.form_id = fid
    result = run_acknowledgement(env.ctx, T0, send=True)
    (problem,) = result.blocking
    assert "does not collect" in problem.problem and "Verified" in problem.fix
    assert result.queued.total == 0 and env.smtp.box.messages == []  # nobody chased on a form we cannot read
    assert forms_state(env.domain).forms[fid].settings["emailCollectionType"] == "DO_NOT_COLLECT"  # never changed
    lines = {c.name: c for c in checks(env.ctx)}
    assert not lines["acknowledgement: form collects verified emails"].ok
    assert "restrict" in lines["acknowledgement: respondents restricted to the school"].fix.lower()


def test_a_form_the_owner_cannot_open_is_refused_with_the_fix(acks_env):
    env = acks_env()
    fid = seed_form(env.domain, env.addr("someone.else"))
    env.ctx.settings.acknowledgement.form_id = fid
    with pytest.raises(SourceRefused) as info:
        run_acknowledgement(env.ctx, T0, send=False)
    assert "share the form" in info.value.fix


def test_only_one_run_creates_the_form(acks_env):
    from datetime import timedelta

    from sqlalchemy import update

    from integration.acknowledgement.rounds import open_round
    from integration.errors import TransientError
    from integration.store.models_acks import AckRound

    env = acks_env()
    rnd = open_round(env.ctx.store, env.ctx.settings, T0)
    with env.ctx.store.session() as s:  # another run is creating it right now
        s.execute(update(AckRound).where(AckRound.id == rnd.id).values(setup_state="claimed", checked_at=T0))
    with pytest.raises(TransientError):
        run_acknowledgement(env.ctx, T0 + timedelta(minutes=1), send=False)
    assert forms_state(env.domain).forms == {}
    result = run_acknowledgement(env.ctx, T0 + timedelta(minutes=11), send=False)  # that run died: take over
    assert list(forms_state(env.domain).forms) == [result.doc["form_id"]]


def test_doctor_skips_the_form_checks_when_nothing_answers_at_the_forms_endpoint(acks_env):
    """Issue 11 leftover: the form checks failed with delegation advice when the Forms endpoint was
    unreachable; like doctor's other checks they now name the endpoint once and are skipped."""
    env = acks_env()
    env.ctx.settings.acknowledgement.form_id = seed_form(env.domain, env.ctx.settings.acknowledgement.form_owner)
    endpoint = env.server.url.removeprefix("http://").rstrip("/")
    env.server.stop()  # nothing answers there any more
    lines = checks(env.ctx)
    assert [(c.name, c.ok) for c in lines] == [(f"reach {endpoint}", False), ("forms: delegation", False),
                                              ("acknowledgement: form", False)]
    assert "nothing answers at" in lines[0].detail and endpoint in lines[0].fix
    assert all(c.detail == f"skipped: nothing answers at {endpoint}" and not c.fix for c in lines[1:])
    already = checks(env.ctx, google_down=endpoint)  # doctor found it unreachable before: no second probe
    assert [c.detail for c in already] == [f"skipped: nothing answers at {endpoint}"] * 2
