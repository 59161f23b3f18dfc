"""Configuration: one TOML file plus ``SAFECHANNELS__SECTION__KEY`` environment overrides.

Validated whole at start-up: every problem is collected into one ConfigError that
names the file, the key and what was expected, so an admin fixes them in one pass.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from integration.errors import ConfigError
from integration.tenancy import TENANT_KEYS, Tenant, Tenants, tenant_problems

DEFAULT_CONFIG_PATH = Path("config/safechannels.toml")
ENV_CONFIG = "SAFECHANNELS_CONFIG"
ENV_PREFIX = "SAFECHANNELS__"


@dataclass
class School:
    name: str = "My School"
    domain: str = ""
    timezone: str = "Europe/London"
    id: str = ""  # the school's id in --json and --school; empty = the domain's first label


@dataclass
class Trust:
    """A multi-academy trust: one deployment for the schools listed as [[schools]]."""

    name: str = ""
    safeguarding_leads: list[str] = field(default_factory=list)  # see every school; alerted about findings in none
    viewer_users: list[str] = field(default_factory=list)  # trust board: every school's reports


@dataclass
class Queue:
    """Scale-out: where jobs are queued for several worker processes (empty = the one-process worker)."""

    broker_url: str = ""  # e.g. redis://127.0.0.1:6379/0
    rate_limit_url: str = ""  # Google quotas shared by every worker; empty = broker_url when it is redis://, else per process
    queue_name: str = "safechannels"  # the queue (and Redis key prefix): installations sharing a broker never mix
    visibility_timeout_seconds: int = 7200  # a killed queue worker's jobs are redelivered after this; > the longest job


@dataclass
class Google:
    service_account_file: str = "secrets/sa.json"
    admin_subject: str = ""
    customer: str = "my_customer"
    api_base_url: str = ""
    retry_base_ms: int = 1000  # first retry of a transient error after 50-100 % of this, doubling each time


@dataclass
class Roster:
    staff_org_units: list[str] = field(default_factory=lambda: ["/Staff"])
    pupil_org_units: list[str] = field(default_factory=lambda: ["/Pupils"])
    staff_groups: list[str] = field(default_factory=list)
    pupil_groups: list[str] = field(default_factory=list)
    former_pupil_retention_days: int = 730


@dataclass
class Channels:
    approved_email_domains: list[str] = field(default_factory=list)
    learning_platforms: list[str] = field(default_factory=lambda: ["classroom"])
    chat_approved: bool = False
    meet_approved: bool = False
    personal_address_register: str = ""
    exceptions_register: str = ""
    working_hours: str = "07:00-21:00"


@dataclass
class Audit:
    mail_source: str = "auto"
    initial_lookback_days: int = 30
    rules_disabled: list[str] = field(default_factory=list)
    severity_overrides: dict[str, str] = field(default_factory=dict)
    social_apps_file: str = ""  # empty = the list shipped in integration/rules/social_apps.toml
    mail_hold_hours: int = 2  # a receipt waits this long for its sender's event before it is judged alone
    state_reread_hours: int = 24  # full re-read of OAuth tokens and forwarding settings; events in between


@dataclass
class Acknowledgement:
    policy_version: str = ""
    form_id: str = ""
    policy_url: str = ""
    form_owner: str = ""
    deadline_days: int = 14
    reminder_days: list[int] = field(default_factory=lambda: [3, 7, 12])
    escalate_to: list[str] = field(default_factory=list)
    include_org_units: list[str] = field(default_factory=list)  # role "other" here (governors, volunteers) asked too


@dataclass
class Alerts:
    dsl_emails: list[str] = field(default_factory=list)
    deputy_emails: list[str] = field(default_factory=list)
    escalate_after_hours: int = 24
    transport: str = "smtp"
    smtp_url: str = "smtp://127.0.0.1:25"
    from_address: str = ""
    digest_time: str = "07:30"
    outbox_dir: str = "instance/outbox"
    base_url: str = "http://127.0.0.1:5000"
    burst_threshold: int = 5  # more high/medium findings than this within the window: one email lists them
    burst_window_minutes: int = 10


@dataclass
class Privacy:
    encryption_key_file: str = "secrets/safechannels.key"
    closed_findings_retention_days: int = 1095
    activity_retention_days: int = 180


@dataclass
class Moodle:
    """Moodle web services (only read when "moodle" is in [channels] learning_platforms)."""

    url: str = ""  # e.g. https://moodle.northfield.sch.uk
    token_file: str = "secrets/moodle.token"  # a web-services token with the core_* read functions
    parent_role: str = "parent"  # shortname of the role that links parents to pupils (user context)


@dataclass
class Database:
    url: str = "sqlite:///instance/safechannels.db"


@dataclass
class Web:
    secret_key_file: str = "secrets/web.key"
    oauth_client_id: str = ""
    oauth_client_secret: str = ""
    dsl_users: list[str] = field(default_factory=list)
    admin_users: list[str] = field(default_factory=list)
    viewer_users: list[str] = field(default_factory=list)
    dev_login: bool = False
    oauth_authorize_url: str = ""  # empty = Google's; tests and proxies may point elsewhere
    oauth_token_url: str = ""  # empty = Google's
    policy_texts_file: str = ""  # empty = integration/web/policy_texts.toml (the clause quoted per rule)
    session_idle_minutes: int = 60  # a session unused this long is signed out
    session_max_hours: int = 8  # and none lasts longer than this, however active


@dataclass
class Webhooks:
    public_url: str = ""
    pubsub_audience: str = ""
    pubsub_service_account: str = ""
    pubsub_topic: str = ""
    google_certs_url: str = ""


@dataclass
class Schedule:
    roster_sync: str = "0 */4 * * *"
    audit: str = "*/15 * * * *"
    acknowledgement: str = "0 8 * * *"
    alerts: str = "*/2 * * * *"
    watch_renewal: str = "0 */2 * * *"
    retention_purge: str = "30 2 * * *"
    stall_exit_seconds: int = 120  # the worker exits (to be restarted) when it cannot schedule jobs this long


@dataclass
class Settings:
    school: School = field(default_factory=School)
    google: Google = field(default_factory=Google)
    roster: Roster = field(default_factory=Roster)
    channels: Channels = field(default_factory=Channels)
    audit: Audit = field(default_factory=Audit)
    acknowledgement: Acknowledgement = field(default_factory=Acknowledgement)
    alerts: Alerts = field(default_factory=Alerts)
    privacy: Privacy = field(default_factory=Privacy)
    database: Database = field(default_factory=Database)
    web: Web = field(default_factory=Web)
    webhooks: Webhooks = field(default_factory=Webhooks)
    schedule: Schedule = field(default_factory=Schedule)
    moodle: Moodle = field(default_factory=Moodle)
    trust: Trust = field(default_factory=Trust)
    queue: Queue = field(default_factory=Queue)
    schools: list[Tenant] = field(default_factory=list)  # [[schools]] as written; see `tenants` for the resolved list
    source_path: Path | None = None

    def resolve(self, path: str) -> Path:
        """A path from the config: relative paths are relative to the working directory, as in the contract's
        examples (`secrets/sa.json` beside `config/`)."""
        return Path(path).expanduser().absolute()

    @property
    def approved_domains(self) -> list[str]:
        domains = [d.lower() for d in self.channels.approved_email_domains]
        for d in [self.school.domain] + [t.domain for t in self.schools]:
            if d and d.lower() not in domains:
                domains.append(d.lower())
        return domains

    @property
    def tenants(self) -> Tenants:
        """The schools this deployment serves: the [[schools]] list, or the one school of a single-school config."""
        return Tenants.of(self)

    def __repr__(self) -> str:  # never print secrets
        return f"Settings(school={self.school.name!r}, domain={self.school.domain!r}, source={self.source_path})"


_SECTION_TYPES = {
    "school": School, "google": Google, "roster": Roster, "channels": Channels, "audit": Audit,
    "acknowledgement": Acknowledgement, "alerts": Alerts, "privacy": Privacy, "database": Database,
    "web": Web, "webhooks": Webhooks, "schedule": Schedule,
    "moodle": Moodle, "trust": Trust, "queue": Queue,
}

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

# Every numeric key's allowed range, inclusive (documented in docs/operator-contract.md). Why the
# bounds: Reports keeps about 180 days of activity, so a longer first read finds nothing more;
# zero or negative retention would delete findings the moment they close; the maxima keep dates
# computable (timedelta overflows near 10**9 days) and catch a slipped digit.
RANGES: dict[tuple[str, str], tuple[int, int]] = {
    ("roster", "former_pupil_retention_days"): (0, 36500),
    ("queue", "visibility_timeout_seconds"): (1200, 7 * 86400),  # > a 15-minute retry wait, held unacknowledged
    ("audit", "initial_lookback_days"): (1, 180),
    ("audit", "state_reread_hours"): (0, 24 * 31),  # 0 = every audit; at most monthly: state must be re-checked
    ("audit", "mail_hold_hours"): (0, 72),  # 0 = judge a lone receipt at the end of the run
    ("acknowledgement", "deadline_days"): (1, 365),
    ("acknowledgement", "reminder_days"): (0, 365),  # each entry
    ("alerts", "escalate_after_hours"): (1, 720),
    ("alerts", "burst_threshold"): (1, 1000),
    ("alerts", "burst_window_minutes"): (1, 1440),
    ("privacy", "closed_findings_retention_days"): (1, 36500),
    ("privacy", "activity_retention_days"): (1, 36500),
    ("web", "session_idle_minutes"): (1, 1440),
    ("web", "session_max_hours"): (1, 168),
    ("schedule", "stall_exit_seconds"): (5, 3600),
    ("google", "retry_base_ms"): (10, 60000),  # Google asks for 1 s; less only against the sandbox  # below a few ticks a brief lock would restart the worker
}


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is list:
        return f"a list of {_type_name(get_args(tp)[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is dict:
        return "a table of strings"
    return {str: "a string", int: "an integer", bool: "true or false", float: "a number"}.get(tp, str(tp))


def _field_types(cls: type) -> dict[str, Any]:
    hints = {}
    for f in dataclasses.fields(cls):
        tp = f.type
        if isinstance(tp, str):
            tp = eval(tp, {"list": list, "dict": dict, "str": str, "int": int, "bool": bool, "float": float})  # noqa: S307
        hints[f.name] = tp
    return hints


def _coerce_env(raw: str, tp: Any) -> Any:
    """Environment values are strings; turn them into the key's type (lists are comma-separated)."""
    origin = get_origin(tp)
    if origin is list:
        inner = get_args(tp)[0]
        items = [s.strip() for s in raw.split(",") if s.strip()]
        return [_coerce_env(s, inner) for s in items]
    if tp is bool:
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ValueError(raw)
    if tp is int:
        return int(raw)
    if origin is dict:  # "rule.id=high,other.rule=low": every non-empty part must be key=value
        pairs = [part.split("=", 1) for part in raw.split(",") if part.strip()]
        if not pairs or any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
            raise ValueError(raw)
        return {k.strip(): v.strip() for k, v in pairs}
    return raw


