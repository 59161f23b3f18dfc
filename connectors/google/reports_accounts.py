"""Reports ``token`` and ``user_accounts`` events: OAuth grants and out-of-domain forwarding, as records.

Shapes (Google's appendices, checked against public fixtures):
- token (developers.google.com/admin-sdk/reports/v1/appendix/activity/token; Elastic
  packages/google_workspace/data_stream/token/_dev/test/pipeline/test-token.log): event ``authorize`` /
  ``revoke`` (type ``auth``) with ``client_id``, ``app_name``, ``client_type``, ``scope`` (multiValue) and
  ``scope_data`` (multiMessageValue of ``scope_name`` + ``product_bucket``); ``num_response_bytes`` may be a
  bare number. Scopes come from ``scope``, else from ``scope_data``.
- user_accounts (…/appendix/activity/user-accounts; Elastic data_stream/user_accounts test-user-accounts.log;
  Panther rule gsuite_user_forwarding_out_of_domain, which also accepts applicationName ``login``): type
  ``email_forwarding_change``, name ``email_forwarding_out_of_domain``, parameter
  ``email_forwarding_destination_address`` — a bare address, or as Elastic's fixture has it a Markdown
  mail link ``[a@b](mailto:a@b)``; Panther's normalised events carry ``parameters`` as an object.
``events`` may be a list (the API) or one object (Elastic's exports); both read the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from connectors.google.reports import _event_list, _skip, _time, event_id, flat_params
from integration.records import ForwardingSetting, OAuthGrant

TOKEN_EVENTS = ("authorize", "revoke")
FORWARDING_EVENT = "email_forwarding_out_of_domain"
FORWARDING_APPS = ("user_accounts", "login")  # Panther accepts the event under either application
_ADDRESS = re.compile(r"[^\s<>()\[\]:,;\"'/]+@[^\s<>()\[\]:,;\"'/]+\.[a-z0-9-]+", re.I)


def _params(ev: dict[str, Any]) -> dict[str, Any]:
    raw = ev.get("parameters") or []
    return dict(raw) if isinstance(raw, dict) else flat_params(raw)


def _actor(activity: dict[str, Any]) -> str:
    return str((activity.get("actor") or {}).get("email") or "").strip().lower()


def address_in(value: Any) -> str:
    """The first e-mail address in a parameter value ("a@b", "mailto:a@b", "[a@b](mailto:a@b)")."""
    found = _ADDRESS.search(str(value or ""))
    return found.group(0).lower() if found else ""


def _scopes(p: dict[str, Any]) -> tuple[str, ...]:
    scope = p.get("scope")
    if isinstance(scope, list):
        found = [str(s) for s in scope]
    elif scope:
        found = str(scope).replace(",", " ").split()
    else:
        found = [str(d.get("scope_name")) for d in p.get("scope_data") or [] if isinstance(d, dict)
                 and d.get("scope_name")]
    return tuple(dict.fromkeys(s.strip() for s in found if s.strip()))


def token_grants(activity: dict[str, Any]) -> Iterator[OAuthGrant]:
    """An OAuthGrant per authorize/revoke event (``event`` says which); others (``request``) yield nothing."""
    when, user = _time(activity), _actor(activity)
    for ev in _event_list(activity):
        name = ev.get("name")
        if name not in TOKEN_EVENTS:
            continue
        p = _params(ev)
        client = str(p.get("client_id") or "").strip()
        if when is None or not user or not client:
            _skip("token", activity, "no time, user or client_id")
            continue
        yield OAuthGrant(user, client, str(p.get("app_name") or ""), _scopes(p), "reports.token", str(name), when)


def forwarding_events(activity: dict[str, Any]) -> Iterator[ForwardingSetting]:
    """A ForwardingSetting naming the destination of each email_forwarding_out_of_domain event."""
    when, mailbox = _time(activity), _actor(activity)
    for i, ev in enumerate(_event_list(activity)):
        if ev.get("name") != FORWARDING_EVENT:
            continue
        dest = address_in(_params(ev).get("email_forwarding_destination_address"))
        if when is None or not mailbox or not dest:
            _skip("user_accounts", activity, "no time, actor or destination address")
            continue
        yield ForwardingSetting(mailbox, False, source="reports." + str((activity.get("id") or {}).get(
            "applicationName") or "user_accounts"), forwarded_out=(dest,), time=when, event_id=event_id(activity, i))
