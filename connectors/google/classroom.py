"""Google Classroom → roster records: courses, teachers and students, guardians.

Courses are listed in every state but DECLINED (a declined invitation never became a class).
Teachers and students of all courses go out as Classroom batch requests (≤ 50 parts each,
`GoogleClient.batch_pages`), at the largest page size (1000), following nextPageToken for
rosters larger than a page; batches run concurrently within the API's in-flight cap.
Guardians come from `userProfiles/-/guardians` (all students; domain admins only), paged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from connectors.google.directory import parse_items
from connectors.google.scopes import SCOPES
from connectors.google.stamp import RequestStamp
from connectors.google.transport import GoogleClient
from integration.errors import NotFound, SkippableRecord
from integration.logs import event
from integration.records import CourseRecord, EnrolmentRecord, GuardianRecord

log = logging.getLogger("safechannels.classroom")

API = "classroom"
PAGE = 1000  # the sandbox's (and, per GAM, Google's) largest honoured page size; always follow nextPageToken
COURSE_STATES = ("ACTIVE", "ARCHIVED", "PROVISIONED", "SUSPENDED")  # all but DECLINED
COURSE_FIELDS = ("nextPageToken,courses(id,name,section,ownerId,courseState,alternateLink,"
                 "teacherGroupEmail,courseGroupEmail)")
ROSTER_FIELDS = {"teachers": "nextPageToken,teachers(userId,profile(id,name(fullName),emailAddress))",
                 "students": "nextPageToken,students(userId,profile(id,name(fullName),emailAddress))"}
GUARDIAN_FIELDS = ("nextPageToken,guardians(studentId,guardianId,invitedEmailAddress,"
                   "guardianProfile(id,name(fullName),emailAddress))")


# ------------------------------------------------------------------ wire -> records


def course_from_wire(item: Any) -> CourseRecord:
    if not isinstance(item, dict) or not item.get("id"):
        raise SkippableRecord("a course without id")
    return CourseRecord(
        course_id=str(item["id"]), name=str(item.get("name") or item["id"]), platform="classroom",
        section=str(item.get("section") or ""), state=str(item.get("courseState") or "ACTIVE"),
        owner_id=str(item.get("ownerId") or ""),
        teacher_group_email=str(item.get("teacherGroupEmail") or "").lower(),
        course_group_email=str(item.get("courseGroupEmail") or "").lower(), link=str(item.get("alternateLink") or ""))


def enrolment_from_wire(course_id: str, role: str, item: Any) -> EnrolmentRecord:
    """A teachers[]/students[] entry; the address needs the classroom.profile.emails scope."""
    if not isinstance(item, dict):
        raise SkippableRecord(f"a {role} of course {course_id} that is not an object")
    profile = item.get("profile") if isinstance(item.get("profile"), dict) else {}
    user_id = str(item.get("userId") or profile.get("id") or "")
    email = str(profile.get("emailAddress") or "").strip().lower()
    if not user_id and not email:
        raise SkippableRecord(f"a {role} of course {course_id} without userId or address")
    name = profile.get("name") if isinstance(profile.get("name"), dict) else {}
    return EnrolmentRecord(course_id=course_id, role=role, user_id=user_id, email=email,
                           name=str(name.get("fullName") or ""), platform="classroom")


def guardian_from_wire(item: Any) -> GuardianRecord:
    if not isinstance(item, dict) or not item.get("studentId"):
        raise SkippableRecord("a guardian link without studentId")
    profile = item.get("guardianProfile") if isinstance(item.get("guardianProfile"), dict) else {}
    email = str(profile.get("emailAddress") or item.get("invitedEmailAddress") or "").strip().lower()
    if not email:
        raise SkippableRecord("a guardian without an address")
    name = profile.get("name") if isinstance(profile.get("name"), dict) else {}
    return GuardianRecord(student_id=str(item["studentId"]), guardian_email=email,
                          guardian_name=str(name.get("fullName") or ""),
                          guardian_id=str(item.get("guardianId") or profile.get("id") or ""), platform="classroom")


# ------------------------------------------------------------------ reader


class ClassroomReader:
    """Reads Classroom as the delegated admin (who sees every course in the domain)."""

    def __init__(self, client: GoogleClient, *, admin: str):
        self.client = client
        self.admin = admin
        self.scopes = SCOPES["classroom"]

    def _svc(self):
        return self.client.service(API)

    def courses(self) -> list[CourseRecord]:
        def req(token: str | None):
            return self._svc().courses().list(courseStates=list(COURSE_STATES), pageSize=PAGE,
                                              fields=COURSE_FIELDS, pageToken=token)

        out: list[CourseRecord] = []
        for page in self.client.pages(API, req, subject=self.admin, scopes=self.scopes, ahead=True):
            out.extend(c for c in parse_items(page.get("courses") or [], course_from_wire, "course")
                       if c.state != "DECLINED")
        return out

    def rosters(self, course_ids: Iterable[str]) -> tuple[list[EnrolmentRecord], set[str]]:
        """Teachers and students of every course: (enrolments, ids of courses that vanished meanwhile).

        A course deleted between courses.list and its roster read (404) is reported, not an error;
        any other failure raises, so the caller never removes enrolments on a partial read."""
        def build(role: str, course_id: str, token: str | None = None):
            coll = self.client.resource(API, "courses", role)
            return coll.list(courseId=course_id, pageSize=PAGE, fields=ROSTER_FIELDS[role], pageToken=token)

        first_page = {role: RequestStamp(lambda cid, r=role: build(r, cid)) for role in ROSTER_FIELDS}

        def starter(course_id: str, role: str):
            def make(token: str | None):
                return first_page[role](course_id) if token is None else build(role, course_id, token)
            return make

        starts = {f"{role}:{cid}": starter(cid, role) for cid in course_ids for role in ("teachers", "students")}
        out: list[EnrolmentRecord] = []
        gone: set[str] = set()
        for key, page, err in self.client.batch_pages(API, starts, subject=self.admin, scopes=self.scopes):
            role, course_id = key.split(":", 1)
            if err is not None:
                if isinstance(err, NotFound):
                    event(log, "classroom.course_vanished", course=course_id)
                    gone.add(course_id)
                    continue
                raise err
            single = role[:-1]  # teachers -> teacher
            out.extend(parse_items((page or {}).get(role) or [],
                                   lambda i, c=course_id, r=single: enrolment_from_wire(c, r, i), f"course {single}"))
        return [e for e in out if e.course_id not in gone], gone

    def guardians(self) -> list[GuardianRecord]:
        def req(token: str | None):
            return self._svc().userProfiles().guardians().list(studentId="-", pageSize=PAGE,
                                                               fields=GUARDIAN_FIELDS, pageToken=token)

        out: list[GuardianRecord] = []
        for page in self.client.pages(API, req, subject=self.admin, scopes=self.scopes, ahead=True):
            out.extend(parse_items(page.get("guardians") or [], guardian_from_wire, "guardian"))
        return out

    def probe(self) -> int:
        """courses.list pageSize=1: proves the admin, the Classroom scopes and the API."""
        req = self._svc().courses().list(pageSize=1, fields="courses(id)")
        page = self.client.execute(API, req, subject=self.admin, scopes=self.scopes)
        return len(page.get("courses") or [])
