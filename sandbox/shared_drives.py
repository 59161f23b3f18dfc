"""Shared drives holding files, as Drive v3 serves them (departments' drives, class drives).

Shapes follow the Drive v3 discovery document and developers.google.com/workspace/drive/api/guides/
shared-drives-diffs: a shared-drive item has no ``owners`` and never carries ``permissions`` in
files.list; it has ``driveId``, ``parents`` and ``hasAugmentedPermissions`` (whether anyone is granted
access directly on it). ``permissions.list(supportsAllDrives)`` on it answers the drive's members
(``permissionDetails`` ``permissionType: member``, inherited from the drive), grants inherited from its
folders (``file``, ``inherited``, ``inheritedFrom``) and its own (``file``, not inherited); a member
who also has a grant of their own is one permission with two details.

Background drives are built never to breach a rule: staff organizers, staff (and in class drives
pupils) as members, a few files shared with colleagues, the school's domain, a Classroom group or
anyone with the link (documents only). Planted breaches and decoys are in `plant`.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sandbox.activity_model import File, Perm, SharedDrive, file_id, h, perm_id, rng_for

DRIVES = {"tiny": 2, "demo": 4, "school": 15, "trust": 40}  # background drives (plants add their own)
FILES = {"tiny": (3, 8), "demo": (5, 15), "school": (62, 150), "trust": (62, 150)}  # files per drive
DEPARTMENTS = ["Maths", "English", "Science", "History", "Geography", "Art", "Music", "PE", "Computing",
               "Languages", "Drama", "RE", "Business", "Design", "SEND", "Pastoral", "Exams", "Trips",
               "Governors", "Library"]
FOLDER = "application/vnd.google-apps.folder"
MIMES = [("application/vnd.google-apps.document", 35), ("application/vnd.google-apps.spreadsheet", 15),
         ("application/vnd.google-apps.presentation", 15), ("application/pdf", 10), (FOLDER, 10),
         ("image/jpeg", 8), ("image/png", 2), ("video/mp4", 3), ("video/quicktime", 2)]


def populate(act) -> None:
    """Background shared drives with files, from the domain's seed (called before plants)."""
    if not act.staff:
        return
    for n in range(DRIVES.get(act.dom.size, 4)):
        r = rng_for(act.dom.seed, "shareddrive", n)
        dept = DEPARTMENTS[n % len(DEPARTMENTS)] + (f" {n // len(DEPARTMENTS) + 1}" if n >= len(DEPARTMENTS) else "")
        staff = r.sample(act.staff, min(len(act.staff), r.randint(2, 7)))
        members = [_user(act, staff[0], "organizer")]
        members += [_user(act, s, r.choice(["organizer", "fileOrganizer", "writer", "writer", "commenter"]))
                    for s in staff[1:]]
        if r.random() < 0.3 and act.taught.get(staff[0]):  # a class drive: the organizer's pupils read it
            kids = list(dict.fromkeys(act.taught[staff[0]]))
            members += [_user(act, k, "reader") for k in r.sample(kids, min(len(kids), r.randint(2, 8)))]
        sid = "0A" + h("shareddrive", act.dom.seed, n)[:17].upper()
        act.shared_drives.append(SharedDrive(sid, f"{dept} department", members,
                                             act.start - timedelta(days=r.randrange(30, 900))))
        act.drive_files[sid] = _files(act, r, sid, staff)


def _user(act, email: str, role: str) -> Perm:
    u = act.users.get(email)
    return Perm(perm_id(email), "user", role, email, "", u.full_name if u else email)


def _files(act, r: random.Random, sid: str, staff: list[str]) -> list[File]:
    out: list[File] = []
    folders: list[str] = []
    binned: set[str] = set()  # a binned folder's items are in the bin with it (Drive trashes the subtree)
    for i in range(r.randint(*FILES.get(act.dom.size, (5, 15)))):
        mime = r.choices([m for m, _ in MIMES], [w for _, w in MIMES])[0]
        parent = r.choice(folders) if folders and r.random() < 0.6 else ""
        fid = file_id(act.dom.seed, sid, i)
        perms = _background_share(act, r, mime, staff)
        trashed = r.random() < 0.03 or parent in binned
        out.append(File(fid, f"{mime.rsplit('.', 1)[-1].rsplit('/', 1)[-1].title()} {i}", mime, "",
                        act.start - timedelta(days=r.randrange(1, 700), seconds=r.randrange(86400)), perms,
                        trashed=trashed, drive_id=sid, parent=parent))
        if mime == FOLDER:
            folders.append(fid)
            if trashed:
                binned.add(fid)
    return out


