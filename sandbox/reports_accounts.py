"""Reports ``token``, ``user_accounts``, ``login`` and ``admin`` events from the school's grants, forwarding
settings and accounts.

Shapes follow Google's token and user-accounts appendices (developers.google.com/admin-sdk/reports/
v1/appendix/activity/token and …/user-accounts) and Elastic's google_workspace token and
user_accounts pipeline fixtures: ``authorize``/``revoke`` (type ``auth``) with client_id, app_name,
client_type, scope (multiValue) and scope_data (multiMessageValue); ``email_forwarding_out_of_domain``
(type ``email_forwarding_change``) with email_forwarding_destination_address, beside parameterless
account events (password_edit, 2sv_enroll, recovery_email_edit) that are not forwarding.

``login`` follows Elastic's data_stream/login test-login.log (type ``login``: ``login_success`` with
login_type, login_challenge_method (multiValue), is_suspicious; ``logout``); ``admin`` follows the admin
user- and group-settings appendices (developers.google.com/admin-sdk/reports/v1/appendix/activity/
admin-user-settings, …/admin-group-settings: ``CHANGE_PASSWORD`` with USER_EMAIL, ``ADD_GROUP_MEMBER``
with USER_EMAIL and GROUP_EMAIL), made by the domain's admin. Neither feeds a rule: they exist so a
client (GAM's ``report login|admin``) sees what a real domain logs.

Grants are dated: about one background grant in ten was authorised inside the activity span (the
rest before it, so Reports has no event for them, as for any old grant); planted and live grants
(`grant_token`, `revoke_token`, `set_forwarding`) carry their own time. A mailbox forwarding out of
the domain has its event at a time derived from the mailbox, inside the span.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.activity import Activity, Forwarding, activity, h
from sandbox.activity_model import rng_for
from sandbox.model import Domain

APPS = ("token", "user_accounts", "login", "admin")
ACCOUNT_NOISE = (("password_change", "password_edit"), ("2sv_change", "2sv_enroll"),
                 ("recovery_info_change", "recovery_email_edit"))
CLIENT_TYPES = ("WEB", "NATIVE_ANDROID", "NATIVE_IOS", "NATIVE_DESKTOP")


@dataclass(frozen=True, slots=True)
class TokenEvent:
    time: datetime
    actor: str
    name: str  # authorize | revoke
    client_id: str
    app_name: str
    scopes: tuple[str, ...]
    client_type: str = "WEB"


@dataclass(frozen=True, slots=True)
class AccountEvent:
    time: datetime
    actor: str
    type: str
    name: str
    destination: str = ""  # email_forwarding_out_of_domain
    user: str = ""  # admin events: the account acted on
    group: str = ""  # admin group events


@dataclass
class Log:
    granted_at: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (user, client) -> when
    revokes: list[TokenEvent] = field(default_factory=list)
    forwarded_at: dict[str, datetime] = field(default_factory=dict)  # mailbox -> when forwarding was set


def log(dom: Domain) -> Log:
    return dom.state("accounts_log", Log)


def _touch(act: Activity, when: datetime) -> None:
    """Make an event at `when` visible now and drop the derived day lists."""
    with act._lock:
        act.horizon = max(act.horizon, when + timedelta(minutes=1))
        act._cache.clear()
        act._days.clear()


def grant_token(dom: Domain, user: str, client_id: str, app_name: str, scopes: list[str], *,
                when: datetime | None = None) -> None:
    """A user authorises an app (Directory tokens.list shows it; Reports token logs an authorize)."""
    when = when or datetime.now(UTC) - timedelta(minutes=30)
    dom.add_token(user, client_id, app_name, scopes)
    with dom.lock:
        log(dom).granted_at[(user.lower(), client_id)] = when
    if "activity" in dom.extra:
        _touch(activity(dom), when)


def revoke_token(dom: Domain, user: str, client_id: str, *, when: datetime | None = None) -> None:
    """A user removes an app's access: gone from tokens.list, a revoke event in Reports token."""
    when = when or datetime.now(UTC) - timedelta(minutes=30)
    with dom.lock:
        gone = [t for t in dom.tokens if t.user_email == user.lower() and t.client_id == client_id]
        dom.tokens[:] = [t for t in dom.tokens if t not in gone]
        for t in gone:
            log(dom).revokes.append(TokenEvent(when, t.user_email, "revoke", t.client_id, t.display_text, ()))
    _touch(activity(dom), when)


