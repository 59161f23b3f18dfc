"""The two state streams — OAuth grants and Gmail forwarding settings — read incrementally.

State has no change feed of its own, so reading it all (tokens.list for every account, three Gmail
settings parts for every staff mailbox) each run costs ~2,000 calls at school scale for nothing new.
Instead each run follows the Reports events that announce a change:

- ``oauth``: Reports ``token`` ``authorize`` events are grants in themselves (client, app name,
  scopes): no tokens.list is needed for them.
- ``mail.forwarding``: Reports ``email_forwarding_out_of_domain`` (``user_accounts``, and ``login`` where
  a tenant logs it there) is itself a finding (`known`), and that mailbox's settings are re-read at once
  (filters and forwarding addresses have no event of their own).

The whole state is re-read when ``[audit] state_reread_hours`` (default 24) have passed since the
last full read, on the first audit and on ``--full``; people who were not in the last full read (new
staff, a mailbox whose read failed) are read on the next run. Cursors: the events' slice ends per
application in partitions ``token`` / ``user_accounts`` / ``login``; the state read in partition
``state``: ``{"at": end of the window of the last full read, "users": [who it covered]}``, stored
after the records it produced.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from connectors.google import reports_accounts
from integration.records import ActivityBatch

STATE = "state"
PAGE = 200  # settings per batch handed to the engine


def events(src, stream: str, app: str, names: tuple[str, ...], parse, cursors: dict[str, dict],
           since: datetime, until: datetime, seen: set[str] | None = None) -> Iterator[ActivityBatch]:
    """One application's Reports events inside a stream that reads several (its own cursor partition);
    the accounts they name are added to `seen`."""
    own = {"": cursors[app]} if app in cursors else {}
    for batch in src._windowed(stream, app, names, parse, own, since, until):
        batch.partition = app
        if seen is not None:
            seen.update(getattr(r, "mailbox", "") or getattr(r, "user_email", "") for r in batch.records)
        yield batch


def plan(cursors: dict[str, dict], users: list[str], until: datetime, every: timedelta,
         changed: set[str] = frozenset()) -> tuple[list[str], bool]:
    """(accounts to read now, whether this is a full read): everyone when a full read is due, else
    whoever the last full read did not cover and whoever the events name."""
    state = cursors.get(STATE) or {}
    at = state.get("at")
    if not at or until - datetime.fromisoformat(at) >= every:
        return list(users), True
    covered = set(state.get("users", ()))
    return [u for u in users if u not in covered or u in changed], False


def state_cursor(cursors: dict[str, dict], users: list[str], read: list[str], failed: set[str], full: bool,
                 until: datetime) -> dict:
    """The state cursor after a read: when the last full read was, and who is covered (failures are not)."""
    state = cursors.get(STATE) or {}
    before = set() if full else set(state.get("users", ())) & set(users)
    return {"at": until.isoformat() if full else state["at"], "users": sorted((before | set(read)) - failed)}


def oauth(src, cursors: dict[str, dict], since: datetime, until: datetime, users: list[str],
          every: timedelta) -> Iterator[ActivityBatch]:
    """Authorize events for the window, then tokens.list for whoever the plan says (a failure raises:
    the cursor stays, so the read is repeated next run)."""
    yield from events(src, "oauth", "token", ("authorize",), reports_accounts.token_grants, cursors, since, until)
    todo, full = plan(cursors, users, until, every)
    for grants in src.tokens.grants(todo) if todo else ():
        yield ActivityBatch("oauth", grants, None)
    yield ActivityBatch("oauth", [], state_cursor(cursors, users, todo, set(), full, until), STATE)


def forwarding(src, cursors: dict[str, dict], since: datetime, until: datetime, staff: list[str],
               every: timedelta) -> Iterator[ActivityBatch]:
    """Out-of-domain forwarding events for the window, then the settings of whoever the plan says
    (everyone when due; else newcomers, mailboxes that failed last time, and those the events name)."""
    changed: set[str] = set()
    for app in reports_accounts.FORWARDING_APPS:
        yield from events(src, "mail.forwarding", app, (reports_accounts.FORWARDING_EVENT,),
                          reports_accounts.forwarding_events, cursors, since, until, changed)
    todo, full = plan(cursors, staff, until, every, changed)
    page: list = []
    failed: set[str] = set()
    for user, setting, err in src._per_user(src.gmail.forwarding, todo, "mail.forwarding") if todo else ():
        if err is None:
            page.append(setting)
        else:
            failed.add(user)
        if len(page) >= PAGE:
            yield ActivityBatch("mail.forwarding", page, None)
            page = []
    yield ActivityBatch("mail.forwarding", page, state_cursor(cursors, staff, todo, failed, full, until), STATE)
