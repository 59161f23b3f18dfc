"""`python -m integration alerts [--digest] [--json]`: the operator contract."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from integration.alerts import queue_finding_alerts
from integration.settings import load


def _queue(cli, findings, *severities):
    store = cli.store()
    settings = load(cli.config, env={})
    with store.session() as s:
        fs = [findings.add(s, severity=sev, rule="mail.out_of_hours" if sev == "low" else
                           "mail.staff_personal_to_pupil") for sev in severities]
        queue_finding_alerts(s, fs, settings, datetime.now(UTC))
    return fs


def test_alerts_json_counts_and_exit_codes(cli, smtp, findings, capsys):
    cli.write_config(transport="smtp", smtp_url=smtp.url)
    _queue(cli, findings, "high", "low")
    assert cli.run("alerts", "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"sent": 1, "failed": 0, "queued": 0, "pending_digest": 1}

    smtp.stop()
    _queue(cli, findings, "medium")
    assert cli.run("alerts", "--json") == 0  # failed, but queued: retried later
    assert json.loads(capsys.readouterr().out) == {"sent": 0, "failed": 1, "queued": 1, "pending_digest": 1}

    smtp.start()
    cli.run("alerts", "--json", "--digest")
    out = json.loads(capsys.readouterr().out)
    assert out["pending_digest"] == 0 and out["sent"] == 2  # the digest, and the medium one: an explicit run
    # retries rows still in their backoff (issue 11 defect 12)
    assert any("Daily digest" in m["Subject"] for m in smtp.handler.messages)


def test_bad_transport_config_exits_2(cli, capsys):
    cli.write_config(transport="smtp", smtp_url="http://relay.example:25")
    assert cli.run("alerts", "--json") == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "smtp_url" in captured.err


def test_outbox_transport_for_the_demo(cli, findings, tmp_path, capsys):
    cli.write_config(transport="outbox", outbox_dir=str(tmp_path / "outbox"))
    _queue(cli, findings, "high")
    assert cli.run("alerts", "--json") == 0
    assert json.loads(capsys.readouterr().out)["sent"] == 1
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_worker_run_one_job_records_it(cli, smtp, findings, capsys):
    from sqlalchemy import select

    from integration.store.models_ops import Run

    cli.write_config(transport="smtp", smtp_url=smtp.url)
    _queue(cli, findings, "high")
    assert cli.run("worker", "--run", "alerts") == 0
    assert len(smtp.handler.messages) == 1
    with cli.store().session() as s:
        run = s.scalars(select(Run).where(Run.job == "worker.alerts")).one()
        assert run.status == "ok" and run.summary["sent"] == 1
