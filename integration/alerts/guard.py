"""The one gate every outgoing email passes (called by `queue_email`): school addresses only.

Why one gate rather than care in each composer: alerts, digests, escalations and
acknowledgement invitations and reminders are built in different modules, and a guardian's
or pupil's personal address (``…@yahoo.co.uk``) once reached a DSL's inbox in an alert — from
where it can be forwarded anywhere. Here a recipient outside the school's domains refuses the
email, and any other address outside them in the subject, text, HTML or headers is masked
(``***@yahoo.co.uk``); the full address stays on the finding's page, where each view is logged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from integration.errors import InputError
from integration.protocols import OutgoingEmail

_ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})")


class OutsideSchool(InputError):
    """An email addressed to someone outside the school's domains."""


def _domains(domains: Iterable[str]) -> frozenset[str]:
    return frozenset(d.strip().lower() for d in domains if d and d.strip())


def in_school(address: str, domains: Iterable[str]) -> bool:
    local, at, domain = address.strip().rpartition("@")
    return bool(at and local) and "@" not in local and domain.lower() in _domains(domains)


def mask(text: str, domains: Iterable[str]) -> str:
    """``text`` with every address outside ``domains`` as ``***@domain``."""
    keep = _domains(domains)
    return _ADDRESS.sub(lambda m: m.group(0) if m.group(1).lower() in keep else "***@" + m.group(1), text)


def school_only(email: OutgoingEmail, domains: Iterable[str]) -> OutgoingEmail:
    """The email with outside addresses masked; OutsideSchool if a recipient is outside the school."""
    keep = _domains(domains)
    if not keep:
        raise OutsideSchool("no school domain configured: refusing to send email ([school] domain)")
    outside = [a for a in (*email.to, *email.cc) if not in_school(a, keep)]
    if outside:
        raise OutsideSchool(f"refusing to email {len(outside)} recipient(s) outside the school's domains "
                            f"({', '.join(sorted(keep))}): {', '.join(mask(a, keep) for a in outside)}")
    return replace(email, subject=mask(email.subject, keep), text=mask(email.text, keep),
                   html=mask(email.html, keep), headers={k: mask(v, keep) for k, v in email.headers.items()})
