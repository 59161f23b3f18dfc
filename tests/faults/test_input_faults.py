"""Bad input, from outside, against the real commands (issue 11 defects 4, 5 and 13): a register
corrupted by an unbalanced quote is refused by `audit` with exit 2 naming the file and line while the
register loaded before stays in force; absurd settings exit 2 naming the key before anything runs."""

from __future__ import annotations

import shutil

from sqlalchemy import func, select

from integration.store.models_audit import PersonalAddress
from integration.store.models_ops import Run


def test_a_register_broken_by_a_quote_is_refused_and_the_loaded_one_stays(sandboxed, tmp_path):
    register = tmp_path / "personal.csv"
    shutil.copy(sandboxed.data["channels"]["personal_address_register"], register)
    sandboxed.set("channels", personal_address_register=str(register))
    assert sandboxed.run("sync", "--json").code == 0
    first = sandboxed.run("audit", "--json")
    assert first.code == 0, first.err
    loaded = first.json()["registers"]["personal_addresses"]["loaded"]
    assert loaded > 2

    lines = register.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = '"' + lines[2]  # an export tool quoted a field and never closed it, on line 3
    register.write_text("".join(lines), encoding="utf-8")
    refused = sandboxed.run("audit", "--json")
    assert refused.code == 2
    entry = refused.json()["registers"]["personal_addresses"]
    assert entry["status"] == "refused" and f"{register}:3:" in entry["refused"]
    assert "personal.csv:3" in refused.err and "stays in force" in refused.err
    store = sandboxed.store()
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(PersonalAddress)) == loaded
        run = s.scalars(select(Run).where(Run.job == "audit").order_by(Run.id.desc())).first()
        assert run.status == "partial" and "refused" in run.error


def test_absurd_settings_exit_2_naming_the_key(service):
    for section, key, value in (("privacy", "closed_findings_retention_days", -1),
                                ("audit", "initial_lookback_days", -5),
                                ("acknowledgement", "deadline_days", 10**15)):
        service.set(section, **{key: value})
        result = service.run("acks", "--json")
        assert result.code == 2 and f"[{section}] {key}" in result.err, result.err
        del service.data[section][key]
    service.write()
    service.config.write_bytes(service.config.read_text(encoding="utf-8").encode("utf-16"))
    result = service.run("findings")
    assert result.code == 2 and "UTF-16" in result.err
