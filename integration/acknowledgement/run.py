"""One acknowledgement run: for each school, its round and form, new responses, due emails; then delivery.

The order matters: responses are read and stored before anything is decided, so nobody is
chased who has just responded; if the Forms API fails, the run stops before sending anything
and the stored state (responses, cursor, notices) is exactly as the previous run left it.
Requests still queued for people who have left are cancelled before anything new is queued
(the delivery worker re-checks each one too: see leavers.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select

from integration.acknowledgement.leavers import cancel_leavers
from integration.acknowledgement.matching import standing
from integration.acknowledgement.notices import Queued, escalation_recipients, queue_due, queue_invitations
from integration.acknowledgement.report import compliance_report, status_json
from integration.acknowledgement.responses import ReadResult, read_responses
from integration.acknowledgement.rounds import Problem, ensure_form, form_problems, open_round
from integration.acknowledgement.schools import chosen
from integration.errors import ConfigError, SafeChannelsError
from integration.logs import event
from integration.store.models_ops import Run
from integration.store.models_roster import Person
from integration.tenancy import Tenant

log = logging.getLogger("safechannels.acks")


@dataclass
class AckRunResult:
    """One school's run (``doc`` is its `acks --json` document). A trust's run is one of these per
    school in ``schools`` (config order); the first school's fields are the result's own, so a
    single-school caller reads it as before."""

    doc: dict  # the `acks --json` document
    read: ReadResult
    queued: Queued = field(default_factory=Queued)
    problems: list[Problem] = field(default_factory=list)
    delivery: object | None = None  # integration.alerts.DeliveryResult when emails were delivered
    cancelled: int = 0  # queued requests cancelled because their recipient left
    school: str = ""
    schools: list[AckRunResult] = field(default_factory=list)  # every school's run, this one first

    @property
    def blocking(self) -> list[Problem]:
        return [p for r in self.runs for p in r.problems if p.blocking]

    @property
    def runs(self) -> list[AckRunResult]:
        return self.schools or [self]

    @property
    def docs(self) -> list[dict]:
        return [r.doc for r in self.runs]

    @property
    def status(self) -> str:
        """ok, or partial when a problem with a form stops matching (and so all that school's emails)."""
        return "partial" if self.blocking else "ok"

    def _school_json(self) -> dict:
        return {"school": self.school, "policy_version": self.doc["policy_version"], "form_id": self.doc["form_id"],
                "acknowledged": self.doc["acknowledged"], "outstanding": self.doc["outstanding"],
                **self.read.as_json(), "queued": dict(self.queued.counts), "cancelled": self.cancelled,
                "problems": [p.as_json() for p in self.problems]}

    def as_json(self) -> dict:
        """A summary for the runs table (the scheduler's job record)."""
        delivery = self.delivery.as_json() if hasattr(self.delivery, "as_json") else None
        if len(self.runs) == 1:
            return {**self._school_json(), "delivery": delivery}
        return {"schools": [r._school_json() for r in self.runs], "delivery": delivery}


def _start(store, now: datetime) -> int:
    with store.session() as s:
        run = Run(job="acks", started_at=now, status="running", summary={}, error="")
        s.add(run)
        s.flush()
        return run.id


def _finish(store, run_id: int, now: datetime, status: str, summary: dict, error: str = "") -> None:
    with store.session() as s:
        run = s.get(Run, run_id)
        run.finished_at, run.status, run.summary, run.error = now, status, summary, error[:2000]


def run_acknowledgement(ctx, now: datetime | None = None, *, send: bool = True, invite: bool = False,
                        mailer=None, school: str | None = None) -> AckRunResult:
    """For the scheduler (and `acks`): for each school (``school`` alone, else all of them), read
    responses, then (``send``) queue every due email, or (``invite``, plain `acks`) only the first
    invitations of people never asked; then deliver. A school whose form the Forms API refuses does
    not stop the others: their emails are queued and delivered, then the refusal is raised."""
    deliver = send or invite
    now = now or datetime.now(UTC)
    store, settings = ctx.store, ctx.settings
    tenants = chosen(settings, school)  # an unknown --school: exit 2 before anything is recorded
    run_id = _start(store, now)
    runs: list[AckRunResult] = []
    refused: SafeChannelsError | None = None
    try:
        source = None
        for tenant in tenants:
            try:
                if source is None:
                    source = ctx.acknowledgement_source()
                runs.append(_run_school(ctx, source, tenant, now, send=send, invite=invite))
            except ConfigError:
                raise
            except SafeChannelsError as exc:
                if len(tenants) == 1:
                    raise
                event(log, "acks.school_failed", logging.ERROR, school=tenant.id, error=str(exc),
                      fix=getattr(exc, "fix", ""))
                if exc.args:  # the operator's message names the school (same class, same fix)
                    exc.args = (f"school {tenant.id}: {exc.args[0]}", *exc.args[1:])
                refused = refused or exc
        result = runs[0] if runs else AckRunResult({}, ReadResult())
        result.schools = runs if settings.tenants.is_trust else []
        if deliver:
            from integration.alerts import deliver_due

            result.delivery = deliver_due(ctx, now, mailer=mailer)
        if refused is not None:
            raise refused
    except SafeChannelsError as exc:
        _finish(store, run_id, now, "failed", {"schools": [r._school_json() for r in runs]} if runs else {}, str(exc))
        event(log, "acks.failed", logging.ERROR, error=str(exc), fix=getattr(exc, "fix", ""))
        raise
    except BaseException as exc:
        _finish(store, run_id, now, "failed", {}, f"{type(exc).__name__}: {exc}")
        raise
    _finish(store, run_id, now, result.status, result.as_json())
    return result


def _run_school(ctx, source, tenant: Tenant, now: datetime, *, send: bool, invite: bool) -> AckRunResult:
    """One school's round: open it, its form, its new responses, its due emails (queued, not sent)."""
    deliver = send or invite
    store, settings = ctx.store, ctx.settings
    rnd = open_round(store, settings, now, tenant)
    rnd = ensure_form(store, source, rnd, settings, now)
    problems = form_problems(rnd, settings)
    read = read_responses(store, ctx.crypto, source, rnd, now)
    if read.missing_email and rnd.collects_email:
        problems.append(Problem(f"{read.missing_email} response(s) arrived without an email address although "
                                "the form says it collects them", "check the form's email collection setting",
                                blocking=False))
    queued, cancelled = Queued(), 0
    with store.session() as s:
        if deliver:
            cancelled = cancel_leavers(s, settings, now, tenant.id if settings.tenants.is_trust else None)
        people = select(func.count()).select_from(Person)
        if settings.tenants.is_trust:
            people = people.where(Person.school == tenant.id)
        if not s.scalar(people):
            problems.append(Problem("the roster is empty, so nobody is expected to acknowledge",
                                    "run 'python -m integration sync' first", blocking=False)
                            if not settings.tenants.is_trust else
                            Problem(f"nobody in the roster is placed in school {tenant.id}, so nobody there is "
                                    "expected to acknowledge", f"run 'python -m integration sync' first, and check "
                                    f"[[schools]] {tenant.id} org_units / domain", blocking=False))
        st = standing(s, rnd, settings)
        if st.overdue(now) and not escalation_recipients(settings, tenant.id):
            problems.append(Problem("staff are overdue but nobody receives the escalation",
                                    "set [acknowledgement] escalate_to or " +
                                    (f"[[schools]] {tenant.id} dsl_emails" if settings.tenants.is_trust
                                     else "[alerts] dsl_emails"), blocking=False))
        if deliver and not any(p.blocking for p in problems):
            queued = (queue_due if send else queue_invitations)(s, st, settings, now)
        status = status_json(s, st)
    for p in problems:
        event(log, "acks.problem", logging.WARNING, school=tenant.id, problem=p.problem, fix=p.fix)
    event(log, "acks.done", school=tenant.id, policy_version=status["policy_version"],
          acknowledged=status["acknowledged"], outstanding=status["outstanding"], new_responses=read.new,
          emails_queued=queued.total, emails_cancelled=cancelled)
    return AckRunResult(status, read, queued, problems, cancelled=cancelled, school=tenant.id)


def report(ctx, now: datetime | None = None, school: str | None = None) -> dict:
    """The compliance report of ``school`` (default: the single school's, or a trust's first school;
    see `reports` for every school) from stored state (run `run_acknowledgement` first for fresh responses)."""
    now = now or datetime.now(UTC)
    tenant = chosen(ctx.settings, school)[0]
    with ctx.store.session() as s:
        from integration.acknowledgement.rounds import current_round

        rnd = current_round(s, tenant.policy_version, tenant.id)
        if rnd is None:
            raise ConfigError(f"no acknowledgement round for policy version {tenant.policy_version!r}"
                              + (f" at school {tenant.id}" if ctx.settings.tenants.is_trust else "")
                              + " yet: run 'python -m integration acks'")
        st = standing(s, rnd, ctx.settings)
        return compliance_report(s, st, ctx.settings, now, form_problems(rnd, ctx.settings))


def reports(ctx, now: datetime | None = None, school: str | None = None) -> list[dict]:
    """Every chosen school's compliance report, in config order."""
    return [report(ctx, now, t.id) for t in chosen(ctx.settings, school)]
