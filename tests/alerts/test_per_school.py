"""A two-school trust (issue 13): alerts, bursts, digests and escalations reach only the DSLs and
deputies of the finding's schools — through a real SMTP server. A finding's schools are set
directly (``set_finding_schools``, as the audit writes them): placement itself is not the point here."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from integration.alerts import deliver_due, queue_finding_alerts, run_digest, run_escalation
from integration.settings import Trust
from integration.store.models_alerts import OutboxEmail
from integration.tenancy import Tenant
from integration.tenancy_store import set_finding_schools

DOMAIN = "northfield.sch.uk"  # conftest's [school] domain: the trust's one Google domain
K_DSL, K_DEP = f"dsl.kingsmead@{DOMAIN}", f"deputy.kingsmead@{DOMAIN}"
R_DSL, R_DEP = f"dsl.riverside@{DOMAIN}", f"deputy.riverside@{DOMAIN}"
SHARED = f"dsl.shared@{DOMAIN}"  # a DSL of both schools
LEAD = f"trust.lead@{DOMAIN}"
BASE = "https://safechannels.northfield.sch.uk"


@pytest.fixture
def trust(ctx):
    s = ctx.settings
    s.alerts.dsl_emails, s.alerts.deputy_emails = [], []  # a trust names its DSLs per school
    s.trust = Trust(name="Oakfield Learning Trust", safeguarding_leads=[LEAD])
    s.schools = [Tenant(id="kingsmead", name="Kingsmead Primary", org_units=["/Schools/Kingsmead"],
                        dsl_emails=[K_DSL], deputy_emails=[K_DEP]),
                 Tenant(id="riverside", name="Riverside Academy", org_units=["/Schools/Riverside"],
                        dsl_emails=[R_DSL], deputy_emails=[R_DEP])]
    return s


def placed(s, findings, schools: list[str], **kw):
    f = findings.add(s, **kw)
    set_finding_schools(s, f.id, schools)
    return f


def refs(message) -> set[int]:
    return {int(i) for i in re.findall(re.escape(BASE) + r"/findings/(\d+)", message.get_body(("plain",)).get_content())}


def outbox(store) -> list[OutboxEmail]:
    with store.session() as s:
        rows = list(s.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))
        s.expunge_all()
    return rows


def test_a_findings_alert_reaches_only_its_schools_dsl(store, ctx, smtp, findings, trust):
    with store.session() as s:
        k = placed(s, findings, ["kingsmead"])
        r = placed(s, findings, ["riverside"], rule="chat.staff_pupil_direct", severity="medium")
        assert queue_finding_alerts(s, [k, r], trust, findings.T0) == 2

    assert deliver_due(ctx, findings.T0).sent == 2

    [to_k] = smtp.handler.to(K_DSL)
    [to_r] = smtp.handler.to(R_DSL)
    assert refs(to_k) == {k.id} and refs(to_r) == {r.id}
    assert "at Kingsmead Primary." in to_k.get_body(("plain",)).get_content()
    assert [rcpts for _f, rcpts in smtp.handler.envelopes] == [[K_DSL], [R_DSL]]
    assert {(row.finding_id, row.school) for row in outbox(store)} == {(k.id, "kingsmead"), (r.id, "riverside")}


def test_a_finding_at_both_schools_alerts_each_dsl_once(store, ctx, smtp, findings, trust):
    trust.schools[1].dsl_emails = [R_DSL, SHARED]
    trust.schools[0].dsl_emails = [K_DSL, SHARED.upper()]
    with store.session() as s:
        both = placed(s, findings, ["kingsmead", "riverside"])
        queue_finding_alerts(s, [both], trust, findings.T0)
        queue_finding_alerts(s, [both], trust, findings.T0)  # routed once, ever

    assert deliver_due(ctx, findings.T0).sent == 3
    assert deliver_due(ctx, findings.T0 + timedelta(hours=1)).sent == 0

    assert sorted(r for _f, rcpts in smtp.handler.envelopes for r in rcpts) == sorted([K_DSL, R_DSL, SHARED])
    assert "at Kingsmead Primary and Riverside Academy." in smtp.handler.to(K_DSL)[0].get_body(("plain",)).get_content()
    assert {row.school for row in outbox(store)} == {None}  # several schools: no one school


def test_a_finding_in_no_school_goes_to_the_trusts_safeguarding_leads(store, ctx, smtp, findings, trust):
    with store.session() as s:
        central = placed(s, findings, [], staff=f"finance.officer@{DOMAIN}")
        queue_finding_alerts(s, [central], trust, findings.T0)

    assert deliver_due(ctx, findings.T0).sent == 1
    assert [rcpts for _f, rcpts in smtp.handler.envelopes] == [[LEAD]]
    assert "at Oakfield Learning Trust." in smtp.handler.to(LEAD)[0].get_body(("plain",)).get_content()


def test_a_burst_lists_each_dsl_their_own_schools_findings_only(store, ctx, smtp, findings, trust):
    trust.alerts.burst_threshold = 2
    with store.session() as s:
        ks = [placed(s, findings, ["kingsmead"]) for _ in range(3)]
        rs = [placed(s, findings, ["riverside"]) for _ in range(2)]  # 2, not over the threshold at Riverside
        both = placed(s, findings, ["kingsmead", "riverside"])
        queue_finding_alerts(s, [*ks, *rs, both], trust, findings.T0)

    deliver_due(ctx, findings.T0)

    [burst] = smtp.handler.to(K_DSL)
    assert burst["Subject"] == "[SafeChannels] 4 findings need your attention (4 high)"
    assert refs(burst) == {f.id for f in ks} | {both.id}
    to_r = smtp.handler.to(R_DSL)  # 3 at Riverside counting the shared one: a burst too
    assert len(to_r) == 1 and refs(to_r[0]) == {f.id for f in rs} | {both.id}


def test_under_the_threshold_at_one_school_a_burst_at_the_other_does_not_merge_them(store, ctx, smtp, findings,
                                                                                   trust):
    trust.alerts.burst_threshold = 2
    with store.session() as s:
        ks = [placed(s, findings, ["kingsmead"]) for _ in range(3)]
        r = placed(s, findings, ["riverside"])
        queue_finding_alerts(s, [*ks, r], trust, findings.T0)

    deliver_due(ctx, findings.T0)

    assert [refs(m) for m in smtp.handler.to(K_DSL)] == [{f.id for f in ks}]
    [single] = smtp.handler.to(R_DSL)
    assert refs(single) == {r.id} and f"ref F-{r.id}" in single["Subject"]


def test_each_dsls_digest_lists_only_their_schools_findings(store, ctx, smtp, findings, trust):
    with store.session() as s:
        k = placed(s, findings, ["kingsmead"], rule="mail.out_of_hours", severity="low")
        r = placed(s, findings, ["riverside"], rule="mail.out_of_hours", severity="low")
        queue_finding_alerts(s, [k, r], trust, findings.T0)
    with store.session() as s:
        out = run_digest(s, trust, findings.T0, force=True)
        assert (out.new, sorted(out.recipients)) == (2, sorted([K_DSL, R_DSL]))
    deliver_due(ctx, findings.T0)

    [dk], [dr] = smtp.handler.to(K_DSL), smtp.handler.to(R_DSL)
    assert refs(dk) == {k.id} and refs(dr) == {r.id}
    assert dk["Subject"].endswith(": 1 new, 0 updated")
    assert "digest for Kingsmead Primary:" in dk.get_body(("plain",)).get_content()
    assert {row.key.rsplit(":", 1)[1]: row.school for row in outbox(store)} == {K_DSL: "kingsmead",
                                                                                R_DSL: "riverside"}


def test_an_untriaged_high_alert_escalates_to_its_schools_deputies_only(store, ctx, smtp, findings, trust):
    with store.session() as s:
        k = placed(s, findings, ["kingsmead"])
        central = placed(s, findings, [])
        queue_finding_alerts(s, [k, central], trust, findings.T0)
    later = findings.T0 + timedelta(hours=25)
    with store.session() as s:
        assert run_escalation(s, trust, later) == 1  # the leads, alerted themselves, have no deputies
    with store.session() as s:
        assert run_escalation(s, trust, later + timedelta(hours=1)) == 0  # once
    deliver_due(ctx, later)

    [esc] = smtp.handler.to(K_DEP)
    assert esc["Subject"].startswith("[SafeChannels] Escalation:") and refs(esc) == {k.id}
    assert not smtp.handler.to(R_DEP)
