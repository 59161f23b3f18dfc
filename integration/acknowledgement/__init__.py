"""Policy acknowledgement through a Google Form, one round per school and policy version.

- ``run_acknowledgement(ctx, now=None, *, send=True, mailer=None, school=None)`` — the scheduler's
  job: for each school (a single-school config has one; a trust's ``[[schools]]``, or ``school``
  alone) opens the round for its policy version (closing that school's previous one, whose history
  is kept), creates its form once if no ``form_id`` is configured, reads new responses, and
  (``send``) queues the due request / new-starter / reminder / escalation emails in the alerts
  outbox; then delivers them. Returns an `AckRunResult`: ``doc`` is the (first) school's `acks
  --json` document, ``docs`` every school's, ``runs`` every school's result.
- ``report(ctx, now=None, school=None)`` — a school's compliance report (JSON-able dict);
  ``reports`` every school's; ``compliance_csv(report or reports)``.
- ``checks(ctx)`` — `doctor` lines: delegation for Forms, the form readable and collecting emails,
  and the setting the API cannot make (respondents restricted to the school domain).

Who is asked: active staff, and people with role "other" (governors, volunteers, contractors)
under ``[acknowledgement] include_org_units`` (empty by default: staff only, because "other"
also holds service accounts and the IT admin). Leavers are no longer chased: a request still
queued for someone who has left is cancelled, not sent (leavers.py; the outbox row ends ``cancelled``).
"""

from __future__ import annotations

from integration.acknowledgement.report import compliance_csv
from integration.acknowledgement.run import AckRunResult, report, reports, run_acknowledgement
from integration.protocols import Check

FORM_CHECKS = ("forms: delegation", "acknowledgement: form")


def checks(ctx, google_down: str = "") -> list[Check]:
    """Live `doctor` checks for acknowledgement (one Forms API read when a form is known). When nothing
    answers at the Forms endpoint (``google_down``, already reported, or found here) they are skipped
    naming it, as doctor's other checks are, rather than failing with advice about delegation."""
    from integration.errors import Unreachable

    if google_down:
        return [Check(name, False, f"skipped: nothing answers at {google_down}", "") for name in FORM_CHECKS]
    try:
        return _checks(ctx)
    except Unreachable as exc:
        return [Check(f"reach {exc.endpoint}", False, str(exc), exc.fix),
                *(Check(name, False, f"skipped: nothing answers at {exc.endpoint}", "") for name in FORM_CHECKS)]


def _checks(ctx) -> list[Check]:
    source = ctx.acknowledgement_source()
    out: list[Check] = list(source.check()) if hasattr(source, "check") else []
    tenants = ctx.settings.tenants
    for tenant in tenants.schools:  # a trust: each school's form, named
        out += _form_checks(ctx, source, tenant, f" ({tenant.id})" if tenants.is_trust else "")
    return out


def _form_checks(ctx, source, tenant, suffix: str) -> list[Check]:
    from integration.acknowledgement.rounds import current_round, manual_steps
    from integration.errors import SourceError, Unreachable

    a = ctx.settings.acknowledgement
    form_id = tenant.form_id
    if not form_id:
        with ctx.store.session() as s:
            rnd = current_round(s, tenant.policy_version, tenant.id)
            form_id = rnd.form_id if rnd else ""
    if not form_id:
        return [Check(f"acknowledgement: form{suffix}", True, "no form yet: 'acks' will create one as "
                      f"{a.form_owner or ctx.settings.google.admin_subject}")]
    try:
        info = source.get_form(form_id)
    except Unreachable:
        raise
    except SourceError as exc:
        return [Check(f"acknowledgement: form{suffix}", False, str(exc), getattr(exc, "fix", ""))]
    ok = info.email_collection_type == "VERIFIED"
    return [Check(f"acknowledgement: form collects verified emails{suffix}", ok,
                  f"form {form_id}: emailCollectionType {info.email_collection_type or 'not set'}",
                  "" if ok else "Google Forms → the form → Settings → Responses → 'Collect email addresses' → "
                  "'Verified'"),
            Check(f"acknowledgement: respondents restricted to the school{suffix}", True,
                  "cannot be read through the Forms API: check it by hand", manual_steps(ctx.settings)[0])]


__all__ = ["AckRunResult", "checks", "compliance_csv", "report", "reports", "run_acknowledgement"]
