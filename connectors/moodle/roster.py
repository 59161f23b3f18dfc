"""Moodle → roster records: courses and their teachers and students, as a second learning platform.

Courses come from core_course_get_courses (the site front page, format "site", is skipped);
each course's people from core_enrol_get_enrolled_users, fanned out over a few threads.
Roles by shortname: editingteacher/teacher → teacher, student → student (others ignored).
People are matched to Directory accounts by address (Moodle accounts are the school's Google
accounts signed in through SSO). Parent links: Moodle keeps them as role assignments in *user*
context, and no core web-service function lists those, so Moodle guardians are not read.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from connectors.moodle.client import FIX, MoodleClient
from integration.errors import ConfigError, SkippableRecord, SourceError
from integration.logs import event
from integration.protocols import Check
from integration.records import CourseRecord, EnrolmentRecord, RosterSnapshot

log = logging.getLogger("safechannels.moodle")

TEACHER_ROLES = {"editingteacher", "teacher"}
STUDENT_ROLES = {"student"}
FUNCTIONS = ("core_webservice_get_site_info", "core_course_get_courses", "core_enrol_get_enrolled_users")
WORKERS = 4


def course_from_wire(item: Any, base_url: str) -> CourseRecord:
    if not isinstance(item, dict) or "id" not in item:
        raise SkippableRecord("a Moodle course without id")
    cid = str(item["id"])
    return CourseRecord(course_id=cid, name=str(item.get("fullname") or item.get("shortname") or cid),
                        platform="moodle", section=str(item.get("shortname") or ""),
                        state="ACTIVE" if item.get("visible", 1) else "ARCHIVED",
                        link=f"{base_url.rstrip('/')}/course/view.php?id={cid}")


def enrolments_from_wire(course_id: str, item: Any) -> list[EnrolmentRecord]:
    if not isinstance(item, dict):
        raise SkippableRecord(f"a Moodle participant of course {course_id} that is not an object")
    email = str(item.get("email") or "").strip().lower()
    if not email:
        raise SkippableRecord(f"a Moodle participant of course {course_id} without an address")
    shortnames = {str(r.get("shortname", "")) for r in item.get("roles") or [] if isinstance(r, dict)}
    out = []
    for role, names in (("teacher", TEACHER_ROLES), ("student", STUDENT_ROLES)):
        if shortnames & names:
            out.append(EnrolmentRecord(course_id=course_id, role=role, user_id="", email=email,
                                       name=str(item.get("fullname") or ""), platform="moodle"))
    return out


class MoodleRosterSource:
    name = "moodle"
    platform = "moodle"
    collections = ("courses", "enrolments")

    def __init__(self, client: MoodleClient, base_url: str):
        self.client = client
        self.base_url = base_url

    @classmethod
    def from_settings(cls, settings) -> MoodleRosterSource:
        path = settings.resolve(settings.moodle.token_file)
        try:
            token = Path(path).read_text(encoding="utf-8").strip()
        except OSError:
            raise ConfigError(f"[moodle] token_file: {path} cannot be read; {FIX}") from None
        if not token:
            raise ConfigError(f"[moodle] token_file: {path} is empty")
        return cls(MoodleClient(settings.moodle.url, token), settings.moodle.url)

    @property
    def api_calls(self) -> int:
        return self.client.calls

    def fetch_roster(self) -> RosterSnapshot:
        snap = RosterSnapshot()
        try:
            courses = self.courses()
        except SourceError as exc:
            snap.errors["courses"] = snap.errors["enrolments"] = _message(exc)
            return snap
        snap.courses, snap.complete = courses, {"courses"}
        try:
            snap.enrolments = self.enrolments([c.course_id for c in courses])
            snap.complete.add("enrolments")
        except SourceError as exc:
            snap.errors["enrolments"] = _message(exc)
        return snap

    def courses(self) -> list[CourseRecord]:
        out = []
        for item in self.client.call("core_course_get_courses") or []:
            if isinstance(item, dict) and (item.get("format") == "site" or item.get("id") == 1):
                continue
            try:
                out.append(course_from_wire(item, self.base_url))
            except SkippableRecord as exc:
                event(log, "roster.record_skipped", logging.WARNING, what="moodle course", reason=str(exc))
        return out

    def enrolments(self, course_ids: list[str]) -> list[EnrolmentRecord]:
        """Every course's participants; any course failing fails the collection (nothing is removed)."""
        def one(cid: str) -> list[EnrolmentRecord]:
            found: list[EnrolmentRecord] = []
            for item in self.client.call("core_enrol_get_enrolled_users", courseid=int(cid)) or []:
                try:
                    found.extend(enrolments_from_wire(cid, item))
                except SkippableRecord as exc:
                    event(log, "roster.record_skipped", logging.WARNING, what="moodle participant", reason=str(exc))
            return found

        out: list[EnrolmentRecord] = []
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="moodle") as pool:
            for chunk in pool.map(one, course_ids):
                out.extend(chunk)
        return out

    def check(self) -> list[Check]:
        try:
            info = self.client.call("core_webservice_get_site_info")
        except SourceError as exc:
            return [Check("moodle: web services", False, str(exc), exc.fix or FIX)]
        have = {f.get("name") for f in info.get("functions") or [] if isinstance(f, dict)}
        missing = [f for f in FUNCTIONS if have and f not in have]
        site = f"{info.get('sitename', '')} as {info.get('username', '')}"
        if missing:
            return [Check("moodle: web services", False, f"{site}: the service lacks {', '.join(missing)}", FIX)]
        return [Check("moodle: web services", True, site)]


def moodle_checks(settings) -> list[Check]:
    try:
        return MoodleRosterSource.from_settings(settings).check()
    except ConfigError as exc:
        return [Check("config: [moodle] token_file", False, str(exc), FIX)]


def _message(exc: SourceError) -> str:
    return f"{exc} — fix: {exc.fix}" if exc.fix else str(exc)
