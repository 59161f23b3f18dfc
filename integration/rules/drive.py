"""Drive rules: sharing with personal accounts, public media, shared drives, shares outside courses.

A file is re-read on every crawl and also reported by Drive audit events, so an occurrence is
keyed by file + grantee, not by when or how it was seen: one grant never counts twice.
"""

from __future__ import annotations

from collections.abc import Iterator

from integration.identity import PUPILS, Resolution
from integration.records import DriveItem, Permission
from integration.rules.base import Candidate, Rule, RuleContext

SHARED_WITH_PUPIL_PERSONAL = "drive.shared_with_pupil_personal"
PUPIL_SHARED_WITH_STAFF_PERSONAL = "drive.pupil_shared_with_staff_personal"
SHARED_DRIVE_EXTERNAL_WITH_PUPILS = "drive.shared_drive_external_with_pupils"
PUBLIC_MEDIA = "drive.public_media"
DIRECT_SHARE_OUTSIDE_COURSE = "drive.direct_share_outside_course"

_MEDIA = ("image/", "video/")
FOLDER = "application/vnd.google-apps.folder"


def _staff_of(emails, ctx: RuleContext) -> Resolution | None:
    for email in emails:
        r = ctx.identity.resolve(email)
        if r.is_school and r.role == "staff":
            return r
    return None


def _responsible(item: DriveItem, ctx: RuleContext) -> tuple[Resolution | None, str]:
    """Who answers for the item's sharing, and how that was decided.

    A My Drive item: its owner. A shared-drive item has no owner: the school account that made
    the change an event reports (the actor), else the drive's first staff organizer.
    """
    if item.owner_email:
        return ctx.identity.resolve(item.owner_email), "owner"
    if item.actor:
        r = ctx.identity.resolve(item.actor)
        if r.is_school:
            return r, "actor"
    organizers = item.organizers or tuple(p.email for p in item.permissions if p.role == "organizer" and p.email)
    r = _staff_of(organizers, ctx)
    return (r, "organizer") if r is not None else (None, "")


def _owner(item: DriveItem, ctx: RuleContext) -> Resolution | None:
    return _responsible(item, ctx)[0]


def _grants(item: DriveItem, ctx: RuleContext) -> Iterator[tuple[Permission, Resolution]]:
    """User/group grants other than the owner's own, with who is behind each address."""
    for p in item.permissions:
        if p.type in ("user", "group") and p.email and p.email != item.owner_email:
            yield p, ctx.identity.resolve(p.email, p.display_name)


def _candidate(rule: str, item: DriveItem, perm: Permission | None, perm_key: str, ctx: RuleContext,
               **people) -> Candidate:
    """One grant's finding. A folder's grant reaches every file in it (Reports logs each file's
    inherited grant as a *_hierarchy_reconciled event): the folder's grant and those inherited
    grants are one finding per grantee, the files its occurrences. A shared-drive item's finding is
    keyed without the member of staff, whom a crawl (organizer) and an event (actor) may name
    differently."""
    inherited = perm is not None and perm.inherited
    c = Candidate(
        rule=rule, source=item.source, time=item.modified,
        object_key=f"folder-grant:{perm_key}" if inherited or item.mime_type == FOLDER else item.item_id,
        event_key=f"drive:{item.item_id}:{perm_key}",
        evidence={"file_id": item.item_id, "title": item.title, "link": item.link,
                  "mime_type": item.mime_type, "event_ids": [item.event_id] if item.event_id else []},
        **people,
    )
    if inherited:
        c.evidence["inherited"] = True
    if perm is not None and perm.roles:
        c.evidence["new_value"] = list(perm.roles)
    if not item.owner_email:
        c.key_fields = tuple(k for k in c.key_fields if k != "staff")
        c.evidence["shared_drive_id"] = item.shared_drive_id
        c.evidence["attributed_by"] = _responsible(item, ctx)[1]
    return c


def _perm_key(p: Permission, ctx: RuleContext) -> str:
    """The grantee, not the permission id: a crawl and a Reports event of one grant are one occurrence."""
    who = p.email or p.domain
    return f"{p.type}:{ctx.identity.address_hash(who)}" if who else p.type


def shared_with_pupil_personal(item: DriveItem, ctx: RuleContext) -> list[Candidate]:
    owner = _owner(item, ctx)
    if owner is None or not owner.is_school or owner.role != "staff":
        return []
    return [_candidate(SHARED_WITH_PUPIL_PERSONAL, item, p, _perm_key(p, ctx), ctx, staff=owner.person_email,
                       pupil=r.person_email, counterpart=p.email, confidence=r.confidence or "known")
            for p, r in _grants(item, ctx) if r.is_attributed and r.role in PUPILS]


def pupil_shared_with_staff_personal(item: DriveItem, ctx: RuleContext) -> list[Candidate]:
    owner = _owner(item, ctx)
    if owner is None or not owner.is_school or owner.role not in PUPILS:
        return []
    return [_candidate(PUPIL_SHARED_WITH_STAFF_PERSONAL, item, p, _perm_key(p, ctx), ctx, staff=r.person_email,
                       pupil=owner.person_email, counterpart=p.email, confidence=r.confidence or "known")
            for p, r in _grants(item, ctx) if r.is_attributed and r.role == "staff"]