def _check_value(value: Any, tp: Any) -> bool:
    origin = get_origin(tp)
    if origin is list:
        inner = get_args(tp)[0]
        return isinstance(value, list) and all(_check_value(v, inner) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is bool:
        return isinstance(value, bool)
    return isinstance(value, tp)


def load(path: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Load, override from the environment and validate; raise one ConfigError listing every problem."""
    env = dict(os.environ if env is None else env)
    if path is None:
        path = env.get(ENV_CONFIG) or DEFAULT_CONFIG_PATH
    path = Path(path)
    where = str(path)
    problems: list[str] = []
    data: dict[str, Any] = {}
    if not path.exists():
        raise ConfigError(
            f"{where}: configuration file not found. Run 'python -m integration init' to write a starter "
            f"config, or pass --config PATH / set {ENV_CONFIG}."
        )
    try:
        data = tomllib.loads(_read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot be read: {exc.strerror}") from None

    sections: dict[str, dict[str, Any]] = {}
    schools_raw = data.pop("schools", [])
    for name, value in data.items():
        if name not in _SECTION_TYPES:
            problems.append(f"{where}: unknown section [{name}] (expected one of: {', '.join(_SECTION_TYPES)})")
            continue
        if not isinstance(value, dict):
            problems.append(f"{where}: '{name}' must be a [section] table")
            continue
        sections[name] = dict(value)

    for var, raw in env.items():
        if not var.startswith(ENV_PREFIX):
            continue
        parts = var[len(ENV_PREFIX):].lower().split("__")
        if len(parts) != 2 or parts[0] not in _SECTION_TYPES:
            problems.append(f"environment {var}: expected {ENV_PREFIX}<SECTION>__<KEY> with a known section")
            continue
        sec, key = parts
        types = _field_types(_SECTION_TYPES[sec])
        if key not in types:
            problems.append(f"environment {var}: unknown key '{key}' in [{sec}]")
            continue
        try:
            sections.setdefault(sec, {})[key] = _coerce_env(raw, types[key])
        except ValueError:
            problems.append(f"environment {var}: expected {_type_name(types[key])}, got {raw!r}")

    built: dict[str, Any] = {}
    for sec, cls in _SECTION_TYPES.items():
        values = sections.get(sec, {})
        types = _field_types(cls)
        kwargs = {}
        for key, value in values.items():
            if key not in types:
                problems.append(f"{where}: unknown key '{key}' in [{sec}] (known keys: {', '.join(types)})")
                continue
            if not _check_value(value, types[key]):
                problems.append(f"{where}: [{sec}] {key} must be {_type_name(types[key])}, got {value!r}")
                continue
            kwargs[key] = value
        built[sec] = cls(**kwargs)

    schools = _schools(schools_raw, where, problems)
    settings = Settings(**built, schools=schools, source_path=path.resolve())
    problems.extend(_semantic_problems(settings, where))
    if problems:
        raise ConfigError(
            f"{len(problems)} problem(s) in the configuration:\n  - " + "\n  - ".join(problems), problems
        )
    return settings


def _schools(raw: Any, where: str, problems: list[str]) -> list[Tenant]:
    """The [[schools]] array of tables, type-checked key by key like a section (environment overrides do
    not reach it: a list of tables has no flat variable name)."""
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        problems.append(f"{where}: 'schools' must be an array of tables, written [[schools]]")
        return []
    out = []
    for n, table in enumerate(raw, 1):
        kwargs = {}
        for key, value in table.items():
            if key not in TENANT_KEYS:
                problems.append(f"{where}: unknown key '{key}' in [[schools]] #{n} (known keys: {', '.join(TENANT_KEYS)})")
            elif not _check_value(value, TENANT_KEYS[key]):
                problems.append(f"{where}: [[schools]] #{n} {key} must be {_type_name(TENANT_KEYS[key])}, got {value!r}")
            else:
                kwargs[key] = value
        out.append(Tenant(**kwargs))
    return out


def _read_text(path: Path) -> str:
    """The file as UTF-8 (a UTF-8 byte-order mark is fine); anything else is a ConfigError saying so."""
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or (len(raw) > 1 and b"\x00" in raw[:2]):
        raise ConfigError(f"{path}: the file is saved as UTF-16; save it as UTF-8 (in Notepad: Save as, "
                          "Encoding 'UTF-8') and try again")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 and try again") from None


def _range_problems(s: Settings, where: str) -> list[str]:
    out = []
    for (sec, key), (lo, hi) in RANGES.items():
        value = getattr(getattr(s, sec), key)
        for v in value if isinstance(value, list) else [value]:
            if not lo <= v <= hi:
                each = "each entry of " if isinstance(value, list) else ""
                out.append(f"{where}: [{sec}] {key}: {each}must be between {lo} and {hi}, got {v}")
                break
    return out


# Keys naming people who receive email or sign in: school addresses only (no email leaves the school).
_SCHOOL_ADDRESS_KEYS = (("alerts", "dsl_emails"), ("alerts", "deputy_emails"), ("acknowledgement", "escalate_to"),
                        ("web", "dsl_users"), ("web", "admin_users"), ("web", "viewer_users"),
                        ("trust", "safeguarding_leads"), ("trust", "viewer_users"))
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def control_characters(address: str) -> str:
    """What an address wrongly contains ("a NUL byte", "a control character"), or "". Shared with the
    registers: such an address (a mis-saved export) would never match what Google reports."""
    if not _CONTROL.search(address):
        return ""
    return "a NUL byte" if "\x00" in address else "a control character"


def _address_problems(s: Settings, where: str) -> list[str]:
    out = []
    domains = set(s.approved_domains)
    keyed = [(f"[{sec}] {key}", getattr(getattr(s, sec), key)) for sec, key in _SCHOOL_ADDRESS_KEYS]
    keyed += [(f"[[schools]] {t.id or n} {key}", getattr(t, key)) for n, t in enumerate(s.schools, 1)
              for key in ("dsl_emails", "deputy_emails", "viewer_users")]
    for label, addresses in keyed:
        for address in addresses:
            if control_characters(address):
                out.append(f"{where}: {label}: an address contains {control_characters(address)}")
            elif address.count("@") != 1 or address.rpartition("@")[2].strip().lower() not in domains:
                out.append(f"{where}: {label}: {address.rpartition('@')[2] or address!r} is not one of the "
                           f"school's domains ({', '.join(sorted(domains))}): only school addresses receive "
                           "email or sign in")
    return out


def _semantic_problems(s: Settings, where: str) -> list[str]:
    """Checks beyond types: values that parse but cannot work."""
    out: list[str] = _range_problems(s, where) + tenant_problems(s, where, _HHMM)
    if s.school.domain:
        out += _address_problems(s, where)
    if not s.school.domain or "." not in s.school.domain:
        out.append(f"{where}: [school] domain must be the school's primary domain, e.g. 'northfield.sch.uk'")
    try:
        ZoneInfo(s.school.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        out.append(f"{where}: [school] timezone must be an IANA zone such as 'Europe/London', got {s.school.timezone!r}")
    if s.audit.mail_source not in ("auto", "reports", "mailbox"):
        out.append(f"{where}: [audit] mail_source must be one of auto, reports, mailbox, got {s.audit.mail_source!r}")
    if s.alerts.transport not in ("smtp", "gmail", "outbox"):
        out.append(f"{where}: [alerts] transport must be one of smtp, gmail, outbox, got {s.alerts.transport!r}")
    if not _HHMM.match(s.alerts.digest_time):
        out.append(f"{where}: [alerts] digest_time must be HH:MM (24-hour), got {s.alerts.digest_time!r}")
    hours = s.channels.working_hours.split("-")
    if len(hours) != 2 or not all(_HHMM.match(h) for h in hours):
        out.append(f"{where}: [channels] working_hours must be 'HH:MM-HH:MM', got {s.channels.working_hours!r}")
    if any(not ou.startswith("/") for ou in s.acknowledgement.include_org_units):
        out.append(f"{where}: [acknowledgement] include_org_units paths start with '/', e.g. '/Governors'")
    for sev_rule, sev in s.audit.severity_overrides.items():
        if sev not in ("high", "medium", "low"):
            out.append(f"{where}: [audit] severity_overrides.{sev_rule} must be high, medium or low, got {sev!r}")
    if "moodle" in s.channels.learning_platforms and not s.moodle.url.startswith(("http://", "https://")):
        out.append(f"{where}: [moodle] url must be the Moodle site's http(s) URL when 'moodle' is in "
                   "[channels] learning_platforms")
    for ou in s.roster.staff_org_units + s.roster.pupil_org_units:
        if not ou.startswith("/"):
            out.append(f"{where}: [roster] org unit paths start with '/', got {ou!r}")
    if not s.database.url or "://" not in s.database.url:
        out.append(f"{where}: [database] url must be an SQLAlchemy URL such as 'sqlite:///instance/safechannels.db'")
    return out


def hours_window(spec: str) -> tuple[int, int]:
    """'07:00-21:00' -> (420, 1260) minutes since midnight."""
    a, b = spec.split("-")
    return tuple(int(x[:2]) * 60 + int(x[3:]) for x in (a, b))  # type: ignore[return-value]
