"""Email text for alerts, escalations and digests (plain text + escaped HTML).

Why so careful: alerts leave the service by email. They carry metadata only (who, when,
where, which clause) and a link to the finding's page — never a message body, file content
or a counterpart's or guardian's personal address (`guard.school_only`, applied to every queued
email, masks any that slips through) — and the Subject line never names a pupil.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from integration.protocols import OutgoingEmail
from integration.rules import rule_title
from integration.settings import Settings
from integration.store.models_audit import Finding
from integration.store.models_roster import Person

# Evidence keys that are metadata and may be shown; anything else (a body, content, snippet) never is.
_WHERE_KEYS = (("title", "File"), ("subject", "Message subject"), ("meeting_code", "Meeting code"),
               ("app", "App"), ("display_text", "App"), ("shared_drive", "Shared drive"),
               ("mailbox", "Mailbox"), ("link", "Link"))
_REF_KEYS = (("message_id", "Message id"), ("file_id", "File id"), ("conference_id", "Conference id"),
             ("event_ids", "Event ids"), ("client_id", "App client id"))


def finding_ref(finding_id: int) -> str:
    return f"F-{finding_id}"


def finding_url(settings: Settings, finding_id: int) -> str:
    return f"{settings.alerts.base_url.rstrip('/')}/findings/{finding_id}"


def local_time(when: datetime | None, settings: Settings) -> str:
    if when is None:
        return "unknown"
    tz = ZoneInfo(settings.school.timezone)
    return when.astimezone(tz).strftime("%a %d %b %Y, %H:%M %Z")


@dataclass
class Line:
    label: str
    value: str
    href: str = ""


def _person(session: Session, address: str | None) -> str:
    if not address:
        return ""
    name = session.scalar(select(Person.name).where(Person.email == address.lower()))
    return f"{name} <{address}>" if name else address


def _evidence_lines(evidence: dict) -> list[Line]:
    out: list[Line] = []
    for keys in (_WHERE_KEYS, _REF_KEYS):
        for key, label in keys:
            value = evidence.get(key)
            if value in (None, "", [], ()):
                continue
            if isinstance(value, list | tuple):
                value = ", ".join(str(v) for v in value[:10]) + (" …" if len(value) > 10 else "")
            text = str(value)[:300]
            out.append(Line(label, text, href=text if key == "link" and text.startswith("https://") else ""))
    return out


def finding_lines(session: Session, f: Finding, settings: Settings) -> list[Line]:
    lines = [Line("Rule", f"{rule_title(f.rule)} ({f.rule})"), Line("Severity", f.severity.capitalize())]
    if f.staff:
        lines.append(Line("Staff member", _person(session, f.staff)))
    if f.pupil:
        lines.append(Line("Pupil", _person(session, f.pupil)))
    if f.guardian:  # a personal address: on the finding's page only (every view logged), never in email
        lines.append(Line("Parent/carer", "personal address, shown on the finding's page"))
    seen = local_time(f.first_seen, settings)
    if f.last_seen and f.first_seen and f.last_seen != f.first_seen:
        seen += f" (latest {local_time(f.last_seen, settings)}; {f.occurrences} occurrences)"
    lines.append(Line("When", seen))
    lines.extend(_evidence_lines(f.evidence or {}))
    if f.policy:
        lines.append(Line("Policy breached", "; ".join(str(p) for p in f.policy)))
    lines.append(Line("Confidence", "known" if f.confidence == "known" else "suspected (matched by name)"))
    if f.source:
        lines.append(Line("Source", f.source))
    return lines


def _render(intro: str, sections: list[tuple[str, list[Line], str]], outro: str) -> tuple[str, str]:
    """Plain text and HTML from the same content; every value HTML-escaped."""
    text = [intro, ""]
    parts = [f"<p>{html.escape(intro)}</p>"]
    for heading, lines, link in sections:
        if heading:
            text += [heading, "-" * min(len(heading), 70)]
            parts.append(f"<h3>{html.escape(heading)}</h3>")
        text += [f"{ln.label}: {ln.value}" for ln in lines]
        rows = "".join(
            f"<tr><th align=\"left\" valign=\"top\">{html.escape(ln.label)}</th><td>"
            + (f"<a href=\"{html.escape(ln.href, quote=True)}\">{html.escape(ln.value)}</a>" if ln.href
               else html.escape(ln.value)) + "</td></tr>" for ln in lines)
        parts.append(f"<table cellpadding=\"4\">{rows}</table>")
        if link:
            text.append(f"Open the finding: {link}")
            parts.append(f"<p><a href=\"{html.escape(link, quote=True)}\">Open the finding</a></p>")
        text.append("")
    text.append(outro)
    parts.append(f"<p><small>{html.escape(outro)}</small></p>")
    return "\n".join(text) + "\n", "<html><body>" + "\n".join(parts) + "</body></html>\n"


FOOTER = ("Sent by SafeChannels. This email holds metadata only; open the finding to see the details "
          "and record your triage. Do not forward it outside the safeguarding team.")


def finding_email(session: Session, f: Finding, settings: Settings, where: str = "") -> OutgoingEmail:
    """``where``: the school(s) named in the email (default ``[school] name``)."""
    subject = f"[SafeChannels] {f.severity.capitalize()}: {rule_title(f.rule)} — ref {finding_ref(f.id)}"
    intro = (f"A {f.severity} channel-safeguarding finding needs your attention at "
             f"{where or settings.school.name}.")
    text, body_html = _render(intro, [("", finding_lines(session, f, settings), finding_url(settings, f.id))], FOOTER)
    return OutgoingEmail(to=[], subject=subject, text=text, html=body_html)


def escalation_email(session: Session, f: Finding, settings: Settings, hours: int, where: str = "") -> OutgoingEmail:
    subject = (f"[SafeChannels] Escalation: {f.severity} alert not triaged in {hours} h — "
               f"{rule_title(f.rule)} — ref {finding_ref(f.id)}")
    at = f" at {where}" if where else ""
    intro = (f"This {f.severity} finding{at} was sent to the Designated Safeguarding Lead more than {hours} hours "
             f"ago and has not been opened or triaged yet. As a deputy, please review it.")
    text, body_html = _render(intro, [("", finding_lines(session, f, settings), finding_url(settings, f.id))], FOOTER)
    return OutgoingEmail(to=[], subject=subject, text=text, html=body_html)


def digest_email(session: Session, new: list[Finding], updated: list[tuple[Finding, int]], settings: Settings,
                 now: datetime, where: str = "") -> OutgoingEmail:
    """``updated`` pairs each finding with the occurrence count the DSL was last told; ``where`` names
    the recipient's school(s) (default ``[school] name``)."""
    day = now.astimezone(ZoneInfo(settings.school.timezone)).strftime("%a %d %b %Y")
    subject = f"[SafeChannels] Daily digest {day}: {len(new)} new, {len(updated)} updated"
    intro = (f"Channel-safeguarding digest for {where or settings.school.name}: {len(new)} new lower-severity "
             f"finding(s) and {len(updated)} finding(s) with new occurrences since the last digest.")
    sections: list[tuple[str, list[Line], str]] = []
    for f in new:
        sections.append((f"New: {rule_title(f.rule)} — ref {finding_ref(f.id)}",
                         finding_lines(session, f, settings), finding_url(settings, f.id)))
    for f, before in updated:
        lines = [Line("New occurrences", f"{f.occurrences - before} (now {f.occurrences} in all)"),
                 Line("Status", f.status)] + finding_lines(session, f, settings)
        sections.append((f"Updated: {rule_title(f.rule)} — ref {finding_ref(f.id)}", lines,
                         finding_url(settings, f.id)))
    text, body_html = _render(intro, sections, FOOTER)
    return OutgoingEmail(to=[], subject=subject, text=text, html=body_html)


