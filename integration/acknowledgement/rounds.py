"""Rounds: one per (school, policy version), each with its form — configured, or created once.

A single-school config has one school; a trust's schools each have their own round, with the
school's ``policy_version`` and ``form_id`` (inherited from ``[acknowledgement]`` when not set).

Why the setup states: creating the form is two API calls (create, then one atomic
batchUpdate). The round row exists before the first call and the new form id is stored
as soon as it is known, so a failure between the two calls is finished on the next run
(`configure_form`) instead of creating a second form for the same version. (A crash in the
instant between Google creating the form and us storing its id can still leave one unused
form in the owner's Drive; nothing else can.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from integration.acknowledgement.matching import standing
from integration.acknowledgement.schools import school_name
from integration.errors import ConfigError, TransientError
from integration.logs import event
from integration.protocols import AcknowledgementSource
from integration.records import FormInfo
from integration.settings import Settings
from integration.store import Store
from integration.store.models_acks import AckRound
from integration.tenancy import Tenant

log = logging.getLogger("safechannels.acks")

CLAIM_TTL = timedelta(minutes=10)


@dataclass
class Problem:
    """Something about the form a human must fix, with the fix."""

    problem: str
    fix: str
    blocking: bool = True  # True: responses cannot be matched, so nobody is chased

    def as_json(self) -> dict:
        return {"problem": self.problem, "fix": self.fix, "blocking": self.blocking}


def form_texts(settings: Settings, rnd: AckRound | None = None) -> tuple[str, str, str, str]:
    """(title, description, policy_url, question) of the form the service creates (for ``rnd``'s
    school and version; default the configured single school's)."""
    a = settings.acknowledgement
    name = school_name(settings, rnd) if rnd is not None else settings.school.name
    version = rnd.policy_version if rnd is not None else a.policy_version
    title = f"{name}: policy acknowledgement, version {version}"
    description = (f"Please read the {name} staff safeguarding and communication policy, version "
                   f"{version}, then tick the box below to confirm you have read and understood it. "
                   "Sign in with your school account: your school email address is recorded.")
    question = f"I have read and understood the policy (version {version})"
    return title, description, a.policy_url, question


def manual_steps(settings: Settings) -> list[str]:
    """What the Forms API cannot set and the form owner must set by hand."""
    domain = settings.school.domain
    return [f"In the form's Settings → Responses, turn on 'Restrict to users in {domain} and its trusted "
            "organisations' (the Forms API cannot set this), so only school accounts can respond."]


def form_problems(rnd: AckRound, settings: Settings) -> list[Problem]:
    out = []
    if rnd.form_id and rnd.setup_state == "ready" and not rnd.collects_email:
        out.append(Problem(
            f"form {rnd.form_id} does not collect respondents' email addresses (emailCollectionType "
            f"{rnd.email_collection_type or 'not set'}): responses cannot be matched to staff, so nobody can be "
            "counted as acknowledged and no reminders are sent",
            "open the form in Google Forms → Settings → Responses → 'Collect email addresses' → 'Verified', "
            "then run 'python -m integration acks' again (responses already given without an address must be "
            "given again)"))
    elif rnd.email_collection_type == "RESPONDER_INPUT":
        out.append(Problem(
            f"form {rnd.form_id} lets respondents type any email address (RESPONDER_INPUT): anyone could "
            "acknowledge in someone else's name",
            "in the form's Settings → Responses → 'Collect email addresses', choose 'Verified'", blocking=False))
    if rnd.form_source == "created" and not settings.acknowledgement.policy_url:
        out.append(Problem("the form does not link to the policy document ([acknowledgement] policy_url is empty)",
                           "set [acknowledgement] policy_url to the policy's address", blocking=False))
    return out


def _schools(school: str) -> list[str]:
    """The ``ack_rounds.school`` values of ``school``'s rounds ('' = rows from before 0014 that the
    single school has not adopted yet)."""
    return [school, ""]


def current_round(session: Session, version: str, school: str | None = None) -> AckRound | None:
    """``school``'s round for ``version`` (None: the round of that version of whichever school, as a
    single-school caller means it)."""
    q = select(AckRound).where(AckRound.policy_version == version)
    if school is not None:
        q = q.where(AckRound.school.in_(_schools(school)))
    return session.scalars(q.order_by(AckRound.school.desc(), AckRound.id)).first()


def open_round(store: Store, settings: Settings, now: datetime, tenant: Tenant | None = None) -> AckRound:
    """The round of ``tenant``'s (default: the single school's) configured version, opening it (and
    closing that school's previous one) if new."""
    tenant = tenant or settings.tenants.schools[0]
    if not tenant.policy_version:
        where = (f"[[schools]] {tenant.id} policy_version and [acknowledgement] policy_version are empty"
                 if settings.tenants.is_trust else "[acknowledgement] policy_version is empty")
        raise ConfigError(f"{where}: set it to the version of the policy staff must acknowledge, e.g. '2025-10'")
    try:
        return _open_round(store, settings, now, tenant)
    except IntegrityError:  # another run opened it at the same moment: use theirs
        return _open_round(store, settings, now, tenant)


def _open_round(store: Store, settings: Settings, now: datetime, tenant: Tenant) -> AckRound:
    version, form_id, school = tenant.policy_version, tenant.form_id, tenant.id
    with store.session() as s:
        rnd = current_round(s, version, school)
        if rnd is None:
            for old in s.scalars(select(AckRound).where(AckRound.closed_at.is_(None),
                                                        AckRound.school.in_(_schools(school)))):
                old.final_summary = _summary(s, old, settings, now)
                old.closed_at = now
                event(log, "acks.round_closed", school=school, policy_version=old.policy_version)
            reused = bool(form_id) and s.scalar(select(AckRound.id).where(
                AckRound.form_id == form_id, AckRound.school.in_(_schools(school)))) is not None
            rnd = AckRound(school=school, policy_version=version, form_id=form_id,
                           form_source="configured" if form_id else "created",
                           setup_state="ready" if form_id else "creating", opened_at=now,
                           counts_from=now if reused else None, final_summary={})
            s.add(rnd)
            event(log, "acks.round_opened", school=school, policy_version=version,
                  form_id=form_id or "(to create)")
        elif form_id and rnd.form_id != form_id:
            event(log, "acks.form_changed", school=school, policy_version=rnd.policy_version, old=rnd.form_id,
                  new=form_id)
            rnd.form_id, rnd.form_source, rnd.setup_state = form_id, "configured", "ready"
        if not rnd.school:
            rnd.school = school  # a round from before 0014 that adopt() had not placed yet
        s.flush()
        s.expunge(rnd)
    return rnd


def _summary(session: Session, rnd: AckRound, settings: Settings, now: datetime) -> dict:
    st = standing(session, rnd, settings)
    return {"acknowledged": len(st.acknowledged), "outstanding": len(st.outstanding),
            "closed_at": now.isoformat(), "responses": st.counts()}


def ensure_form(store: Store, source: AcknowledgementSource, rnd: AckRound, settings: Settings, now: datetime) -> AckRound:
    """Create/finish the form if needed, else re-read it (its settings may have changed); store what we learn."""
    title, description, policy_url, question = form_texts(settings, rnd)
    info: FormInfo
    if rnd.setup_state in ("creating", "claimed"):
        _claim(store, rnd.id, now)
        try:
            info = source.create_form(title, description, policy_url, question)
        except BaseException as exc:
            form_id = getattr(exc, "form_id", "")
            _save(store, rnd.id, **({"form_id": form_id, "setup_state": "created"} if form_id
                                    else {"setup_state": "creating"}))
            raise
        event(log, "acks.form_created", policy_version=rnd.policy_version, form_id=info.form_id)
    elif rnd.setup_state == "created":
        info = source.configure_form(rnd.form_id, description, policy_url, question)
        event(log, "acks.form_configured", policy_version=rnd.policy_version, form_id=info.form_id)
    else:
        info = source.get_form(rnd.form_id)
    return _save(store, rnd.id, form_id=info.form_id, setup_state="ready", responder_uri=info.responder_uri,
                 form_title=info.title, collects_email=info.collects_email,
                 email_collection_type=info.email_collection_type,
                 confirmation_question_id=info.confirmation_question_id, checked_at=now)


def _claim(store: Store, round_id: int, now: datetime) -> None:
    """Only one run creates the form: claim the round first (a claim older than CLAIM_TTL was abandoned)."""
    with store.session() as s:
        res = s.execute(update(AckRound).where(AckRound.id == round_id, or_(
            AckRound.setup_state == "creating",
            and_(AckRound.setup_state == "claimed", AckRound.checked_at < now - CLAIM_TTL)))
            .values(setup_state="claimed", checked_at=now))
        if res.rowcount != 1:
            raise TransientError("another run is creating the acknowledgement form; try again in a few minutes",
                                 api="forms")


def _save(store: Store, round_id: int, **values) -> AckRound:
    with store.session() as s:
        rnd = s.get(AckRound, round_id)
        for k, v in values.items():
            setattr(rnd, k, v)
        s.flush()
        s.expunge(rnd)
    return rnd
