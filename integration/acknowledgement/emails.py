"""Email text for acknowledgement: the request, the new-starter request, reminders, escalation.

Plain text plus escaped HTML. Every staff email carries the form link (responderUri) and the
policy link; the escalation lists names, org units and days overdue — nothing else.
"""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

from integration.acknowledgement.matching import Member
from integration.acknowledgement.schools import school_name
from integration.protocols import OutgoingEmail
from integration.settings import Settings
from integration.store.models_acks import AckRound


def _date(t: datetime, settings: Settings) -> str:
    return t.astimezone(ZoneInfo(settings.school.timezone)).strftime("%A %d %B %Y")


def _html(paragraphs: list[str], link: str, label: str) -> str:
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return f'{body}<p><a href="{html.escape(link, quote=True)}">{html.escape(label)}</a></p>'


def request_email(kind: str, member: Member, rnd: AckRound, settings: Settings, day: int = 0) -> OutgoingEmail:
    """kind: invite | new_starter | reminder."""
    school, version = school_name(settings, rnd), rnd.policy_version
    policy_url = settings.acknowledgement.policy_url
    due = _date(member.due, settings)
    if kind == "reminder":
        subject = f"Reminder: please acknowledge the {school} policy (version {version})"
        opening = (f"Our records show you have not yet confirmed that you have read the policy (version {version}). "
                   f"Please do so by {due}.")
    elif kind == "new_starter":
        subject = f"Welcome to {school}: please read and acknowledge our policy (version {version})"
        opening = (f"Welcome to {school}. Every member of staff reads and acknowledges our safeguarding and "
                   f"communication policy (version {version}). Please do so by {due}.")
    else:
        subject = f"Please read and acknowledge the {school} policy (version {version})"
        opening = (f"Version {version} of our safeguarding and communication policy has been published. "
                   f"Please read it and confirm that you have read and understood it by {due}.")
    paragraphs = [f"Dear {member.name},", opening]
    if policy_url:
        paragraphs.append(f"The policy: {policy_url}")
    paragraphs.append("Confirm with the form (sign in with your school account):")
    text = "\n\n".join(paragraphs + [rnd.responder_uri, f"Thank you,\n{school}"]) + "\n"
    return OutgoingEmail(to=[member.email], subject=subject, text=text,
                         html=_html(paragraphs, rnd.responder_uri, "Open the acknowledgement form"),
                         headers={"X-SafeChannels-Kind": f"ack-{kind}"})


def escalation_email(recipient: str, overdue: list[Member], rnd: AckRound, settings: Settings,
                     now: datetime, day: int) -> OutgoingEmail:
    school, version = school_name(settings, rnd), rnd.policy_version
    lines = [f"- {m.name} <{m.email}> ({m.org_unit}), {(now - m.due).days} day(s) overdue"
             for m in sorted(overdue, key=lambda m: (m.org_unit, m.name.lower()))]
    paragraphs = [
        f"{len(overdue)} member(s) of staff have not acknowledged the {school} policy (version {version}) by "
        f"their deadline ({settings.acknowledgement.deadline_days} days after they were asked). They continue to "
        "receive reminders; please follow up with them.",
    ]
    text = "\n\n".join(paragraphs + ["\n".join(lines), f"The form: {rnd.responder_uri}",
                                     "Run 'python -m integration acks --report csv' for the full compliance "
                                     "report by org unit and role."]) + "\n"
    items = "".join(f"<li>{html.escape(line[2:])}</li>" for line in lines)
    body = _html(paragraphs, rnd.responder_uri, "The acknowledgement form")
    return OutgoingEmail(to=[recipient], subject=f"Policy acknowledgement overdue: {len(overdue)} outstanding "
                         f"(version {version}, day {day})", text=text, html=f"{body}<ul>{items}</ul>",
                         headers={"X-SafeChannels-Kind": "ack-escalation"})