_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
BURST_LISTED = 200  # a larger burst lists the first 200 (highest severity, newest) and links the inbox


def burst_order(findings: list[Finding]) -> list[Finding]:
    """Highest severity first, then newest: the inbox's default order, so the email reads like it."""
    newest = sorted(findings, key=lambda f: (f.first_seen.timestamp() if f.first_seen else 0, f.id), reverse=True)
    return sorted(newest, key=lambda f: _SEVERITY_ORDER.get(f.severity, 3))


def _burst_lines(session: Session, f: Finding, settings: Settings) -> list[Line]:
    """A short entry per finding (the full details are one click away): who, when, where."""
    lines = []
    if f.staff:
        lines.append(Line("Staff member", _person(session, f.staff)))
    if f.pupil:
        lines.append(Line("Pupil", _person(session, f.pupil)))
    if f.guardian:
        lines.append(Line("Parent/carer", "personal address, shown on the finding's page"))
    lines.append(Line("When", local_time(f.first_seen, settings)))
    return lines + [ln for ln in _evidence_lines(f.evidence or {}) if ln.label in ("File", "Message subject")][:1]


def burst_email(session: Session, findings: list[Finding], settings: Settings, window_minutes: int,
                where: str = "") -> OutgoingEmail:
    """One email listing a burst of high/medium findings (e.g. a school's first audit), each with its link."""
    ordered = burst_order(findings)
    counts = {sev: sum(f.severity == sev for f in ordered) for sev in ("high", "medium")}
    split = ", ".join(f"{n} {sev}" for sev, n in counts.items() if n)
    subject = f"[SafeChannels] {len(ordered)} findings need your attention ({split})"
    intro = (f"{len(ordered)} new channel-safeguarding findings ({split}) were raised at {where or settings.school.name} "
             f"within {window_minutes} minutes (a first audit, or a busy day). Rather than one email each, they are "
             f"listed here, highest severity first; each links to its page, where you record your triage.")
    listed = ordered[:BURST_LISTED]
    sections = [(f"{f.severity.capitalize()}: {rule_title(f.rule)} — ref {finding_ref(f.id)}",
                 _burst_lines(session, f, settings), finding_url(settings, f.id)) for f in listed]
    rest = len(ordered) - len(listed)
    outro = (f"{rest} more are on the dashboard: {settings.alerts.base_url.rstrip('/')}/findings?status=open. "
             if rest else "") + FOOTER
    text, body_html = _render(intro, sections, outro)
    return OutgoingEmail(to=[], subject=subject, text=text, html=body_html)