def _background_share(act, r: random.Random, mime: str, staff: list[str]) -> tuple[Perm, ...]:
    """Most items hold only the drive's members; about one in eight is shared further, never in breach."""
    roll = r.random()
    if roll >= 0.125:
        return ()
    if roll < 0.05 or mime == FOLDER:
        return (act._school_share(r, staff[0]),)
    if roll < 0.08:
        return (Perm("domain-" + h(staff[0])[:8], "domain", "reader", "", staff[0].rpartition("@")[2]),)
    if roll < 0.1 and act.course_groups.get(staff[0]):
        g = r.choice(act.course_groups[staff[0]])
        return (Perm(perm_id(g), "group", "reader", g, "", "Class group"),)
    if not mime.startswith(("image/", "video/")):
        return (Perm("anyoneWithLink", "anyone", "reader"),)
    return ()


# ---------------------------------------------------------------------------------- served views


def drive_of(act, drive_id: str) -> SharedDrive | None:
    return next((d for d in act.shared_drives if d.id == drive_id), None)


def is_member(drive: SharedDrive, email: str) -> bool:
    return any(p.type == "user" and p.email == email.lower() for p in drive.perms)


def files_in(act, drive_id: str) -> list[File]:
    """The drive's items visible now (background and planted), trashed ones included."""
    return [f for f in act.drive_files.get(drive_id, []) if act.visible(f.modified)]


def find(act, fid: str) -> File | None:
    for files in act.drive_files.values():
        for f in files:
            if f.id == fid and act.visible(f.modified):
                return f
    return None


def permissions(act, f: File) -> list[dict[str, Any]]:
    """permissions.list of a shared-drive item: members, folder grants, its own; one entry per grantee."""
    from sandbox.drive import perm_json

    drive = drive_of(act, f.drive_id)
    out: dict[str, dict[str, Any]] = {}

    def add(p: Perm, detail: dict[str, Any]) -> None:
        entry = out.setdefault(p.id, perm_json(p))
        entry.setdefault("permissionDetails", []).append({"role": p.role, **detail})

    for p in drive.perms if drive else ():
        add(p, {"permissionType": "member", "inherited": True, "inheritedFrom": f.drive_id})
    by_id = {x.id: x for x in act.drive_files.get(f.drive_id, [])}
    parent, depth = by_id.get(f.parent), 0
    while parent is not None and depth < 50:
        for p in parent.perms:
            add(p, {"permissionType": "file", "inherited": True, "inheritedFrom": parent.id})
        parent, depth = by_id.get(parent.parent), depth + 1
    for p in f.perms:
        add(p, {"permissionType": "file", "inherited": False})
    return list(out.values())


# ---------------------------------------------------------------------------------- plants


