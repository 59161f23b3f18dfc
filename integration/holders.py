"""Who holds a lease: ``host:pid:nonce``, so a lease whose process has died can be taken over.

Why: a lease only says "someone is working on this until T". A killed process (`worker --run
audit` SIGKILLed, a worker killed mid-delivery) left its job or email blocked until T (5 minutes)
and its run shown as ``running``. Naming the holder lets the next claimant on the same host see
that the process is gone and take over at once.

Same host only: whether a pid is alive can be asked only of the local kernel. A holder on another
host (two worker machines, a container replaced by one with another hostname) is never taken
for dead; its lease runs out after its 5 minutes and is taken then. One rule for both kinds of
lease (job runs in ``job_locks``, e-mails in ``outbox_emails``): :func:`lease_free`.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime

from sqlalchemy import ColumnElement

HOST = socket.gethostname()[:40]


def new_owner() -> str:
    """A lease holder's identity: ``host:pid:nonce`` (≤ 64 characters), so a lease held by a process
    that has died on this host can be taken over at once instead of after the lease runs out."""
    return f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def holder_gone(owner: str) -> bool:
    """True when ``owner`` names a process on this host that no longer exists (never for other
    hosts, or for owners without a pid: those wait for the lease to run out)."""
    host, _, rest = (owner or "").partition(":")
    pid_text = rest.partition(":")[0]
    if host != HOST or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:  # e.g. EPERM: it exists under another user
        return False
    return False


def lease_free(lease_until, lease_owner, holder: str, now: datetime) -> ColumnElement[bool]:
    """SQL condition for a claim's ``UPDATE … WHERE``: no lease, a lease run out by ``now``, or one
    held by ``holder`` (the owner the claimant read) when that process is gone from this host."""
    free = lease_until.is_(None) | (lease_until < now)
    if holder and holder_gone(holder):
        free = free | (lease_owner == holder)
    return free


def lease_over(lease_until: datetime | None, owner: str, now: datetime) -> bool:
    """:func:`lease_free` for a row already read: the same rule, in Python."""
    if lease_until is None:
        return True
    aware = lease_until if lease_until.tzinfo else lease_until.replace(tzinfo=now.tzinfo)
    return aware < now or holder_gone(owner)
