"""Google (here: the sandbox process) goes away after a sync; `audit` and `doctor` say so at once.

Defect 7: `audit` took 246 s, logged 1,156 lines and exited 0 having evaluated nothing.
Defect 8: `doctor` was silent for 539 s, then printed ~30 FAIL lines advising delegation fixes.
"""

from __future__ import annotations

import pytest
from faults_env import SandboxProcess, Service, wait_for
from sqlalchemy import select

from integration.store.models_ops import Run

pytestmark = pytest.mark.faults


def test_audit_and_doctor_name_the_unreachable_endpoint_quickly(tmp_path, database_url):
    sandbox = SandboxProcess(tmp_path / "sandbox")
    try:
        service = Service.for_sandbox(sandbox, tmp_path / "svc", database_url)
        sync = service.run("sync", "--json")
        assert sync.code == 0, sync.err
    finally:
        sandbox.stop()  # nothing answers there any more
    endpoint = sandbox.url.removeprefix("http://")

    audit = service.run("audit", "--json")
    assert audit.code == 3, audit.err
    assert audit.out == ""  # no JSON claiming a clean run of nothing
    errors = [ln for ln in audit.err.splitlines() if ln.startswith("error:")]
    assert errors == [f"error: audit evaluated nothing: reports: nothing answers at {endpoint} "
                      "(connection refused); nothing was read from it"]
    assert len([ln for ln in audit.err.splitlines() if "audit.stream_failed" in ln]) == 1  # one line per outage
    assert audit.seconds < 60  # was 246 s of retries; here it is mostly process start-up on a busy machine
    with service.store().session() as s:
        run = s.scalars(select(Run).where(Run.job == "audit")).one()
        assert run.status == "failed" and endpoint in run.error

    doctor = service.start("doctor")  # read as it streams: the first lines come before it finishes
    lines = wait_for(lambda: [ln for ln in doctor.lines if ln.startswith(("ok ", "FAIL"))][:3], 60,
                     "doctor's first lines")
    assert lines[0].startswith("ok  config")
    assert doctor.proc.wait(60) == 3
    out = [ln for ln in doctor.text().splitlines() if ln.startswith("FAIL")]
    assert [ln.split()[1:3] for ln in out if "reach" in ln] == [["reach", endpoint]]  # detected once
    google = [ln for ln in out if "reach" not in ln]  # tokens, APIs, audit sources, the Forms checks
    assert google and all(ln.endswith(f"skipped: nothing answers at {endpoint}") for ln in google)
    assert {ln.split()[1] for ln in google} >= {"token:", "api:", "audit", "forms:", "acknowledgement:"}
    assert "fix the delegation" not in doctor.text()
