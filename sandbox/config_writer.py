"""Write a service-account key and a complete SafeChannels configuration for a sandbox.

The demo, the end-to-end tests and anyone trying the service locally get a config
that points every Google call (token endpoint included) at the sandbox, with roster
OUs matching the generated school, and registers that exercise both matching paths:
some personal addresses are registered, some deliberately left out so display-name
matching is needed; one exception is current and one has expired.

A trust's config adds ``[trust]`` (its central safeguarding lead and chair of trustees) and one
``[[schools]]`` per school (`trust_settings`), each with its own DSL, deputy and governor: OU-based
in a one-domain trust, domain-based in a multi-domain one (``--domains N``).
"""

from __future__ import annotations

import csv
import json
import os
import random
from pathlib import Path
from typing import Any

import tomli_w

from sandbox.model import Domain
from sandbox.oidc import CERTS_PATH, push_service_account
from sandbox.oidc_provider import AUTH_PATH, oauth_client
from sandbox.token import TOKEN_PATH, service_account

UNREGISTERED_SHARE = 0.25  # personal addresses deliberately missing from the register


def write_config(domain: Domain, base_url: str, directory: str | Path) -> Path:
    """Write key, TOML and registers into `directory`; return the TOML path."""
    out = Path(directory).expanduser().absolute()
    out.mkdir(parents=True, exist_ok=True)
    base_url = base_url.rstrip("/")
    key_path = out / "service-account.json"
    key_path.write_text(json.dumps(service_account(domain).key_json(base_url + TOKEN_PATH), indent=2) + "\n")
    os.chmod(key_path, 0o600)
    register_path = write_personal_register(domain, out / "personal-addresses.csv")
    exceptions_path = write_exceptions(domain, out / "exceptions.csv")
    config = settings_for(domain, base_url, out, key_path, register_path, exceptions_path)
    toml_path = out / "safechannels.toml"
    toml_path.write_text(f"# SafeChannels against the sandbox at {base_url} ({domain.size}, seed {domain.seed})\n"
                         + tomli_w.dumps(config))
    return toml_path


POLICY_VERSION = "2025-10"


def settings_for(domain: Domain, base_url: str, out: Path, key_path: Path, register_path: Path,
                 exceptions_path: Path) -> dict[str, Any]:
    dsl = domain.dsl_email or domain.admin_email
    config = {
        "school": {"name": domain.name, "domain": domain.domain, "timezone": "Europe/London"},
        "google": {"service_account_file": str(key_path), "admin_subject": domain.admin_email,
                   "customer": "my_customer", "api_base_url": base_url},
        "roster": {"staff_org_units": list(domain.staff_org_units), "pupil_org_units": list(domain.pupil_org_units),
                   "staff_groups": list(domain.staff_groups), "pupil_groups": list(domain.pupil_groups),
                   "former_pupil_retention_days": 730},
        "channels": {"approved_email_domains": list(domain.domains), "learning_platforms": ["classroom"],
                     "chat_approved": False, "meet_approved": False,
                     "personal_address_register": str(register_path), "exceptions_register": str(exceptions_path),
                     "working_hours": domain.working_hours},
        "audit": {"mail_source": "auto", "initial_lookback_days": 30, "rules_disabled": []},
        "acknowledgement": {"policy_version": POLICY_VERSION, "form_id": "", "form_owner": dsl, "deadline_days": 14,
                            "reminder_days": [3, 7, 12], "escalate_to": []},
        "alerts": {"dsl_emails": [dsl], "deputy_emails": [], "escalate_after_hours": 24, "transport": "outbox",
                   "smtp_url": "smtp://127.0.0.1:25", "from_address": domain.alerts_sender or dsl,
                   "digest_time": "07:30", "outbox_dir": str(out / "outbox")},
        "privacy": {"encryption_key_file": str(out / "safechannels.key"), "closed_findings_retention_days": 1095,
                    "activity_retention_days": 180},
        "database": {"url": f"sqlite:///{out / 'safechannels.db'}"},
        "web": web_settings(domain, base_url, out),
        # Pub/Sub push tokens come from the sandbox's signer; the audience is left to the operator
        # (blank = the push endpoint URL, Pub/Sub's default) and so is public_url.
        "webhooks": {"pubsub_audience": "", "pubsub_service_account": push_service_account(domain),
                     "google_certs_url": base_url.rstrip("/") + CERTS_PATH},
    }
    if len(domain.school_units) > 1:
        config.update(trust_settings(domain))
        # findings in no school (and the trust-wide web roles) belong to the trust's central lead
        config["alerts"]["dsl_emails"] = [domain.trust_lead_email]
        config["web"]["dsl_users"] = [domain.trust_lead_email]
        config["web"]["viewer_users"] = []
    return config


