"""What Reports gmail cannot show, said and not guessed at: outside co-recipients of mail that came from
outside the school exist only in that message's headers (Reports logs each school mailbox's delivery naming
that mailbox alone: tests/fixtures/reports/gmail.py [PER-RCPT]). In Reports mode those planted breaches are
not found, nothing is invented in their place, and the `Mail source` check (doctor, and the audit's log)
says what is missed and how to see it; read through mailboxes, the same school's breaches are all found.
Run on both generated schools."""

from __future__ import annotations

from sources_env import compare, key

from integration.audit import run_audit
from sandbox.activity import activity, set_reports_gmail


def test_reports_mode_misses_only_header_co_recipients_and_says_so(school, school_variant):
    env = school("tiny", 1, shape=school_variant)
    headers_only = {key(t) for t in activity(env.domain).truth if t.get("needs") == "mail_headers"}
    assert headers_only, "the generator plants breaches that only mail headers show"
    result = run_audit(env.ctx)
    assert result.errors == [] and compare(env.findings(), env.domain) == []
    assert not headers_only & {key(f) for f in env.findings()}
    check = {c.name: c for c in env.ctx.activity_sources()[0].check()}["Mail source"]
    assert check.ok and check.detail.startswith("reports:")
    assert "Missed in this mode: outside co-recipients" in check.detail and 'mail_source = "mailbox"' in check.detail

    # the remedy the check names: the same school read through its mailboxes finds them
    env.ctx.settings.audit.mail_source = "mailbox"
    env.ctx.__dict__.pop("_google_activity_source", None)
    set_reports_gmail(env.domain, False)  # the truth file then expects the header-only breaches too
    assert run_audit(env.ctx, full=True).errors == []
    assert headers_only <= {key(f) for f in env.findings()}
    assert compare(env.findings(), env.domain) == []
    check = {c.name: c for c in env.ctx.activity_sources()[0].check()}["Mail source"]
    assert check.detail.startswith("mailbox:") and "Missed" not in check.detail
