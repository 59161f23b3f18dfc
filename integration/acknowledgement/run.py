"""One acknowledgement run: the round and its form, new responses, due emails, delivery.

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
from integration.errors import SafeChannelsError
from integration.logs import event
from integration.store.models_ops import Run
from integration.store.models_roster import Person

log = logging.getLogger("safechannels.acks")


@dataclass
class AckRunResult:
    doc: dict  # the `acks --json` document
    read: ReadResult
    queued: Queued = field(default_factory=Queued)
    problems: list[Problem] = field(default_factory=list)
    delivery: object | None = None  # integration.alerts.DeliveryResult when emails were delivered
    cancelled: int = 0  # queued requests cancelled because their recipient left

    @property
    def blocking(self) -> list[Problem]:
        return [p for p in self.problems if p.blocking]

    @property
    def status(self) -> str:
        """ok, or partial when a problem with the form stops matching (and so all emails)."""
        return "partial" if self.blocking else "ok"

    def as_json(self) -> dict:
        """A summary for the runs table (the scheduler's job record)."""
        delivery = self.delivery.as_json() if hasattr(self.delivery, "as_json") else None
        return {"policy_version": self.doc["policy_version"], "form_id": self.doc["form_id"],
                "acknowledged": self.doc["acknowledged"], "outstanding": self.doc["outstanding"],
                **self.read.as_json(), "queued": dict(self.queued.counts), "cancelled": self.cancelled,
                "delivery": delivery,
                "problems": [p.as_json() for p in self.problems]}


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
                        mailer=None) -> AckRunResult:
    """For the scheduler (and `acks`): read responses, then (``send``) queue and deliver every due email,
    or (``invite``, plain `acks`) only the first invitations of people never asked."""
    deliver = send or invite
    now = now or datetime.now(UTC)
    store, settings = ctx.store, ctx.settings
    run_id = _start(store, now)
    try:
        rnd = open_round(store, settings, now)
        source = ctx.acknowledgement_source()
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
                cancelled = cancel_leavers(s, settings, now)
            if not s.scalar(select(func.count()).select_from(Person)):
                problems.append(Problem("the roster is empty, so nobody is expected to acknowledge",
                                        "run 'python -m integration sync' first", blocking=False))
            st = standing(s, rnd, settings)
            if st.overdue(now) and not escalation_recipients(settings):
                problems.append(Problem("staff are overdue but nobody receives the escalation",
                                        "set [acknowledgement] escalate_to or [alerts] dsl_emails", blocking=False))
            if deliver and not any(p.blocking for p in problems):
                queued = (queue_due if send else queue_invitations)(s, st, settings, now)
            status = status_json(s, st)
        result = AckRunResult(status, read, queued, problems, cancelled=cancelled)
        if deliver:
            from integration.alerts import deliver_due

            result.delivery = deliver_due(ctx, now, mailer=mailer)
    except SafeChannelsError as exc:
        _finish(store, run_id, now, "failed", {}, str(exc))
        event(log, "acks.failed", logging.ERROR, error=str(exc), fix=getattr(exc, "fix", ""))
        raise
    except BaseException as exc:
        _finish(store, run_id, now, "failed", {}, f"{type(exc).__name__}: {exc}")
        raise
    _finish(store, run_id, now, result.status, result.as_json())
    for p in problems:
        event(log, "acks.problem", logging.WARNING, problem=p.problem, fix=p.fix)
    event(log, "acks.done", policy_version=status["policy_version"], acknowledged=status["acknowledged"],
          outstanding=status["outstanding"], new_responses=read.new, emails_queued=queued.total,
          emails_cancelled=cancelled)
    return result


def report(ctx, now: datetime | None = None) -> dict:
    """The compliance report from stored state (run `run_acknowledgement` first for fresh responses)."""
    now = now or datetime.now(UTC)
    with ctx.store.session() as s:
        from integration.acknowledgement.rounds import current_round

        rnd = current_round(s, ctx.settings.acknowledgement.policy_version)
        if rnd is None:
            from integration.errors import ConfigError

            raise ConfigError(f"no acknowledgement round for policy version "
                              f"{ctx.settings.acknowledgement.policy_version!r} yet: run 'python -m integration acks'")
        st = standing(s, rnd, ctx.settings)
        return compliance_report(s, st, ctx.settings, now, form_problems(rnd, ctx.settings))
