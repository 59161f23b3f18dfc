"""The sandbox's Meet events follow the documented call_ended shape (Meet audit appendix, Elastic's
test-meet.log), and the parser rebuilds its calls from them: outsiders of every documented kind are
counted, never taken for school people; a participant who rejoins is one person."""

from __future__ import annotations

from connectors.google.reports import meet_calls
from sandbox.activity import activity, meet_call
from sandbox.reports import _meet


def test_sandbox_call_ended_legs_parse_into_their_calls(school, school_variant):
    env = school("tiny", 7, shape=school_variant)
    act = activity(env.domain)
    s, p = act.staff[0], act.pupils[0]
    legs = meet_call("shape-test", [s, p], s, act.day_start(2), 1800, act.users, external=3, rejoin=(p,))
    items = [_meet(act, leg) for leg in legs]
    kinds = {(i["actor"].get("callerType"), next((x.get("value") for x in i["events"][0]["parameters"]
                                                   if x["name"] == "identifier_type"), None)) for i in items}
    assert kinds == {("USER", "email_address"), ("KEY", "email_address"), ("KEY", None), ("KEY", "phone_number")}
    (call,) = meet_calls(items)
    assert call.participants == tuple(sorted((s, p))) and call.external_count == 3
    assert len(call.event_ids) == 6 and call.duration_seconds == 1800 and call.organizer == s
    (plain,) = meet_calls([_meet(act, leg) for leg in legs[:3]])  # the pair and the rejoin: still one-to-one
    assert plain.participants == tuple(sorted((s, p))) and plain.external_count == 0


def test_a_call_is_judged_once_its_late_legs_are_in(school, school_variant):
    """A call that ended minutes ago may still gain a participant (each leg is logged when that person
    leaves, and Reports lags): it is judged on a later run, with everyone in it, once."""
    from datetime import UTC, datetime, timedelta

    from integration.audit import run_audit
    from sandbox.activity import call_now

    env = school("tiny", 8, shape=school_variant)
    act = activity(env.domain)
    s, p, p2 = act.staff[0], act.pupils[0], act.pupils[1]
    now = datetime.now(UTC)
    ended = now - timedelta(minutes=30)
    group = call_now(env.domain, "late-third", [s, p], ended=ended)  # the third person's leg is not in yet
    pair = call_now(env.domain, "late-pair", [s, p2], ended=ended)
    run_audit(env.ctx, now=now)
    meet = [f for f in env.findings() if f["rule"] == "meet.staff_pupil_one_to_one"]
    assert {f["evidence"]["conference_id"] for f in meet} & {group, pair} == set()  # not settled yet
    call_now(env.domain, "late-third", [p2], ended=ended + timedelta(minutes=5))  # the late leg
    run_audit(env.ctx, now=now + timedelta(hours=2))
    run_audit(env.ctx, now=now + timedelta(hours=3))
    meet = [f for f in env.findings() if f["rule"] == "meet.staff_pupil_one_to_one"]
    assert [f["evidence"]["conference_id"] for f in meet if f["evidence"]["conference_id"] in (group, pair)] == [pair]
    assert next(f for f in meet if f["evidence"]["conference_id"] == pair)["occurrences"] == 1
