"""Forwarding rule: a staff mailbox that sends mail outside the approved domains.

Three Gmail settings can move mail out: auto-forwarding (every message), a filter whose action
forwards (the messages its criteria match) and a verified forwarding address (usable only by
one of the first two). Auto-forwarding and a forwarding filter are `known`; a verified address
that no setting read uses is only `suspected` (a filter may have been deleted, or not read).
A filter's criteria go into the evidence so the DSL sees *which* mail leaves. A Reports
``email_forwarding_out_of_domain`` event (user_accounts) is `known` too: Google logged the
forwarding being set up, whatever the settings say now.
"""

from __future__ import annotations

from integration.records import ForwardingSetting, MailFilter
from integration.rules.base import Candidate, RuleContext

AUTO_FORWARD_EXTERNAL = "mail.auto_forward_external"
_ORDER = ("auto_forward", "filter", "forwarding_event", "forwarding_address")  # the strongest setting names the finding


def filter_evidence(f: MailFilter) -> dict:
    return {"id": f.filter_id, "criteria": dict(f.criteria), "add_label_ids": list(f.add_label_ids),
            "remove_label_ids": list(f.remove_label_ids)}


def _targets(fs: ForwardingSetting) -> dict[str, tuple[str, list[MailFilter]]]:
    """Every outside-reaching address -> (the strongest setting using it, the filters forwarding to it)."""
    found: dict[str, list] = {}
    if fs.auto_forward_enabled and fs.auto_forward_address:
        found.setdefault(fs.auto_forward_address.lower(), [set(), []])[0].add("auto_forward")
    for f in fs.filters:
        if f.forward_to:
            entry = found.setdefault(f.forward_to.lower(), [set(), []])
            entry[0].add("filter")
            entry[1].append(f)
    for addr in fs.forwarded_out:
        found.setdefault(addr.lower(), [set(), []])[0].add("forwarding_event")
    for addr in fs.forwarding_addresses:
        found.setdefault(addr.lower(), [set(), []])[0].add("forwarding_address")
    return {addr: (next(h for h in _ORDER if h in hows), filters) for addr, (hows, filters) in found.items()}


def auto_forward_external(fs: ForwardingSetting, ctx: RuleContext) -> list[Candidate]:
    """A staff mailbox forwarding outside the approved domains — its owner's own address included."""
    owner = ctx.identity.resolve(fs.mailbox)
    if not (owner.is_school and owner.role == "staff"):
        return []
    out = []
    for addr, (how, filters) in _targets(fs).items():
        if ctx.identity.is_approved(addr):
            continue
        digest = ctx.identity.address_hash(addr)
        which = {"filter": ",".join(sorted(f.filter_id for f in filters)), "forwarding_event": fs.event_id}.get(how)
        key = f"fwd:{fs.mailbox}:{digest}:{how}" + (f":{which}" if which else "")
        evidence: dict = {"mailbox": fs.mailbox, "setting": how}
        if fs.event_id:
            evidence["event_ids"] = [fs.event_id]
        if filters:
            evidence["filters"] = [filter_evidence(f) for f in filters]
            evidence["filter_ids"] = [f.filter_id for f in filters]
        out.append(Candidate(
            rule=AUTO_FORWARD_EXTERNAL, staff=owner.person_email, counterpart=addr,
            confidence="suspected" if how == "forwarding_address" else "known", source=fs.source, time=fs.time,
            object_key=f"{fs.mailbox}:{digest}", event_key=key,
            evidence=evidence))
    return out
