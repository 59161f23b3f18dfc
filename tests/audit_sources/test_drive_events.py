"""Drive events against the sandbox: a file type the log calls "unknown" is resolved by one batched
files.get (as the file's owner), so a public video of that type is still public media."""

from __future__ import annotations

from integration.audit import run_audit
from sandbox.activity import activity, share_now


def test_an_unknown_doc_type_is_resolved_by_one_batched_files_get(school):
    env = school("tiny", 5)
    run_audit(env.ctx)
    env.server.reset_log()
    run_audit(env.ctx)
    baseline = len(drive_batches(env))  # the shared-drive read, every run
    staff = activity(env.domain).staff[0]
    env.server.reset_log()
    ids = [share_now(env.domain, staff, "anyone", mime="video/x-msvideo") for _ in range(3)]
    result = run_audit(env.ctx)
    gets = env.server.requests("drive.files.get")
    assert sorted(e.path.rsplit("/", 1)[-1] for e in gets) == sorted(ids)
    assert all(e.batch for e in gets), "one batch, never one call per file"
    assert len(drive_batches(env)) == baseline + 1
    found = [f for f in env.findings() if f["rule"] == "drive.public_media" and f["evidence"].get("file_id") in ids]
    assert result.findings_new == 3 and {f["staff"] for f in found} == {staff}
    assert all(f["evidence"]["mime_type"] == "video/x-msvideo" for f in found)


def drive_batches(env) -> list:
    return [e for e in env.server.requests(include_batch_outer=True) if e.method_id == "batch" and "drive" in e.path]
