"""Files inside shared drives, crawled over real HTTP on both generated schools: a teacher sharing a
shared-drive file with a pupil's personal address is found and attributed to the sharer (the Drive
event's actor; the drive's organizer for a share older than Reports' window), a public video in a shared
drive is found, internal shares are not; the crawl lists each drive as a member and reads only the
permissions that can hold more than the drive's membership, in batches; afterwards Drive events keep
it current and the files are re-crawled only when ``[audit] state_reread_hours`` says so."""

from __future__ import annotations

from sources_env import compare

from integration.audit import run_audit
from sandbox.activity import activity, audit_truth
from sandbox.shared_drives import share_in_drive_now


def _drive_truth(dom) -> list[dict]:
    ids = {f.id for files in activity(dom).drive_files.values() for f in files}
    return [t for t in audit_truth(dom) if t["object"] in ids]


def _by_file(env) -> dict[str, dict]:
    return {f["evidence"].get("file_id"): f for f in env.findings() if f["evidence"].get("shared_drive_id")}


def _augmented(act, drive_id: str) -> set[str]:
    """Items of a drive whose own or whose folders' sharing goes beyond the drive's members."""
    items = {f.id: f for f in act.drive_files.get(drive_id, [])}

    def shared(f) -> bool:
        return bool(f.perms) or (f.parent in items and shared(items[f.parent]))

    return {f.id for f in items.values() if not f.trashed and act.visible(f.modified) and shared(f)}


def test_shared_drive_breaches_are_found_attributed_to_the_sharer_and_decoys_are_not(school, school_variant):
    env = school("tiny", 5, shape=school_variant)
    result = run_audit(env.ctx)
    assert result.errors == [] and compare(env.findings(), env.domain) == []
    truth = _drive_truth(env.domain)
    rules = sorted(t["rule"] for t in truth)
    assert rules == ["drive.public_media"] + ["drive.shared_with_pupil_personal"] * 3, "plants were skipped"
    found = _by_file(env)
    for t in truth:
        f = found[t["object"]]
        assert (f["rule"], f["staff"], f["pupil"], f["counterpart"]) == (t["rule"], t["staff"], t["pupil"],
                                                                         t["counterpart"])
    how = sorted(found[t["object"]]["evidence"]["attributed_by"] for t in truth)
    assert how == ["actor", "actor", "actor", "organizer"]  # the old share has no event: the organizer answers
    assert env.server.problems() == []


def test_the_crawl_lists_each_drive_as_a_member_and_batches_only_the_permissions_it_needs(school):
    env = school("tiny", 6, shape="academy")
    run_audit(env.ctx)
    act = activity(env.domain)
    lists = [e for e in env.server.requests("drive.files.list") if e.query.get("corpora") == "drive"]
    assert {e.query["driveId"] for e in lists} == {d.id for d in act.shared_drives}
    for e in lists:
        assert (e.query["includeItemsFromAllDrives"], e.query["supportsAllDrives"]) == ("true", "true")
        drive = next(d for d in act.shared_drives if d.id == e.query["driveId"])
        assert e.subject in {p.email for p in drive.perms if p.role == "organizer"}
    drive_ids = {d.id for d in act.shared_drives}
    asked = [e for e in env.server.requests("drive.permissions.list") if e.path.split("/")[-2] not in drive_ids]
    assert all(e.batch and e.query["supportsAllDrives"] == "true" for e in asked)
    assert "permissionDetails" in asked[0].query["fields"]
    want = set().union(*(_augmented(act, d) for d in drive_ids))
    assert sorted(e.path.split("/")[-2] for e in asked) == sorted(want)  # each once, none without sharing
    assert env.server.problems() == []


def test_after_the_baseline_drive_events_keep_shared_drive_files_current(school):
    env = school("tiny", 7)
    run_audit(env.ctx)
    act = activity(env.domain)
    drive = next(d for d in act.shared_drives if act.drive_files.get(d.id) and len(d.perms) > 1)
    actor = next(p.email for p in drive.perms if act.roles.get(p.email) == "staff")
    env.server.reset_log()
    fid = share_in_drive_now(env.domain, actor, drive.id, "anyone", mime="video/mp4")
    second = run_audit(env.ctx)
    assert not [e for e in env.server.requests("drive.files.list") if e.query.get("corpora") == "drive"]
    new = _by_file(env)[fid]
    assert second.findings_new == 1 and (new["rule"], new["staff"]) == ("drive.public_media", actor)
    assert new["evidence"]["attributed_by"] == "actor"

    env.ctx.settings.audit.state_reread_hours = 0  # a full re-read is due: the crawl runs again, adds nothing
    env.ctx.__dict__.pop("_google_activity_source")
    env.server.reset_log()
    third = run_audit(env.ctx)
    again = {e.query["driveId"] for e in env.server.requests("drive.files.list") if e.query.get("corpora") == "drive"}
    assert again == {d.id for d in act.shared_drives} and third.findings_new == 0
    assert _by_file(env)[fid]["staff"] == actor  # the crawl (organizer) does not take the event's attribution away
    assert env.server.problems() == []


def test_a_drive_no_member_of_staff_can_be_read_as_is_left_for_the_next_run(school):
    env = school("tiny", 8)
    act = activity(env.domain)
    drive = next(d for d in act.shared_drives if act.drive_files.get(d.id))
    saved = list(drive.perms)
    drive.perms[:] = [p for p in drive.perms if act.roles.get(p.email) not in ("staff", "pupil")]
    result = run_audit(env.ctx)
    assert result.errors == []
    cursor = _files_cursor(env)
    assert drive.id not in cursor["drives"] and len(cursor["drives"]) == len(act.shared_drives) - 1
    drive.perms[:] = saved
    env.server.reset_log()
    run_audit(env.ctx)
    lists = [e for e in env.server.requests("drive.files.list") if e.query.get("corpora") == "drive"]
    assert [e.query["driveId"] for e in lists] == [drive.id]  # only the drive the pass had not covered
    assert drive.id in _files_cursor(env)["drives"]


def _files_cursor(env) -> dict:
    from sqlalchemy import select

    from integration.store.models_ops import Cursor

    with env.ctx.store.session() as s:
        row = s.scalars(select(Cursor).where(Cursor.stream == "drive.shared", Cursor.partition == "files")).one()
        return dict(row.cursor)

