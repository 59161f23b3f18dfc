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


# ------------------------------------------------ ranges, encodings, overrides (issue 11 defect 5)

OUT_OF_RANGE = [
    ("audit", "initial_lookback_days", -5), ("audit", "initial_lookback_days", 0),
    ("audit", "initial_lookback_days", 181), ("privacy", "closed_findings_retention_days", -1),
    ("privacy", "closed_findings_retention_days", 0), ("privacy", "activity_retention_days", 0),
    ("acknowledgement", "deadline_days", 10**15), ("acknowledgement", "deadline_days", 0),
    ("acknowledgement", "reminder_days", [3, 10**9]), ("acknowledgement", "reminder_days", [-1]),
    ("alerts", "escalate_after_hours", 0), ("alerts", "escalate_after_hours", 10**6),
    ("alerts", "burst_threshold", 0), ("alerts", "burst_threshold", 1001), ("alerts", "burst_window_minutes", 0),
    ("alerts", "burst_window_minutes", 1441),
    ("roster", "former_pupil_retention_days", -1), ("web", "session_idle_minutes", 0),
    ("web", "session_max_hours", 10**4),
]


@pytest.mark.parametrize(("section", "key", "value"), OUT_OF_RANGE)
def test_every_numeric_key_has_a_range_and_a_violation_names_the_key(tmp_path, section, key, value):
    raw = ",".join(map(str, value)) if isinstance(value, list) else str(value)
    with pytest.raises(ConfigError) as err:
        settings.load(write(tmp_path, GOOD), env={f"SAFECHANNELS__{section.upper()}__{key.upper()}": raw})
    [problem] = err.value.problems
    lo, hi = settings.RANGES[(section, key)]
    assert f"[{section}] {key}" in problem and f"between {lo} and {hi}" in problem


def test_every_integer_key_is_in_the_range_table():
    for sec, cls in settings._SECTION_TYPES.items():
        for key, tp in settings._field_types(cls).items():
            if tp is int or tp == list[int]:
                assert (sec, key) in settings.RANGES, f"[{sec}] {key} has no documented range"


def test_the_bounds_themselves_are_accepted(tmp_path):
    s = settings.load(write(tmp_path, GOOD + "\n[audit]\ninitial_lookback_days = 180\n"
                            "[privacy]\nclosed_findings_retention_days = 1\n"), env={})
    assert s.audit.initial_lookback_days == 180 and s.privacy.closed_findings_retention_days == 1


@pytest.mark.parametrize("raw", ["garbage", "mail.out_of_hours", "mail.out_of_hours=", "=high", ",,"])
def test_a_garbage_severity_overrides_variable_is_refused(tmp_path, raw):
    with pytest.raises(ConfigError, match="SAFECHANNELS__AUDIT__SEVERITY_OVERRIDES"):
        settings.load(write(tmp_path, GOOD), env={"SAFECHANNELS__AUDIT__SEVERITY_OVERRIDES": raw})


def test_a_well_formed_severity_overrides_variable_is_read(tmp_path):
    s = settings.load(write(tmp_path, GOOD), env={"SAFECHANNELS__AUDIT__SEVERITY_OVERRIDES":
                                                  "mail.out_of_hours=low, drive.public_media = medium"})
    assert s.audit.severity_overrides == {"mail.out_of_hours": "low", "drive.public_media": "medium"}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_a_utf16_config_is_refused_with_what_to_do(tmp_path, encoding):
    path = tmp_path / "safechannels.toml"
    path.write_bytes(GOOD.encode(encoding))
    with pytest.raises(ConfigError, match="UTF-16; save it as UTF-8"):
        settings.load(path, env={})


def test_a_utf8_byte_order_mark_is_fine_and_latin1_is_explained(tmp_path):
    path = tmp_path / "safechannels.toml"
    path.write_bytes(GOOD.encode("utf-8-sig"))
    assert settings.load(path, env={}).school.domain == "northfield.sch.uk"
    path.write_bytes(GOOD.replace("Northfield", "Northfi\xe9ld").encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        settings.load(path, env={})


def test_the_cli_exits_2_naming_the_key_or_the_encoding(tmp_path):
    import subprocess
    import sys

    path = write(tmp_path, GOOD + "\n[privacy]\nclosed_findings_retention_days = -1\n")
    run = subprocess.run([sys.executable, "-m", "integration", "--config", str(path), "findings"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "[privacy] closed_findings_retention_days" in run.stderr
    path.write_bytes(GOOD.encode("utf-16"))
    run = subprocess.run([sys.executable, "-m", "integration", "--config", str(path), "findings"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "UTF-16" in run.stderr and "Traceback" not in run.stderr


@pytest.mark.parametrize(("key", "value", "says"), [
    ("SAFECHANNELS__ALERTS__DSL_EMAILS", "dsl@gmail.com", "[alerts] dsl_emails: 'gmail.com' is not one of"),
    ("SAFECHANNELS__ALERTS__DEPUTY_EMAILS", "d@northfield.sch.uk.evil.com", "[alerts] deputy_emails"),
    ("SAFECHANNELS__WEB__DSL_USERS", "dsl\x00@northfield.sch.uk", "[web] dsl_users: an address contains a NUL byte"),
    ("SAFECHANNELS__ACKNOWLEDGEMENT__ESCALATE_TO", "head@evil.com@northfield.sch.uk", "[acknowledgement] escalate_to"),
])
def test_recipients_and_web_users_must_be_school_addresses_without_nul_bytes(tmp_path, key, value, says):
    """Issue 11 defects 3 and 13: no email to an outside address, and a NUL byte is named, not accepted."""
    with pytest.raises(ConfigError) as err:
        settings.load(write(tmp_path, GOOD), env={key: value})
    [problem] = err.value.problems
    assert says in problem and "\x00" not in problem


def test_an_approved_domain_counts_as_the_schools(tmp_path):
    s = settings.load(write(tmp_path, GOOD + '\n[channels]\napproved_email_domains = ["trust.org.uk"]\n'),
                      env={"SAFECHANNELS__ALERTS__DEPUTY_EMAILS": "ceo@trust.org.uk"})
    assert s.alerts.deputy_emails == ["ceo@trust.org.uk"]
