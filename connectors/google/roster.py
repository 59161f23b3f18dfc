"""The Google roster source: Directory + Classroom read concurrently into one RosterSnapshot.

Each collection is read in its own thread (users, org units, groups + members, courses +
rosters, guardians), so the long sequential chains (users paging, course rosters) overlap.
A collection that fails is left out of `snapshot.complete` and its error (naming the API)
goes to `snapshot.errors`; the others are still delivered, so the sync engine can apply
what was read without removing anything the failed API would have vouched for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from connectors.google.classroom import ClassroomReader
from connectors.google.directory import DirectoryReader, describe
from connectors.google.transport import GoogleClient
from integration.errors import SourceError
from integration.logs import event
from integration.protocols import Check
from integration.records import RosterSnapshot

log = logging.getLogger("safechannels.roster.google")


class GoogleRosterSource:
    """RosterSource over Directory and Classroom."""

    name = "google"
    platform = "classroom"
    collections = ("users", "org_units", "groups", "members", "courses", "enrolments", "guardians")

    def __init__(self, client: GoogleClient, *, admin: str, customer: str = "my_customer",
                 staff_groups: list[str] | None = None, pupil_groups: list[str] | None = None,
                 classroom: bool = True):
        self.client = client
        self.directory = DirectoryReader(client, admin=admin, customer=customer)
        self.classroom = ClassroomReader(client, admin=admin) if classroom else None
        self.groups_of_interest = sorted({g.lower() for g in (staff_groups or []) + (pupil_groups or [])})

    @property
    def api_calls(self) -> int:
        return self.client.stats.api_calls

    def fetch_roster(self) -> RosterSnapshot:
        snap = RosterSnapshot()
        jobs: dict[str, Callable[[], Any]] = {
            "users": self.directory.users,
            "org_units": self.directory.org_units,
            "groups": self._groups,
        }
        if self.classroom is not None:
            jobs["courses"] = self._courses
            jobs["guardians"] = self.classroom.guardians
        with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="roster") as pool:
            futures = {name: pool.submit(fn) for name, fn in jobs.items()}
            for name, fut in futures.items():
                try:
                    result = fut.result()
                except SourceError as exc:
                    self._failed(snap, name, exc)
                    continue
                except Exception as exc:  # noqa: BLE001 - a bug or odd wire data must not lose the other collections
                    event(log, "roster.collection_crashed", logging.ERROR, collection=name, error=repr(exc))
                    self._failed(snap, name, exc)
                    continue
                self._store(snap, name, result)
        return snap

    # -------------------------------------------------------------- collections

    def _groups(self):
        groups = self.directory.groups()
        try:
            members = self.directory.members(self.groups_of_interest)
        except SourceError as exc:
            return groups, None, exc
        return groups, members, None

    def _courses(self):
        assert self.classroom is not None
        courses = self.classroom.courses()
        try:
            enrolments, gone = self.classroom.rosters(c.course_id for c in courses)
        except SourceError as exc:
            return courses, None, exc
        return [c for c in courses if c.course_id not in gone], enrolments, None

    def _store(self, snap: RosterSnapshot, name: str, result: Any) -> None:
        if name in ("groups", "courses"):
            items, children, err = result
            child = "members" if name == "groups" else "enrolments"
            setattr(snap, name, items)
            snap.complete.add(name)
            if err is None:
                setattr(snap, child, children)
                snap.complete.add(child)
            else:
                self._failed(snap, child, err)
            return
        setattr(snap, name, result)
        snap.complete.add(name)

    @staticmethod
    def _failed(snap: RosterSnapshot, name: str, exc: Exception) -> None:
        snap.errors[name] = describe(exc)
        if name == "groups":
            snap.errors.setdefault("members", snap.errors[name])
        if name == "courses":
            snap.errors.setdefault("enrolments", snap.errors[name])
        event(log, "roster.collection_failed", logging.WARNING, collection=name, error=snap.errors[name])

    # -------------------------------------------------------------- doctor

    def check(self) -> list[Check]:
        checks = [_probe("Directory API (users.list)", self.directory.probe, "user")]
        if self.classroom is not None:
            checks.append(_probe("Classroom API (courses.list)", self.classroom.probe, "course"))
        return checks


def _probe(name: str, fn: Callable[[], int], noun: str) -> Check:
    try:
        n = fn()
    except SourceError as exc:
        return Check(name, False, str(exc), getattr(exc, "fix", "") or "")
    return Check(name, True, f"reachable ({n} {noun}{'s' if n != 1 else ''} on a 1-item page)")
