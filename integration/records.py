"""Normalised records: what connectors hand to the core.

Connectors turn wire data (Google JSON, Moodle JSON) into these; the core never sees
wire shapes. All addresses are lower-cased by the connector. Records are frozen so
they can be hashed, de-duplicated and shared between threads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# --------------------------------------------------------------------------- roster


@dataclass(frozen=True)
class DirectoryUser:
    """A Workspace account (Directory users.list)."""

    google_id: str
    email: str
    name: str
    org_unit: str = "/"
    suspended: bool = False
    archived: bool = False
    aliases: tuple[str, ...] = ()
    is_admin: bool = False
    given_name: str = ""
    family_name: str = ""
    created: datetime | None = None


@dataclass(frozen=True)
class OrgUnitRecord:
    path: str
    name: str
    parent_path: str = ""
    org_unit_id: str = ""


@dataclass(frozen=True)
class GroupRecord:
    email: str
    name: str
    google_id: str = ""
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupMemberRecord:
    group_email: str
    member_email: str
    role: str = "MEMBER"  # OWNER | MANAGER | MEMBER
    type: str = "USER"  # USER | GROUP | CUSTOMER | EXTERNAL


@dataclass(frozen=True)
class CourseRecord:
    course_id: str
    name: str
    platform: str = "classroom"  # classroom | moodle | ...
    section: str = ""
    state: str = "ACTIVE"
    owner_id: str = ""
    teacher_group_email: str = ""
    course_group_email: str = ""
    link: str = ""


@dataclass(frozen=True)
class EnrolmentRecord:
    course_id: str
    role: str  # teacher | student
    user_id: str = ""
    email: str = ""
    name: str = ""
    platform: str = "classroom"


@dataclass(frozen=True)
class GuardianRecord:
    """A guardian link: a guardian address linked to a pupil (Classroom or Moodle parent link)."""

    student_id: str
    guardian_email: str
    guardian_name: str = ""
    guardian_id: str = ""
    student_email: str = ""
    state: str = "ACTIVE"  # ACTIVE | INVITED (invitation pending)
    platform: str = "classroom"


@dataclass
class RosterSnapshot:
    """One full read of the roster sources.

    ``complete`` names the collections that were read to the end. A collection missing
    from it (its API failed) is never used to remove anything: the store keeps what it had.
    ``errors`` maps collection -> operator message naming the API that failed.
    """

    users: list[DirectoryUser] = field(default_factory=list)
    org_units: list[OrgUnitRecord] = field(default_factory=list)
    groups: list[GroupRecord] = field(default_factory=list)
    members: list[GroupMemberRecord] = field(default_factory=list)
    courses: list[CourseRecord] = field(default_factory=list)
    enrolments: list[EnrolmentRecord] = field(default_factory=list)
    guardians: list[GuardianRecord] = field(default_factory=list)
    complete: set[str] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- activity


@dataclass(frozen=True)
class Permission:
    """One Drive sharing grant."""

    type: str  # user | group | domain | anyone
    role: str  # owner | organizer | fileOrganizer | writer | commenter | reader
    email: str = ""
    domain: str = ""
    display_name: str = ""
    permission_id: str = ""
    allow_discovery: bool = False
    inherited: bool = False  # granted on a parent folder (or the shared drive), not on this item
    roles: tuple[str, ...] = ()  # every role word an audit event gave (the widest is `role`)


@dataclass(frozen=True)
class DriveItem:
    """A file, folder or shared drive with its sharing, as read by a crawl or rebuilt from an event."""

    item_id: str
    title: str
    mime_type: str
    owner_email: str  # "" for shared-drive items
    permissions: tuple[Permission, ...]
    link: str = ""
    shared_drive_id: str = ""
    is_shared_drive: bool = False
    modified: datetime | None = None
    source: str = "drive.files.list"
    event_id: str = ""
    actor: str = ""  # who made the change an audit event reports ("" for a crawl)
    organizers: tuple[str, ...] = ()  # a shared-drive item's drive organizers (who answers for it)


@dataclass(frozen=True)
class MailEvent:
    """Metadata of one message as seen by one mailbox (never the body), or of a whole message once the
    engine has merged its sightings (then ``recipients`` holds every other participant)."""

    event_id: str  # stable de-duplication key
    time: datetime
    mailbox: str  # the school mailbox whose log/metadata this is
    direction: str  # sent | received
    sender: str
    recipients: tuple[str, ...]
    message_id: str = ""
    subject: str = ""
    display_names: tuple[tuple[str, str], ...] = ()  # (address, display name) pairs from headers
    source: str = "reports.gmail"
    event_ids: tuple[str, ...] = ()  # every sighting merged into this message (integration.mail_messages)


@dataclass(frozen=True)
class MailFilter:
    """A Gmail filter that forwards mail: where to, and which mail (its criteria), kept as evidence.

    Filters that only label or archive are not kept: they move no mail out of the school.
    """

    filter_id: str
    forward_to: str
    criteria: tuple[tuple[str, str], ...] = ()  # (from|to|subject|query|negatedQuery|..., value)
    add_label_ids: tuple[str, ...] = ()
    remove_label_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ForwardingSetting:
    """A mailbox's auto-forwarding, verified forwarding addresses and forwarding filters (Gmail settings)."""

    mailbox: str
    auto_forward_enabled: bool
    auto_forward_address: str = ""
    forwarding_addresses: tuple[str, ...] = ()
    source: str = "gmail.settings"
    filters: tuple[MailFilter, ...] = ()
    forwarded_out: tuple[str, ...] = ()  # a Reports event says forwarding out of the domain was set to these
    time: datetime | None = None  # when that event happened (None for a settings read)
    event_id: str = ""


