"""Schools as tenants: [trust] and [[schools]] in the config, placement of people, and a
single-school config that keeps working unchanged as a trust of one."""

from __future__ import annotations

import pytest

from integration import settings
from integration.errors import ConfigError

SINGLE = """
[school]
name = "Northfield Academy"
domain = "northfield.sch.uk"

[alerts]
dsl_emails = ["dsl@northfield.sch.uk"]
transport = "outbox"

[acknowledgement]
policy_version = "2025-10"
"""

TRUST = """
[school]
name = "Oakfield Learning Trust"
domain = "oakfield.org.uk"

[trust]
name = "Oakfield Learning Trust"
safeguarding_leads = ["trust.dsl@oakfield.org.uk"]

[acknowledgement]
policy_version = "2025-10"

[alerts]
transport = "outbox"

[[schools]]
id = "kingsmead"
name = "Kingsmead Academy"
org_units = ["/Schools/Kingsmead"]
dsl_emails = ["dsl.kingsmead@oakfield.org.uk"]
working_hours = "07:30-18:00"

[[schools]]
id = "riverside"
name = "Riverside Primary"
domain = "riverside.sch.uk"
dsl_emails = ["dsl@riverside.sch.uk"]
deputy_emails = ["deputy@riverside.sch.uk"]
policy_version = "2026-01"
form_id = "form-riverside"
"""


def load(tmp_path, text: str):
    p = tmp_path / "safechannels.toml"
    p.write_text(text, encoding="utf-8")
    return settings.load(p, env={})


def test_a_single_school_config_is_one_tenant_named_after_its_domain(tmp_path):
    t = load(tmp_path, SINGLE).tenants
    assert not t.is_trust and t.ids == ["northfield"]
    one = t.get("northfield")
    assert one.dsl_emails == ["dsl@northfield.sch.uk"] and one.policy_version == "2025-10"
    assert t.school_for("anyone@northfield.sch.uk", "/Anywhere") == "northfield"  # everyone is in it


def test_school_id_can_be_set_for_a_single_school(tmp_path):
    assert load(tmp_path, SINGLE.replace('domain = "northfield.sch.uk"',
                                         'domain = "northfield.sch.uk"\nid = "nfa"')).tenants.ids == ["nfa"]


def test_a_trust_places_people_by_domain_then_by_the_deepest_org_unit(tmp_path):
    s = load(tmp_path, TRUST)
    t = s.tenants
    assert t.is_trust and t.ids == ["kingsmead", "riverside"]
    assert t.school_for("a.teacher@oakfield.org.uk", "/Schools/Kingsmead/Staff") == "kingsmead"
    assert t.school_for("a.teacher@oakfield.org.uk", "/schools/kingsmead") == "kingsmead"  # OU paths: any case
    assert t.school_for("a.teacher@oakfield.org.uk", "/Schools/Kingsmeadow") is None  # a prefix is not a parent
    assert t.school_for("pupil@riverside.sch.uk", "/Pupils") == "riverside"
    assert t.school_for("ceo@oakfield.org.uk", "/Central") is None  # trust staff: in no school
    assert "riverside.sch.uk" in s.approved_domains


def test_a_school_inherits_what_it_does_not_say(tmp_path):
    t = load(tmp_path, TRUST).tenants
    k, r = t.get("kingsmead"), t.get("riverside")
    assert (k.policy_version, k.working_hours) == ("2025-10", "07:30-18:00")
    assert (r.policy_version, r.form_id, r.working_hours) == ("2026-01", "form-riverside", "07:00-21:00")
    assert t.recipients({"kingsmead", "riverside"}) == (
        ["dsl.kingsmead@oakfield.org.uk", "dsl@riverside.sch.uk"], ["deputy@riverside.sch.uk"])


@pytest.mark.parametrize(("change", "named"), [
    (('id = "riverside"', 'id = "kingsmead"'), "used by two schools"),
    (('id = "riverside"', 'id = "River Side"'), "id must be lower-case"),
    (('domain = "riverside.sch.uk"', 'domain = ""'), "give org_units"),
    (('org_units = ["/Schools/Kingsmead"]', 'org_units = ["Schools/Kingsmead"]'), "start with '/'"),
    (('dsl_emails = ["dsl@riverside.sch.uk"]', 'dsl_emails = ["dsl@gmail.com"]'), "not one of the school's domains"),
    (('dsl_emails = ["dsl@riverside.sch.uk"]', 'dsl_emails = []'), "would reach nobody"),
    (('working_hours = "07:30-18:00"', 'working_hours = "7-18"'), "working_hours must be"),
    (('name = "Riverside Primary"', 'name = "Riverside Primary"\ncolour = "blue"'), "unknown key 'colour'"),
    (('org_units = ["/Schools/Kingsmead"]', 'org_units = "/Schools/Kingsmead"'), "org_units must be a list of strings"),
    (('name = "Oakfield Learning Trust"\nsafeguarding', 'safeguarding'), "[trust] name is required"),
])
def test_each_school_problem_names_the_school_and_the_key(tmp_path, change, named):
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, TRUST.replace(*change))
    assert named in str(exc.value)