def trust_settings(domain: Domain) -> dict[str, Any]:
    """``[trust]`` and ``[[schools]]`` (the keys of `integration.tenancy.Tenant`) for a generated trust."""
    schools = []
    for unit in domain.school_units:
        place: dict[str, Any] = {"domain": unit.domain} if unit.domain else {"org_units": [unit.org_unit]}
        schools.append({"id": unit.id, "name": unit.name, **place, "dsl_emails": [unit.dsl_email],
                        "deputy_emails": [unit.deputy_email], "viewer_users": [unit.governor_email],
                        "working_hours": unit.working_hours, "policy_version": POLICY_VERSION, "form_id": ""})
    return {"trust": {"name": domain.name, "safeguarding_leads": [domain.trust_lead_email],
                      "viewer_users": [domain.trust_viewer_email]},
            "schools": schools}


def viewer_email(domain: Domain) -> str:
    """A governor (read-only viewer of the web app), else any non-staff adult account."""
    with domain.lock:
        others = [u for u in domain.live_users() if u.role_truth == "other" and not u.suspended
                  and u.primary_email not in (domain.admin_email, domain.alerts_sender)]
    governors = [u for u in others if u.org_unit_path.lower().startswith(("/other", "/governors"))]
    return (governors or others)[0].primary_email if (governors or others) else ""


def web_settings(domain: Domain, base_url: str, out: Path) -> dict[str, Any]:
    """Roles of every kind, and Google sign-in through the sandbox's OpenID provider (sandbox.oidc_provider)."""
    client_id, client_secret = oauth_client(domain)
    base_url = base_url.rstrip("/")
    viewer = viewer_email(domain)
    return {"secret_key_file": str(out / "web.key"), "dsl_users": [domain.dsl_email or domain.admin_email],
            "admin_users": [domain.admin_email], "viewer_users": [viewer] if viewer else [],
            "oauth_client_id": client_id, "oauth_client_secret": client_secret,
            "oauth_authorize_url": base_url + AUTH_PATH, "oauth_token_url": base_url + TOKEN_PATH}


def write_personal_register(domain: Domain, path: Path) -> Path:
    """address,owner rows — about a quarter of the known addresses left out on purpose."""
    rng = random.Random(f"register:{domain.size}:{domain.seed}")
    with domain.lock:
        pairs = [(addr, owner) for owner, addrs in sorted(domain.personal_addresses.items()) for addr in addrs]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["address", "owner"])
        for address, owner in pairs:
            if rng.random() >= UNREGISTERED_SHARE:
                writer.writerow([address, owner])
    return path


def exception_rows(domain: Domain) -> list[list[str]]:
    """A current exception for a member of staff who is a pupil's parent, and an expired one."""
    with domain.lock:
        by_id = domain.user_by_id()
        by_email = domain.user_by_email()
        parents = [(g.email, by_id[g.student_id].primary_email) for g in domain.guardians
                   if g.email in by_email and g.student_id in by_id]
        staff = [u for u in domain.live_users() if u.role_truth == "staff"]
        pupils = [u for u in domain.live_users() if u.role_truth == "pupil"]
    approver = domain.dsl_email or domain.admin_email
    rows: list[list[str]] = []
    if parents:
        rows.append([parents[0][0], parents[0][1], "Parent of pupil", approver, "2027-08-31"])
    elif staff and pupils:
        rows.append([staff[0].primary_email, pupils[0].primary_email, "Parent of pupil", approver, "2027-08-31"])
    if len(staff) > 1 and len(pupils) > 1:
        rows.append([staff[1].primary_email, pupils[1].primary_email, "Private music tuition (ended)", approver,
                     "2025-07-31"])
    return rows


def write_exceptions(domain: Domain, path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["staff", "counterpart", "reason", "approved_by", "expires"])
        writer.writerows(exception_rows(domain))
    return path