def set_forwarding(dom: Domain, mailbox: str, address: str, *, when: datetime | None = None) -> None:
    """A user turns on auto-forwarding to `address` now (logged when it leaves the domain)."""
    act = activity(dom)
    when = when or datetime.now(UTC) - timedelta(minutes=30)
    with dom.lock:
        act.forwarding[mailbox.lower()] = Forwarding(True, address.lower(), [(address.lower(), "accepted")])
        log(dom).forwarded_at[mailbox.lower()] = when
    _touch(act, when)


def _granted(act: Activity, user: str, client_id: str) -> datetime:
    explicit = log(act.dom).granted_at.get((user, client_id))
    if explicit is not None:
        return explicit
    r = rng_for(act.dom.seed, "granted", user, client_id)
    if r.random() < 0.1:
        return act.start + timedelta(seconds=r.randrange(int((act.horizon - act.start).total_seconds())))
    return act.start - timedelta(days=r.randrange(1, 600), seconds=r.randrange(86400))


def _forwarded(act: Activity, mailbox: str) -> datetime:
    explicit = log(act.dom).forwarded_at.get(mailbox)
    if explicit is not None:
        return explicit
    r = rng_for(act.dom.seed, "forwarded", mailbox)
    return act.day_start(r.randrange(0, max(1, act.last_day))) + timedelta(seconds=r.randrange(7 * 3600, 22 * 3600))


def token_day(act: Activity, day: int) -> list[TokenEvent]:
    def build() -> list[TokenEvent]:
        with act.dom.lock:
            tokens, revokes = list(act.dom.tokens), list(log(act.dom).revokes)
        out = []
        for t in tokens:
            when = _granted(act, t.user_email, t.client_id)
            if act.day_of(when) == day:
                kind = CLIENT_TYPES[int(h(t.client_id)[:2], 16) % len(CLIENT_TYPES)]
                out.append(TokenEvent(when, t.user_email, "authorize", t.client_id, t.display_text,
                                      tuple(t.scopes), "NATIVE_DESKTOP" if t.native_app else kind))
        out += [e for e in revokes if act.day_of(e.time) == day]
        return sorted((e for e in out if act.visible(e.time)), key=lambda e: e.time, reverse=True)
    return act._cached(("tokenday", day, len(act.dom.tokens), len(log(act.dom).revokes)), build)


