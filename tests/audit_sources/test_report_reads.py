"""Reports reads at the minimum (issue 10): a window is one chain of pages, split only where the chain is
long, each part's edges cut so an event exactly on a boundary is read once; calls are counted against
the fewest pages the sandbox's own event counts allow (`benchmarks.reports_reads.minimum`)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sources_env import compare

from benchmarks.reports_reads import minimum, target
from connectors.google import report_windows
from connectors.google.drive_events import EVENT_NAMES, drive_items
from connectors.google.report_windows import Query
from integration.audit import run_audit
from sandbox.activity import activity, share_now
from sandbox.activity_model import utc
from sandbox.reports import event_count

CAP = 40  # the sandbox's page size for activities.list here: long chains from a small school


def _reports_calls(env) -> Counter:
    return Counter(e.path.rsplit("/", 1)[-1] for e in env.server.requests("reports.activities.list"))


def test_a_first_and_a_later_audit_read_reports_within_the_minimum(school):
    env = school("tiny", 3, page_caps={"reports.activities.list": CAP})
    first = run_audit(env.ctx)
    assert first.errors == [] and compare(env.findings(), env.domain) == []
    asked = env.server.requests("reports.activities.list")
    start = min(e.query["startTime"] for e in asked)
    end = max(e.query["endTime"] for e in asked)
    floor = minimum(env.domain, utc(start), utc(end), page=CAP)
    calls = _reports_calls(env)
    assert sum(n for n, _m in floor.values()) > 20 * CAP, "long chains: the window is split"
    assert sum(calls.values()) <= target(floor), (calls, floor)
    everything = event_count(env.domain, "gmail", utc(start), utc(end), "delivery")  # opens (type 7) too
    assert everything > 1.15 * floor["gmail"][0]
    assert calls["gmail"] <= 1.25 * floor["gmail"][1] + 1
    probes = sum(1 for e in asked if e.path.endswith("/gmail") and e.query.get("maxResults") == "1")
    reads = [e for e in asked if e.path.endswith("/gmail") and e.query.get("maxResults") != "1"]
    assert len(reads) == calls["gmail"] - probes  # the mail-source probe is asked either way
    # the server filtered: every read asks for the types the rules use, so opens (type 7) never come back
    assert all("event_info.mail_event_type<=2" in e.query.get("filters", "") for e in reads), \
        {e.query.get("filters") for e in reads}
    assert {e.query.get("filters") for e in asked if e.path.endswith("/gmail") and e.query.get("maxResults") != "1"} \
        == {"event_info.mail_event_type<=2"}
    assert all("eventName" not in e.query for e in asked if e.path.endswith("/drive"))
    assert env.server.problems() == []

    env.server.reset_log()
    second = run_audit(env.ctx)
    assert (second.findings_new, second.errors) == (0, [])
    calls = _reports_calls(env)
    assert calls and max(calls.values()) == 1, calls  # a short window: one call per application


def test_events_exactly_on_part_edges_are_read_once(school, monkeypatch):
    env = school("tiny", 2, page_caps={"reports.activities.list": 5})
    monkeypatch.setattr(report_windows, "CHAIN", 2)
    act = activity(env.domain)
    windows = env.ctx.activity_sources()[0].windows
    query = Query("drive", EVENT_NAMES)
    start, end = act.start + timedelta(days=1, milliseconds=7), act.horizon - timedelta(hours=2)
    parts = list(windows.plan(query, start, end))
    assert len(parts) > 3 and all(p.first is None for p in parts)
    assert [p.start for p in parts[1:]] == [p.end for p in parts[:-1]] and (parts[0].start, parts[-1].end) == (start, end)

    owner, address = act.staff[0], act.staff[1]
    on_edges = {share_now(env.domain, owner, address, when=p.start): p.start for p in parts}
    just_inside = share_now(env.domain, owner, address, when=end - timedelta(milliseconds=1))
    at_end = share_now(env.domain, owner, address, when=end)  # the next window's first instant

    read = [act for p in parts for page in windows.read(query, p) for act in page]
    ids = Counter(item.item_id for a in read for item in drive_items(a))
    assert {fid: ids[fid] for fid in on_edges} == dict.fromkeys(on_edges, 1)
    assert ids[just_inside] == 1 and at_end not in ids
    assert len(read) == event_count(env.domain, "drive", start, end)  # every activity once, none twice
    assert env.server.problems() == []


def test_gmail_is_asked_again_without_a_filter_the_tenant_refuses(school):
    env = school("tiny", 1)
    act = activity(env.domain)
    windows = env.ctx.activity_sources()[0].windows
    monkey_filters = dict(report_windows.FILTERS)
    try:
        report_windows.FILTERS["gmail"] = "event_info.mail_event_type=2"  # "=" is not an operator: 400
        query = Query("gmail", ("delivery",))
        start, end = act.start, act.horizon - timedelta(hours=1)
        got = [a for p in windows.plan(query, start, end) for page in windows.read(query, p) for a in page]
    finally:
        report_windows.FILTERS.clear()
        report_windows.FILTERS.update(monkey_filters)
    assert "gmail" in windows.refused_filters
    assert len(got) == event_count(env.domain, "gmail", start, end, "delivery")


def test_names_mostly_absent_from_the_window_are_asked_for_one_by_one(school, monkeypatch):
    """A real tenant's drive log is mostly views and edits: when the first page shows the names a stream needs
    are a small share of the window, each is asked for by eventName instead of reading everything."""
    env = school("tiny", 2, page_caps={"reports.activities.list": 5})
    monkeypatch.setattr(report_windows, "CHAIN", 2)
    act = activity(env.domain)
    windows = env.ctx.activity_sources()[0].windows
    rare = ("change_user_access_hierarchy_reconciled", "change_document_visibility")  # link shares: few
    query = Query("drive", rare)
    start, end = act.start, act.horizon - timedelta(hours=1)
    parts = list(windows.plan(query, start, end))
    assert parts and all(p.named for p in parts)
    env.server.reset_log()
    read = [a for p in parts for page in windows.read(query, p) for a in page]
    asked = {e.query.get("eventName") for e in env.server.requests("reports.activities.list")}
    assert asked == set(rare)
    expected = sum(event_count(env.domain, "drive", start, end, name) for name in rare)
    assert len(read) == expected and expected > 0
    assert all(any(ev["name"] in rare for ev in a["events"]) for a in read)


def test_a_gmail_window_longer_than_30_days_is_asked_in_chunks_google_accepts(school):
    """Google refuses gmail windows over 30 days (400); a 45-day look-back is read in chunks, edges included."""
    env = school("tiny", 1)
    act = activity(env.domain)
    windows = env.ctx.activity_sources()[0].windows
    query = Query("gmail", ("delivery",))
    start, end = act.horizon - timedelta(days=45), act.horizon - timedelta(hours=1)
    parts = list(windows.plan(query, start, end))
    assert len(parts) == 2 and (parts[0].start, parts[0].end, parts[1].end) == (start, parts[1].start, end)
    read = [a for p in parts for page in windows.read(query, p) for a in page]
    assert len(read) == sum(event_count(env.domain, "gmail", start, end, "delivery", f"event_info.mail_event_type=={k}")
                            for k in (1, 2))
    assert env.server.problems() == []