@dataclass(frozen=True)
class ChatEvent:
    event_id: str
    time: datetime
    actor: str
    conversation_type: str  # e.g. USER_TO_USER_DIRECT_MESSAGE, SPACE
    participants: tuple[str, ...]  # every address in the conversation, actor included
    room_id: str = ""
    message_id: str = ""
    source: str = "reports.chat"


@dataclass(frozen=True)
class MeetCall:
    """One conference, rebuilt from the call_ended events of its participants."""

    conference_id: str
    time: datetime
    participants: tuple[str, ...]  # addresses; external/anonymous as "" are counted in `external_count`
    organizer: str = ""
    meeting_code: str = ""
    external_count: int = 0
    duration_seconds: int = 0
    event_ids: tuple[str, ...] = ()
    source: str = "reports.meet"


@dataclass(frozen=True)
class OAuthGrant:
    """A third-party app's access to an account: from tokens.list (state) or a Reports token event."""

    user_email: str
    client_id: str
    display_text: str
    scopes: tuple[str, ...] = ()
    source: str = "directory.tokens"
    event: str = ""  # "" (a tokens.list read), "authorize" or "revoke" (a Reports token event)
    time: datetime | None = None


ActivityRecord = DriveItem | MailEvent | ForwardingSetting | ChatEvent | MeetCall | OAuthGrant


@dataclass
class ActivityBatch:
    """A page of activity from one source stream, with the cursor that is safe to store after it."""

    stream: str
    records: list[ActivityRecord]
    cursor: dict | None = None
    partition: str = ""
    complete: bool = False  # the last page of this stream for this run


# --------------------------------------------------------------------------- acknowledgement


@dataclass(frozen=True)
class FormResponseRecord:
    response_id: str
    respondent_email: str  # "" when the form does not collect emails
    submitted: datetime
    created: datetime | None = None
    confirmed: bool = True  # the confirmation question was answered affirmatively


@dataclass(frozen=True)
class FormInfo:
    form_id: str
    title: str
    responder_uri: str
    collects_email: bool
    email_collection_type: str = ""
    description: str = ""
    confirmation_question_id: str = ""
