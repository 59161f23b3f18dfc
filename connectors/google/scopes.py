"""Every OAuth scope the service asks for, per API, with why. One table; doctor prints it.

Least privilege: read-only scopes everywhere except sending alert mail and creating the
acknowledgement form. `gmail.settings.basic` is used to *read* forwarding settings because the
only read-only alternative (`gmail.readonly`) would also grant reading message bodies.
"""

from __future__ import annotations

AUTH = "https://www.googleapis.com/auth/"

# api -> scopes requested together for that API's calls
SCOPES: dict[str, tuple[str, ...]] = {
    "directory": (
        AUTH + "admin.directory.user.readonly",
        AUTH + "admin.directory.group.readonly",
        AUTH + "admin.directory.orgunit.readonly",
    ),
    "tokens": (AUTH + "admin.directory.user.security",),
    "reports": (AUTH + "admin.reports.audit.readonly",),
    "classroom": (
        AUTH + "classroom.courses.readonly",
        AUTH + "classroom.rosters.readonly",
        AUTH + "classroom.profile.emails",
        AUTH + "classroom.guardianlinks.students.readonly",
    ),
    "drive": (AUTH + "drive.metadata.readonly",),
    "shared_drives": (AUTH + "drive.readonly",),
    "gmail_metadata": (AUTH + "gmail.metadata",),
    "gmail_settings": (AUTH + "gmail.settings.basic",),
    "gmail_send": (AUTH + "gmail.send",),
    "forms": (AUTH + "forms.body", AUTH + "forms.responses.readonly"),
    "chat_admin": (AUTH + "chat.admin.memberships.readonly",),
}

# Groups the audit works without: doctor reports them as a mode, not a failure.
OPTIONAL: frozenset[str] = frozenset({"chat_admin"})

WHY: dict[str, str] = {
    "directory": "read users, groups and org units for the roster",
    "tokens": "read which third-party apps accounts have authorised (no read-only scope exists)",
    "reports": "read Drive, Gmail, Chat and Meet audit events",
    "classroom": "read courses, teachers, students and guardians",
    "drive": "read file sharing metadata (never file contents)",
    "shared_drives": "list shared drives domain-wide (drives.list accepts no narrower scope)",
    "gmail_metadata": "read message headers of mailboxes when Reports has no Gmail events (never bodies)",
    "gmail_settings": "read auto-forwarding, forwarding addresses and filters (grants no mail access)",
    "gmail_send": "send DSL alerts through Gmail when [alerts] transport = 'gmail'",
    "forms": "create the acknowledgement form and read its responses",
    "chat_admin": "optional: list the two members of Chat direct messages (spaces.members.list with admin access), "
                  "so a DM where only the staff member wrote is found; without it DMs are judged once both have posted",
}

# The API (discovery name, version) each scope group is used with.
API_OF: dict[str, str] = {
    "directory": "directory", "tokens": "directory", "reports": "reports", "classroom": "classroom",
    "drive": "drive", "shared_drives": "drive", "gmail_metadata": "gmail", "gmail_settings": "gmail",
    "gmail_send": "gmail", "forms": "forms", "chat_admin": "chat",
}


def all_scopes(groups: list[str] | None = None) -> list[str]:
    """The de-duplicated scope list for the Admin console's domain-wide delegation entry."""
    out: list[str] = []
    for g in groups or list(SCOPES):
        for s in SCOPES[g]:
            if s not in out:
                out.append(s)
    return out