def accounts_day(act: Activity, day: int) -> list[AccountEvent]:
    def build() -> list[AccountEvent]:
        out = []
        r = rng_for(act.dom.seed, "accounts", day)
        people = act.staff + act.pupils
        for _ in range(max(1, len(people) // 100)):
            kind, name = r.choice(ACCOUNT_NOISE)
            out.append(AccountEvent(act.day_start(day) + timedelta(seconds=r.randrange(86400)), r.choice(people),
                                    kind, name))
        with act.dom.lock:
            forwarding = dict(act.forwarding)
        for box, fwd in forwarding.items():
            if fwd.enabled and fwd.address and not act.dom.is_internal(fwd.address):
                when = _forwarded(act, box)
                if act.day_of(when) == day:
                    out.append(AccountEvent(when, box, "email_forwarding_change", "email_forwarding_out_of_domain",
                                            fwd.address))
        return sorted((e for e in out if act.visible(e.time)), key=lambda e: e.time, reverse=True)
    return act._cached(("accountsday", day, len(log(act.dom).forwarded_at)), build)


def login_day(act: Activity, day: int) -> list[AccountEvent]:
    """Most people sign in on a given day (one login_success), a few sign out explicitly."""
    def build() -> list[AccountEvent]:
        out = []
        for who in act.staff + act.pupils:
            r = rng_for(act.dom.seed, "login", who, day)
            if r.random() < 0.6:
                when = act.day_start(day) + timedelta(seconds=r.randrange(7 * 3600, 19 * 3600))
                out.append(AccountEvent(when, who, "login", "login_success"))
                if r.random() < 0.1:
                    out.append(AccountEvent(when + timedelta(hours=2), who, "login", "logout"))
        return sorted((e for e in out if act.visible(e.time)), key=lambda e: e.time, reverse=True)
    return act._cached(("loginday", day), build)


def admin_day(act: Activity, day: int) -> list[AccountEvent]:
    """A handful of admin console actions a day: password resets and group membership."""
    def build() -> list[AccountEvent]:
        r = rng_for(act.dom.seed, "admin", day)
        groups = [g.email for g in act.dom.groups] or [""]
        out = []
        for _ in range(r.randint(0, 4)):
            when = act.day_start(day) + timedelta(seconds=r.randrange(8 * 3600, 17 * 3600))
            who = r.choice(act.staff + act.pupils)
            if r.random() < 0.6 or not groups[0]:
                out.append(AccountEvent(when, act.dom.admin_email, "USER_SETTINGS", "CHANGE_PASSWORD", user=who))
            else:
                out.append(AccountEvent(when, act.dom.admin_email, "GROUP_SETTINGS", "ADD_GROUP_MEMBER", user=who,
                                        group=r.choice(groups)))
        return sorted((e for e in out if act.visible(e.time)), key=lambda e: e.time, reverse=True)
    return act._cached(("adminday", day), build)


def day_rows(act: Activity, app: str, day: int) -> list:
    return {"token": token_day, "user_accounts": accounts_day, "login": login_day, "admin": admin_day}[app](act, day)


def render(act: Activity, app: str, row: Any, base: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    """One Activity resource; `base` is sandbox.reports' common envelope (id, actor, etag)."""
    if isinstance(row, TokenEvent):
        item = base(act, "token", row.time, f"{row.name}:{row.actor}:{row.client_id}:{row.time}", row.actor)
        params: list[dict[str, Any]] = [
            {"name": "client_id", "value": row.client_id}, {"name": "app_name", "value": row.app_name},
            {"name": "client_type", "value": row.client_type}]
        if row.scopes:
            params.append({"name": "scope_data", "multiMessageValue": [
                {"parameter": [{"name": "scope_name", "value": s},
                               {"name": "product_bucket", "multiValue": ["IDENTITY" if "auth/" not in s else "OTHER"]}]}
                for s in row.scopes]})
            params.append({"name": "scope", "multiValue": list(row.scopes)})
        item["events"] = [{"type": "auth", "name": row.name, "parameters": params}]
        return item
    item = base(act, app, row.time, f"{row.name}:{row.actor}:{row.time}:{row.user}:{row.group}", row.actor)
    event: dict[str, Any] = {"type": row.type, "name": row.name}
    if app == "login" and row.name == "login_success":
        event["parameters"] = [{"name": "login_type", "value": "google_password"},
                               {"name": "login_challenge_method", "multiValue": ["password"]},
                               {"name": "is_suspicious", "boolValue": False}]
    elif app == "login":
        event["parameters"] = [{"name": "login_type", "value": "google_password"}]
    elif app == "admin":
        event["parameters"] = [{"name": "USER_EMAIL", "value": row.user}] + (
            [{"name": "GROUP_EMAIL", "value": row.group}] if row.group else [])
    elif row.destination:
        event["parameters"] = [{"name": "email_forwarding_destination_address", "value": row.destination}]
    item["events"] = [event]
    return item