def plant(p) -> None:
    """Breaches and decoys in shared-drive files (a `sandbox.activity_plant.Planter`). Each breach's
    sharer is a member who is not the drive's first organizer, so attribution to the event's actor is
    seen; one old share (before Reports' window: no event) falls to the drive's first staff organizer."""
    from sandbox.activity_model import DriveEvent

    a, rule = p.a, "drive.shared_with_pupil_personal"
    organizer = p.pick(a.staff)
    sharer = p.pick([s for s in a.staff if s != organizer] or a.staff)
    pupil = _pupil_for(p, rule, sharer)
    pupil_folder = _pupil_for(p, rule, sharer, pupil)
    pupil_old = _pupil_for(p, rule, organizer, pupil, pupil_folder)
    colleague = p.pick([s for s in a.staff if s not in (organizer, sharer)] or a.staff)
    drive = _planted_drive(p, [p.user_perm(organizer, role="organizer"), p.user_perm(sharer, role="writer")])

    def item(perms: list[Perm], *, mime: str = "application/vnd.google-apps.document", when=None, actor: str = "",
             parent: str = "", trashed: bool = False, drive: str = drive) -> str:
        p.k += 1
        when = when or p.when()
        f = File(file_id("plant-sd", a.dom.seed, p.k), f"Department item {p.k}", mime, "", when, tuple(perms),
                 trashed=trashed, drive_id=drive, parent=parent)
        a.drive_files[drive].append(f)
        if actor:
            a.plant_drive_events.extend(DriveEvent(when, actor, f, perm) for perm in perms)
        return f.id

    addr = p.personal(pupil, True)
    p.truth(rule, staff=sharer, pupil=pupil, counterpart=addr,
            obj=item([p.user_perm(addr, role="writer")], actor=sharer))
    addr = p.personal(pupil_old, True)
    p.truth(rule, staff=organizer, pupil=pupil_old, counterpart=addr,
            obj=item([p.user_perm(addr, role="reader")], when=a.start - timedelta(days=60)))
    addr = p.personal(pupil_folder, True)  # a folder's grant reaches its files: one finding
    folder = item([p.user_perm(addr, role="reader")], mime=FOLDER, actor=sharer)
    for _ in range(2):
        item([], parent=folder, when=a.start - timedelta(days=3))
    p.truth(rule, staff=sharer, pupil=pupil_folder, counterpart=addr, obj=folder)
    public = {t["staff"] for t in a.truth if t["rule"] == "drive.public_media" and t["counterpart"] == "anyone_with_link"}
    video_sharer = p.pick([s for s in a.staff if s not in {organizer, sharer} | public])
    media = _planted_drive(p, [p.user_perm(p.pick(a.staff), role="organizer"),
                               p.user_perm(video_sharer, role="fileOrganizer")])
    p.truth("drive.public_media", staff=video_sharer, counterpart="anyone_with_link",
            obj=item([Perm("anyoneWithLink", "anyone", "reader")], mime="video/quicktime", actor=video_sharer,
                     drive=media))
    item([Perm("anyoneWithLink", "anyone", "reader")], mime="application/pdf", actor=video_sharer, drive=media)
    p.decoy("drive.public_media", "a public PDF in a shared drive is not media", staff=video_sharer)
    item([Perm("domain-" + h(media)[:8], "domain", "reader", "", video_sharer.rpartition("@")[2])], mime="image/jpeg",
         actor=video_sharer, drive=media)
    p.decoy("drive.public_media", "a shared-drive image shared inside the school domain", staff=video_sharer)
    item([p.user_perm(colleague, role="commenter")], actor=sharer)
    p.decoy(rule, "a shared-drive file shared with a colleague's school account", staff=sharer)
    trashed_pupil = p.pick(a.pupils, registered=True)
    item([p.user_perm(p.personal(trashed_pupil, True))], trashed=True, when=a.start - timedelta(days=5))
    p.decoy(rule, "a shared-drive file in the bin", staff=organizer, pupil=trashed_pupil)


def _pupil_for(p, rule: str, staff: str, *besides: str) -> str:
    """A pupil with a registered personal address whom no other planted `rule` breach pairs with `staff`
    (small schools reuse people: two breaches of one pair would be one finding), nor one of `besides`."""
    taken = {t["pupil"] for t in p.a.truth if t["rule"] == rule and t["staff"] == staff} | set(besides)
    return p.pick([x for x in p.a.pupils if x not in taken], registered=True)


def _planted_drive(p, members: list[Perm]) -> str:
    sid = p.shared_drive(members)
    p.a.drive_files[sid] = []
    return sid


def share_in_drive_now(dom, actor: str, drive_id: str, address: str, *, role: str = "writer",
                       mime: str = "application/vnd.google-apps.document") -> str:
    """`actor` shares a new item of shared drive `drive_id` with `address` now (``"anyone"``: anyone with
    the link), for incremental tests: the item appears in the drive's listing and as a Reports drive event
    with ``owner_is_shared_drive``. Returns the item's id."""
    from datetime import UTC, datetime

    from sandbox.activity import activity
    from sandbox.activity_model import DriveEvent

    act = activity(dom)
    when = datetime.now(UTC) - timedelta(minutes=30)
    perm = (Perm("anyoneWithLink", "anyone", "reader") if address == "anyone"
            else Perm(perm_id(address), "user", role, address.lower()))
    with act._lock:
        n = len(act.drive_files.get(drive_id, []))
        f = File(file_id("live-sd", dom.seed, drive_id, n), f"Shared now {n}", mime, "", when, (perm,),
                 drive_id=drive_id)
        act.drive_files.setdefault(drive_id, []).append(f)
        act.plant_drive_events.append(DriveEvent(when, actor, f, perm))
        act.horizon = max(act.horizon, when + timedelta(minutes=1))
        act._cache.clear()
        act._days.clear()
    return f.id
