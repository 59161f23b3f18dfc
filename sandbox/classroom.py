"""Google Classroom API: courses, teachers, students, guardians (and invitations), push registrations.

As Google does: courses come newest first; a domain-admin subject sees every course,
anyone else only their own; ``profile.emailAddress`` is present only when the token
carries ``classroom.profile.emails``; ``userProfiles/-/guardians`` is for admins only.
Registrations are stored in ``Domain.registrations`` for a push-delivery module.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sandbox.api import ApiRequest, Registry
from sandbox.errors import ApiError
from sandbox.model import Course, Domain, Guardian, User
from sandbox.paging import paginate

FEED_TYPES = {"DOMAIN_ROSTER_CHANGES", "COURSE_ROSTER_CHANGES", "COURSE_WORK_CHANGES"}
COURSE_STATES = {"ACTIVE", "ARCHIVED", "PROVISIONED", "DECLINED", "SUSPENDED"}
T = TypeVar("T")


def not_found() -> ApiError:
    return ApiError(404, "Requested entity was not found.", "notFound", status="NOT_FOUND")


def denied() -> ApiError:
    return ApiError(403, "The caller does not have permission", "forbidden", status="PERMISSION_DENIED")


def invalid(message: str) -> ApiError:
    return ApiError(400, message, "invalid", status="INVALID_ARGUMENT")


def course_json(c: Course) -> dict[str, Any]:
    return {
        "id": c.id, "name": c.name, "section": c.section, "ownerId": c.owner_id, "creationTime": c.creation_time,
        "updateTime": c.update_time, "enrollmentCode": c.enrollment_code, "courseState": c.course_state,
        "alternateLink": c.alternate_link, "teacherGroupEmail": c.teacher_group_email,
        "courseGroupEmail": c.course_group_email, "guardiansEnabled": True,
        "calendarId": f"classroom{c.id}@group.calendar.google.com",
        "teacherFolder": {"id": "0B" + c.id, "title": f"{c.name} Teacher Folder",
                          "alternateLink": f"https://drive.google.com/drive/folders/0B{c.id}"},
    }


def profile_json(u: User, with_email: bool) -> dict[str, Any]:
    name = {k: v for k, v in (("givenName", u.given_name), ("familyName", u.family_name),
                              ("fullName", u.full_name)) if v}
    body: dict[str, Any] = {"id": u.id, "name": name, "photoUrl": "//lh3.googleusercontent.com/a/default-user"}
    if with_email:
        body["emailAddress"] = u.primary_email
    return body


def guardian_json(g: Guardian) -> dict[str, Any]:
    name = {k: v for k, v in (("givenName", g.given_name), ("familyName", g.family_name),
                              ("fullName", g.full_name)) if v}
    return {"studentId": g.student_id, "guardianId": g.guardian_id, "invitedEmailAddress": g.email,
            "guardianProfile": {"id": g.guardian_id, "name": name, "emailAddress": g.email}}


def _person(req: ApiRequest, key: str) -> User:
    if key == "me":
        if req.subject is None:
            raise not_found()
        return req.subject
    user = req.domain.find_user(key)
    if user is None:
        raise not_found()
    return user


def _course(req: ApiRequest, key: str) -> Course:
    course = req.domain.find_course(key)
    if course is None:
        raise not_found()
    if not req.is_admin and (req.subject is None or req.subject.id not in course.teacher_ids + course.student_ids):
        raise denied()
    return course


def _listing(req: ApiRequest, key: str, items: Sequence[T], collection: str,
             render: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
    """One page of `items`; only that page is rendered (a trust has ~15k guardians)."""
    page, token = paginate(req, items, collection)
    body: dict[str, Any] = {}
    if page:
        body[key] = [render(item) for item in page]
    if token:
        body["nextPageToken"] = token
    return body


def register(api: Registry, domain: Domain) -> None:
    @api.method("classroom.courses.list")
    def courses_list(req: ApiRequest) -> dict[str, Any]:
        states = set(req.args("courseStates"))
        if states - COURSE_STATES:
            raise invalid("Invalid courseStates")
        with domain.lock:
            courses = list(domain.courses)
            if req.arg("teacherId"):
                tid = _person(req, req.arg("teacherId") or "").id
                courses = [c for c in courses if tid in c.teacher_ids]
            if req.arg("studentId"):
                sid = _person(req, req.arg("studentId") or "").id
                courses = [c for c in courses if sid in c.student_ids]
            if not req.is_admin:
                me = req.subject.id if req.subject else ""
                courses = [c for c in courses if me in c.teacher_ids or me in c.student_ids]
            if states:
                courses = [c for c in courses if c.course_state in states]
            courses.sort(key=lambda c: (c.creation_time, c.id), reverse=True)
            return _listing(req, "courses", courses, "courses", course_json)

    @api.method("classroom.courses.get")
    def courses_get(req: ApiRequest) -> dict[str, Any]:
        with domain.lock:
            return course_json(_course(req, req.params["id"]))

    def roster(req: ApiRequest, role: str) -> dict[str, Any]:
        with_email = req.has_scope("classroom.profile.emails")
        with domain.lock:
            course = _course(req, req.params["courseId"])
            by_id = domain.user_by_id()
            ids = course.teacher_ids if role == "teachers" else course.student_ids
            members = [by_id[uid] for uid in ids if uid in by_id and not by_id[uid].deleted]
            return _listing(req, role, members, f"{role}:{course.id}", lambda u: {
                "courseId": course.id, "userId": u.id, "profile": profile_json(u, with_email)})

    @api.method("classroom.courses.teachers.list")
    def teachers_list(req: ApiRequest) -> dict[str, Any]:
        return roster(req, "teachers")

    @api.method("classroom.courses.students.list")
    def students_list(req: ApiRequest) -> dict[str, Any]:
        return roster(req, "students")

    @api.method("classroom.userProfiles.guardians.list")
    def guardians_list(req: ApiRequest) -> dict[str, Any]:
        student_key = req.params["studentId"]
        invited = (req.arg("invitedEmailAddress") or "").lower()
        if (student_key == "-" or invited) and not req.is_admin:
            raise denied()
        with domain.lock:
            by_id = domain.user_by_id()
            guardians = [g for g in domain.guardians if g.student_id in by_id and not by_id[g.student_id].deleted]
            if student_key != "-":
                student = _person(req, student_key)
                if not req.is_admin and req.subject is not student and not any(
                        req.subject and req.subject.id in c.teacher_ids and student.id in c.student_ids
                        for c in domain.courses):
                    raise denied()
                guardians = [g for g in guardians if g.student_id == student.id]
            if invited:
                guardians = [g for g in guardians if g.email.lower() == invited]
            return _listing(req, "guardians", guardians, "guardians:" + student_key, guardian_json)

    @api.method("classroom.userProfiles.guardianInvitations.list")
    def invitations_list(req: ApiRequest) -> dict[str, Any]:
        if not req.is_admin:
            raise denied()
        student_key, states = req.params["studentId"], set(req.args("states"))
        invited = (req.arg("invitedEmailAddress") or "").lower()
        with domain.lock:
            invitations = list(domain.guardian_invitations)
            if student_key != "-":
                sid = _person(req, student_key).id
                invitations = [i for i in invitations if i.student_id == sid]
            invitations = [i for i in invitations
                           if (not states or i.state in states) and (not invited or i.invited_email == invited)]
            return _listing(req, "guardianInvitations", invitations, "invitations:" + student_key, lambda i: {
                "studentId": i.student_id, "invitationId": i.invitation_id, "invitedEmailAddress": i.invited_email,
                "state": i.state, "creationTime": i.creation_time})

    @api.method("classroom.registrations.create")
    def registrations_create(req: ApiRequest) -> dict[str, Any]:
        body = req.body if isinstance(req.body, dict) else {}
        feed = body.get("feed") or {}
        topic = (body.get("cloudPubsubTopic") or {}).get("topicName", "")
        if feed.get("feedType") not in FEED_TYPES or not topic.startswith("projects/"):
            raise invalid("Invalid registration: feed.feedType and cloudPubsubTopic.topicName are required")
        if feed["feedType"] != "DOMAIN_ROSTER_CHANGES":
            course_id = (feed.get("courseRosterChangesInfo") or feed.get("courseWorkChangesInfo") or {}).get("courseId")
            if not course_id or domain.find_course(str(course_id)) is None:
                raise not_found()
        expiry = (datetime.now(UTC) + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        registration = {"registrationId": secrets.token_hex(12), "feed": feed,
                        "cloudPubsubTopic": {"topicName": topic}, "expiryTime": expiry}
        with domain.lock:
            domain.registrations[registration["registrationId"]] = {**registration, "subject": req.subject_email}
        return registration

    @api.method("classroom.registrations.delete")
    def registrations_delete(req: ApiRequest) -> dict[str, Any]:
        with domain.lock:
            if domain.registrations.pop(req.params["registrationId"], None) is None:
                raise not_found()
        return {}