def shared_drive_external_with_pupils(item: DriveItem, ctx: RuleContext) -> list[Candidate]:
    """A shared drive with pupil members and any member outside the approved domains.

    The finding is keyed by drive + external member; the pupils go in the evidence, so a
    pupil joining later does not make a second finding.
    """
    if not item.is_shared_drive:
        return []
    ident = ctx.identity
    pupils: list[str] = []
    external: list[Permission] = []
    for p in item.permissions:
        if p.type in ("user", "group") and p.email:
            r = ident.resolve(p.email, p.display_name)
            if r.is_school and r.role in PUPILS:
                pupils.append(r.person_email or p.email)
            elif not ident.is_approved(p.email):
                external.append(p)
        elif p.type == "domain" and p.domain and p.domain.lower() not in ident.approved_domains:
            external.append(p)
    if not pupils or not external:
        return []
    owner = _owner(item, ctx)
    staff = owner.person_email if owner and owner.role == "staff" else None
    out = []
    for p in external:
        who = p.email or p.domain
        c = _candidate(SHARED_DRIVE_EXTERNAL_WITH_PUPILS, item, p, _perm_key(p, ctx), ctx, staff=staff,
                       pupil=sorted(pupils)[0], counterpart=who)
        c.key_fields = ("counterpart",)
        c.evidence["pupils"] = sorted(pupils)[:20]
        c.evidence["pupil_count"] = len(pupils)
        out.append(c)
    return out


def public_media(item: DriveItem, ctx: RuleContext) -> list[Candidate]:
    """An image or video of a school account shared publicly, by link, or outside the school."""
    if not item.mime_type.startswith(_MEDIA):
        return []
    owner = _owner(item, ctx)
    if item.owner_email and owner is not None and not owner.is_school:
        return []  # owned outside the school: not the school's media
    ident = ctx.identity
    out = []
    for p in item.permissions:
        if p.type == "anyone":
            who = "anyone" if p.allow_discovery else "anyone_with_link"
        elif p.type in ("user", "group") and p.email and not ident.is_approved(p.email):
            who = p.email
        elif p.type == "domain" and p.domain and p.domain.lower() not in ident.approved_domains:
            who = p.domain
        else:
            continue
        people = {}
        if owner is not None and owner.person_email:
            people["pupil" if owner.role in PUPILS else "staff"] = owner.person_email
        c = _candidate(PUBLIC_MEDIA, item, p, _perm_key(p, ctx), ctx, counterpart=who, **people)
        c.evidence["shared_as"] = p.type
        out.append(c)
    return out


def direct_share_outside_course(item: DriveItem, ctx: RuleContext) -> list[Candidate]:
    """Staff sharing straight to a pupil's school account with no course in common.

    Shares with a Classroom course group, or with a pupil in a course the member of staff
    teaches, are the learning platform at work and never match. On a shared-drive item whose
    sharer is not known (a crawl), a course shared with any of the drive's organizers counts.
    A drive's own membership is the drive's audience, not a direct share.
    """
    if item.is_shared_drive:
        return []
    ident = ctx.identity
    owner, how = _responsible(item, ctx)
    if owner is None or not owner.is_school or owner.role != "staff" or owner.person_email is None:
        return []
    teachers = [owner.person_email]
    if how == "organizer":
        teachers += [ident.person(e) or e for e in item.organizers]
    out = []
    for p, r in _grants(item, ctx):
        if p.type != "user" or not r.is_school or r.role not in PUPILS or r.person_email is None:
            continue
        if any(ident.shared_course(t, r.person_email) for t in teachers):
            continue
        out.append(_candidate(DIRECT_SHARE_OUTSIDE_COURSE, item, p, _perm_key(p, ctx), ctx,
                              staff=owner.person_email, pupil=r.person_email))
    return out


RULES = (
    Rule(SHARED_WITH_PUPIL_PERSONAL, "Staff file shared with a pupil's personal account", "high",
         ("000", "002 §42"), DriveItem, shared_with_pupil_personal),
    Rule(PUPIL_SHARED_WITH_STAFF_PERSONAL, "Pupil file shared with a staff personal account", "high",
         ("002 §28",), DriveItem, pupil_shared_with_staff_personal),
    Rule(SHARED_DRIVE_EXTERNAL_WITH_PUPILS, "Shared drive with pupils and external members", "medium",
         ("000",), DriveItem, shared_drive_external_with_pupils),
    Rule(PUBLIC_MEDIA, "Image or video shared publicly or outside the school", "medium",
         ("000", "002 §31", "002 §52–53", "004"), DriveItem, public_media),
    Rule(DIRECT_SHARE_OUTSIDE_COURSE, "File shared directly with a pupil outside any shared course", "low",
         ("001 §401",), DriveItem, direct_share_outside_course),
)
