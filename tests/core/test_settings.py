"""Settings: the TOML contract, environment overrides, and one clear error listing every problem."""

from __future__ import annotations

import pytest

from integration import settings
from integration.errors import ConfigError

GOOD = """
[school]
name = "Northfield Academy"
domain = "northfield.sch.uk"
timezone = "Europe/London"

[roster]
staff_org_units = ["/Staff"]
pupil_org_units = ["/Pupils"]

[alerts]
dsl_emails = ["dsl@northfield.sch.uk"]
transport = "outbox"
"""


def write(tmp_path, text: str):
    p = tmp_path / "safechannels.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_a_complete_config_loads_with_defaults_for_the_rest(tmp_path):
    s = settings.load(write(tmp_path, GOOD), env={})
    assert s.school.domain == "northfield.sch.uk"
    assert s.acknowledgement.reminder_days == [3, 7, 12]
    assert s.approved_domains == ["northfield.sch.uk"]
    assert "secret" not in repr(s).lower()


def test_environment_overrides_any_key_with_lists_as_commas(tmp_path):
    env = {"SAFECHANNELS__ALERTS__DSL_EMAILS": "a@northfield.sch.uk, b@northfield.sch.uk",
           "SAFECHANNELS__AUDIT__INITIAL_LOOKBACK_DAYS": "7",
           "SAFECHANNELS__CHANNELS__CHAT_APPROVED": "true"}
    s = settings.load(write(tmp_path, GOOD), env=env)
    assert s.alerts.dsl_emails == ["a@northfield.sch.uk", "b@northfield.sch.uk"]
    assert s.audit.initial_lookback_days == 7
    assert s.channels.chat_approved is True


def test_every_problem_is_named_with_file_key_and_expectation(tmp_path):
    path = write(tmp_path, GOOD + '\n[audit]\ninitial_lookback_days = "thirty"\nmail_sorce = "auto"\n[bogus]\nx = 1\n')
    with pytest.raises(ConfigError) as err:
        settings.load(path, env={"SAFECHANNELS__ALERTS__ESCALATE_AFTER_HOURS": "soon"})
    text = str(err.value)
    assert str(path) in text
    assert "[audit] initial_lookback_days must be an integer" in text
    assert "unknown key 'mail_sorce' in [audit]" in text
    assert "unknown section [bogus]" in text
    assert "SAFECHANNELS__ALERTS__ESCALATE_AFTER_HOURS" in text
    assert len(err.value.problems) == 4


def test_values_that_parse_but_cannot_work_are_refused(tmp_path):
    bad = GOOD.replace('timezone = "Europe/London"', 'timezone = "Europe/Londn"') + '\n[alerts2]\n'
    with pytest.raises(ConfigError) as err:
        settings.load(write(tmp_path, bad.replace("[alerts2]\n", "")
                            .replace('transport = "outbox"', 'transport = "pigeon"\ndigest_time = "7.30"')), env={})
    text = str(err.value)
    assert "timezone" in text and "transport must be one of smtp, gmail, outbox" in text and "digest_time" in text


def test_missing_file_and_bad_toml_say_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="init"):
        settings.load(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        settings.load(write(tmp_path, "[school\n"), env={})


def test_config_path_from_environment(tmp_path, monkeypatch):
    path = write(tmp_path, GOOD)
    s = settings.load(None, env={"SAFECHANNELS_CONFIG": str(path)})
    assert s.source_path == path.resolve()
