"""Gmail settings beyond forwarding: filters (``users.settings.filters.list/get``) and ``users.labels.list``.

Shapes follow the Gmail API reference and the gmail v1 discovery document: ``filters.list`` answers
``{"filter": [Filter]}`` (no key when the mailbox has none), a Filter is ``{id, criteria{from, to,
subject, query, negatedQuery, hasAttachment, excludeChats, size, sizeComparison}, action{addLabelIds,
removeLabelIds, forward}}``; ``labels.list`` answers ``{"labels": [Label{id, name, type,
messageListVisibility, labelListVisibility}]}`` with the system labels every mailbox has.

Background filters only label and archive (they never breach); filters that forward are planted
(`sandbox.activity_plant`) into ``planted_filters(domain)`` so the truth file can name them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.activity import activity, h
from sandbox.activity_model import ORGS, rng_for
from sandbox.api import ApiRequest, Registry
from sandbox.errors import not_found
from sandbox.gmail import _mailbox
from sandbox.model import Domain

SYSTEM_LABELS = ("CHAT", "SENT", "INBOX", "IMPORTANT", "TRASH", "DRAFT", "SPAM", "CATEGORY_FORUMS",
                 "CATEGORY_UPDATES", "CATEGORY_PERSONAL", "CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL", "STARRED",
                 "UNREAD")
USER_LABELS = ("Marking", "Exams", "Trips", "Parents", "Timetable", "Safeguarding", "Clubs")


@dataclass(frozen=True)
class Filter:
    id: str
    criteria: dict[str, Any]
    add: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    forward: str = ""

    def as_json(self) -> dict[str, Any]:
        action: dict[str, Any] = {}
        if self.add:
            action["addLabelIds"] = list(self.add)
        if self.remove:
            action["removeLabelIds"] = list(self.remove)
        if self.forward:
            action["forward"] = self.forward
        return {"id": self.id, "criteria": dict(self.criteria), "action": action}


@dataclass
class Planted:
    filters: dict[str, list[Filter]] = field(default_factory=dict)  # mailbox -> planted filters


def planted_filters(dom: Domain) -> Planted:
    return dom.state("gmail_filters", Planted)


def filter_id(*parts: Any) -> str:
    """Gmail filter ids are opaque base64-like strings (e.g. ``ANe1Bmj...``)."""
    return "ANe1Bm" + h("filter", *parts)[:34]


def label_id(name: str) -> str:
    return f"Label_{USER_LABELS.index(name) + 1}" if name in USER_LABELS else "Label_" + h(name)[:6]


def add_filter(dom: Domain, mailbox: str, criteria: dict[str, Any], *, forward: str = "",
               add: tuple[str, ...] = (), remove: tuple[str, ...] = ()) -> Filter:
    """A filter the mailbox's owner made (planted breaches and decoys, tests)."""
    store = planted_filters(dom)
    with dom.lock:
        n = sum(len(v) for v in store.filters.values())
        f = Filter(filter_id(dom.seed, mailbox, "plant", n), dict(criteria), add, remove, forward.lower())
        store.filters.setdefault(mailbox.lower(), []).append(f)
    return f


def filters_of(dom: Domain, mailbox: str) -> list[Filter]:
    """Background label filters (about a third of school mailboxes have some) plus planted ones."""
    act = activity(dom)
    out: list[Filter] = []
    if act.roles.get(mailbox) in ("staff", "pupil"):
        r = rng_for(dom.seed, "filters", mailbox)
        if r.random() < 0.35:
            for i in range(r.randint(1, 3)):
                sender = r.choice(ORGS)[0]
                label = r.choice(USER_LABELS)
                criteria: dict[str, Any] = {"from": sender}
                if r.random() < 0.3:
                    criteria = {"query": f"subject:({label.lower()})", "hasAttachment": r.random() < 0.5}
                remove = ("INBOX",) if r.random() < 0.3 else ()
                out.append(Filter(filter_id(dom.seed, mailbox, i), criteria, (label_id(label),), remove))
    with dom.lock:
        out += planted_filters(dom).filters.get(mailbox, [])
    return out


def register(api: Registry, domain: Domain) -> None:
    @api.method("gmail.users.settings.filters.list")
    def filters_list(req: ApiRequest) -> dict[str, Any]:
        found = filters_of(req.domain, _mailbox(req))
        return {"filter": [f.as_json() for f in found]} if found else {}

    @api.method("gmail.users.settings.filters.get")
    def filters_get(req: ApiRequest) -> dict[str, Any]:
        for f in filters_of(req.domain, _mailbox(req)):
            if f.id == req.params["id"]:
                return f.as_json()
        raise not_found("Filter not found")

    @api.method("gmail.users.labels.list")
    def labels_list(req: ApiRequest) -> dict[str, Any]:
        me = _mailbox(req)
        labels: list[dict[str, Any]] = [{"id": name, "name": name, "type": "system"} for name in SYSTEM_LABELS]
        used = {i for f in filters_of(req.domain, me) for i in (*f.add, *f.remove) if i.startswith("Label_")}
        for name in USER_LABELS:
            if label_id(name) in used:
                labels.append({"id": label_id(name), "name": name, "type": "user",
                               "messageListVisibility": "show", "labelListVisibility": "labelShow"})
        return {"labels": labels}
