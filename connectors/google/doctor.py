"""Live probes for `doctor`: the key, one token per scope group, each API with its cheapest call,
and the configured org units. Every failure says exactly what to fix.

One token per scope group (rather than one token for everything) is what lets doctor name
the missing scope: Google refuses the whole token request (`unauthorized_client`) if any
requested scope is not delegated, without saying which.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from connectors.google import scopes as scope_table
from connectors.google.auth import KeyFile
from connectors.google.quotas import shared_quota_url
from connectors.google.transport import GoogleClient
from integration.errors import ConfigError, SafeChannelsError, SourceError, Unreachable
from integration.protocols import Check

CONFIG_CHECKS = ("config", "key file", "org unit")  # failures here mean exit 2, not 3


def is_config_check(check: Check) -> bool:
    return check.name.startswith(CONFIG_CHECKS)


def needed_groups(settings) -> list[str]:
    """Scope groups this configuration uses (gmail.send only for the gmail transport, Classroom only as a platform)."""
    groups = list(scope_table.SCOPES)
    if settings.alerts.transport != "gmail":
        groups.remove("gmail_send")
    if "classroom" not in [p.lower() for p in settings.channels.learning_platforms]:
        groups.remove("classroom")
    return groups


def google_checks(settings, client: GoogleClient | None = None) -> list[Check]:
    return list(iter_google_checks(settings, client))


def iter_google_checks(settings, client: GoogleClient | None = None) -> Iterator[Check]:
    """Each check as soon as it is known (`doctor` prints them as they come). An endpoint where
    nothing answers is reported once, naming host and port; every check that needs it is then
    skipped with that reason instead of failing with advice about delegation."""
    admin = settings.google.admin_subject
    if not admin:
        yield Check("config: [google] admin_subject", False, "empty",
                    "set [google] admin_subject to an admin account of the school domain")
        return
    yield Check("config", True, f"{settings.source_path} (domain {settings.school.domain}, admin {admin})")
    if client is None:
        try:
            key = KeyFile(settings.resolve(settings.google.service_account_file))
        except ConfigError as exc:
            yield Check("key file", False, str(exc),
                        "download a JSON key for the service account and set [google] service_account_file")
            return
        client = GoogleClient(key, api_base_url=settings.google.api_base_url, max_attempts=3, backoff_base=0.5)
    key = client.key
    yield Check("key file", True, f"{key.path}: {key.client_email} (client ID {key.client_id})")
    limiter = rate_limiter_check(settings, key)
    if limiter is not None:
        yield limiter
    gate = _Reach()
    refused: set[str] = set()
    for group in needed_groups(settings):
        name = f"token: {group}"
        if gate.down is not None:
            refused.add(group)
            yield gate.skipped(name)
            continue
        try:
            client.check_token(admin, scope_table.SCOPES[group])
        except Unreachable as exc:
            refused.add(group)
            yield from gate.found(exc, name)
            continue
        except SafeChannelsError as exc:
            refused.add(group)
            if group in scope_table.OPTIONAL:
                yield Check(name, True, f"not delegated (optional): {exc}")
            else:
                yield Check(name, False, str(exc), getattr(exc, "fix", "") or "")
            continue
        yield Check(name, True, f"delegated: {', '.join(s.rsplit('/', 1)[1] for s in scope_table.SCOPES[group])}")
    if gate.down is None:
        yield chat_mode_check("chat_admin" not in refused)
    yield from _api_checks(settings, client, admin, refused, gate)


def rate_limiter_check(settings, key: KeyFile) -> Check | None:
    """Does the Redis that shares Google's quotas between the workers answer and run the pacing script?
    None when no shared limiter is configured (each process paces itself)."""
    url = shared_quota_url(settings)
    if not url:
        return None
    from redis.exceptions import RedisError

    from connectors.google.shared_quotas import SharedQuotaPacer, endpoint, namespace

    where = endpoint(url)
    try:
        pacer = SharedQuotaPacer(url, namespace(key.info.get("project_id") or key.client_email,
                                               settings.google.api_base_url))
        version = pacer.connect()
        windows = pacer.keys_in_use()
    except ConfigError as exc:
        return Check("config: [queue] rate_limit_url", False, str(exc), "correct [queue] rate_limit_url")
    except SafeChannelsError as exc:
        return Check(f"rate limiter {where}", False, str(exc), getattr(exc, "fix", "") or "")
    except RedisError as exc:  # answered the probe, then failed listing the windows
        return Check(f"rate limiter {where}", False, f"rate limiter: Redis at {where}: {exc}", "check Redis's log")
    return Check("rate limiter", True, f"Redis {version} at {where}: Google's quotas shared by every worker "
                                       f"({windows} windows in use under {pacer.namespace})")


class _Reach:
    """The first unreachable endpoint doctor met; later checks that need it are skipped."""

    def __init__(self) -> None:
        self.down: Unreachable | None = None

    def found(self, exc: Unreachable, name: str) -> Iterator[Check]:
        if self.down is None:
            self.down = exc
            yield Check(f"reach {exc.endpoint}", False, str(exc), exc.fix)
        yield self.skipped(name)

    def skipped(self, name: str) -> Check:
        assert self.down is not None
        return Check(name, False, f"skipped: nothing answers at {self.down.endpoint}", "")


def chat_mode_check(chat_api: bool) -> Check:
    """Which way the audit learns the two members of a Chat DM (Reports events name only the poster)."""
    if chat_api:
        return Check("chat DM members", True, "Chat API: spaces.members.list with admin access lists the members "
                                              "of DMs still missing one, so a DM where only one side wrote is found")
    scope = scope_table.SCOPES["chat_admin"][0]
    return Check("chat DM members", True,
                 "Reports only: a DM is judged once both members have posted (in any window or run); a DM where "
                 f"only the staff member (or only the pupil) wrote is missed. Optional: delegate {scope} to find it")


def _api_checks(settings, client: GoogleClient, admin: str, refused: set[str], gate: _Reach) -> Iterator[Check]:
    customer = settings.google.customer or "my_customer"
    sc = scope_table.SCOPES

    def call(api: str, group: str, subject: str, build: Callable[[Any], Any]) -> dict:
        return client.execute(api, build(client.service(api)), subject=subject, scopes=sc[group])

    def probe(name: str, group: str, fn: Callable[[], str]) -> Iterator[Check]:
        if gate.down is not None:
            yield gate.skipped(name)
            return
        if group in refused:
            yield Check(name, False, f"skipped: the {group} token was refused (see above)", "fix the delegation first")
            return
        try:
            yield Check(name, True, fn())
        except Unreachable as exc:
            yield from gate.found(exc, name)
        except SourceError as exc:
            yield Check(name, False, str(exc), exc.fix or "")

    yield from probe("api: directory users.list", "directory", lambda: _n(call(
        "directory", "directory", admin, lambda s: s.users().list(customer=customer, maxResults=1,
                                                                  fields="users(primaryEmail)")), "users"))
    ous: list[str] = []

    def org_units() -> str:
        page = call("directory", "directory", admin, lambda s: s.orgunits().list(
            customerId=customer, type="all", fields="organizationUnits(orgUnitPath)"))
        ous.extend(o.get("orgUnitPath", "") for o in page.get("organizationUnits") or [])
        return f"{len(ous)} org units"

    yield from probe("api: directory orgunits.list", "directory", org_units)
    if ous:
        for ou in settings.roster.staff_org_units + settings.roster.pupil_org_units:
            ok = ou == "/" or ou in ous
            yield Check(f"org unit {ou}", ok, "exists" if ok else "not found in the Directory",
                        "" if ok else "correct [roster] staff_org_units / pupil_org_units (paths start "
                                      "with '/', as in Admin console → Directory → Organisational units)")
    if "classroom" in needed_groups(settings):
        yield from probe("api: classroom courses.list", "classroom", lambda: _n(call(
            "classroom", "classroom", admin, lambda s: s.courses().list(pageSize=1, fields="courses(id)")), "courses"))
    yield from probe("api: reports activities.list (drive)", "reports", lambda: _n(call(
        "reports", "reports", admin, lambda s: s.activities().list(userKey="all", applicationName="drive",
                                                                   maxResults=1)), "items"))
    staff = _a_staff_user(settings, client, admin) if "directory" not in refused and gate.down is None else admin
    yield from probe(f"api: drive files.list as {staff}", "drive", lambda: _n(call(
        "drive", "drive", staff, lambda s: s.files().list(pageSize=1, fields="files(id)")), "files"))
    yield from probe(f"api: gmail getAutoForwarding as {admin}", "gmail_settings", lambda: "enabled=" + str(call(
        "gmail", "gmail_settings", admin, lambda s: s.users().settings().getAutoForwarding(userId="me"))
        .get("enabled", False)).lower())
    form_id = settings.acknowledgement.form_id
    if form_id:
        owner = settings.acknowledgement.form_owner or admin
        yield from probe(f"api: forms get {form_id} as {owner}", "forms", lambda: "title: " + str(call(
            "forms", "forms", owner, lambda s: s.forms().get(formId=form_id)).get("info", {}).get("title", "")))


def _a_staff_user(settings, client: GoogleClient, admin: str) -> str:
    """A live account in the first staff OU (Drive is read as each owner); the admin if none is found."""
    for ou in settings.roster.staff_org_units[:3]:
        try:
            page = client.execute("directory", client.service("directory").users().list(
                customer=settings.google.customer or "my_customer", maxResults=1, fields="users(primaryEmail)",
                query=f"orgUnitPath='{ou}' isSuspended=false"), subject=admin, scopes=scope_table.SCOPES["directory"])
        except SourceError:
            continue
        users = page.get("users") or []
        if users:
            return str(users[0].get("primaryEmail", admin)).lower()
    return admin


def _n(page: dict, key: str) -> str:
    n = len(page.get(key) or [])
    return f"reachable ({n} {key} on a 1-item page)"


def delegation_text(settings) -> str:
    """`doctor --scopes`: what to paste into the Admin console's domain-wide delegation entry.
    Raises ConfigError (after nothing is printed) when the key file cannot give the client ID."""
    key = KeyFile(settings.resolve(settings.google.service_account_file))
    return scopes_text(key.client_id)


def scopes_text(client_id: str) -> str:
    lines = [f"Client ID: {client_id}", "", "OAuth scopes (comma-delimited):", ",".join(scope_table.all_scopes()), "",
             "Why each scope:"]
    for group, scopes in scope_table.SCOPES.items():
        for s in scopes:
            lines.append(f"  {s}\n      {group}: {scope_table.WHY[group]}")
    lines += ["", "Admin console → Security → Access and data control → API controls → Manage Domain Wide "
              "Delegation → Add new: paste the client ID and the scope list above."]
    return "\n".join(lines)
