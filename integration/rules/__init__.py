"""The rule registry: an explicit list (no folder scanning), dispatched by record type.

Ids, default severities and policy clauses follow the catalogue in docs/rules.md.
"""

from __future__ import annotations

from integration.errors import ConfigError
from integration.records import ChatEvent, DriveItem, ForwardingSetting, MailEvent, MeetCall, OAuthGrant
from integration.rules import chat_meet, drive, mail, oauth
from integration.rules.base import SEVERITIES, Candidate, ChannelPolicy, Rule, RuleContext, check_record
from integration.settings import Settings

RULES: dict[str, Rule] = {r.id: r for r in (*mail.RULES, *drive.RULES, *chat_meet.RULES, *oauth.RULES)}


def rule_title(rule_id: str) -> str:
    """The rule in plain words (emails, pages); the id itself for a rule this version does not know."""
    rule = RULES.get(rule_id)
    return rule.title if rule else rule_id

# Which kind of activity each record type is, for sources that do not declare their streams.
RECORD_KINDS: dict[type, str] = {
    MailEvent: "mail", ForwardingSetting: "mail_settings", DriveItem: "drive", ChatEvent: "chat",
    MeetCall: "meet", OAuthGrant: "tokens",
}


class RuleSet:
    """The enabled rules of one run, with their effective severities, grouped by record type."""

    def __init__(self, rules: list[Rule], overrides: dict[str, str] | None = None):
        self.rules = rules
        self.overrides = dict(overrides or {})
        self.by_type: dict[type, list[Rule]] = {}
        for rule in rules:
            self.by_type.setdefault(rule.record_type, []).append(rule)

    def severity(self, rule: Rule, candidate: Candidate) -> str:
        return self.overrides.get(rule.id) or candidate.severity or rule.severity

    def rules_for_types(self, types: set[type] | None) -> list[str]:
        """Ids of enabled rules reading any of these record types (all rules when unknown)."""
        if types is None:
            return [r.id for r in self.rules]
        return [r.id for r in self.rules if r.record_type in types]


def rule_set(settings: Settings) -> RuleSet:
    """Enabled rules from ``[audit]``; an unknown id or severity is a ConfigError listing the known ones."""
    problems = []
    known = ", ".join(RULES)
    for rule_id in settings.audit.rules_disabled:
        if rule_id not in RULES:
            problems.append(f"[audit] rules_disabled: unknown rule id {rule_id!r} (known rule ids: {known})")
    for rule_id, sev in settings.audit.severity_overrides.items():
        if rule_id not in RULES:
            problems.append(f"[audit] severity_overrides: unknown rule id {rule_id!r} (known rule ids: {known})")
        elif sev not in SEVERITIES:
            problems.append(f"[audit] severity_overrides.{rule_id} must be high, medium or low, got {sev!r}")
    if problems:
        where = f"{settings.source_path}: " if settings.source_path else ""
        raise ConfigError(where + "; ".join(problems), [where + p for p in problems])
    disabled = set(settings.audit.rules_disabled)
    if settings.channels.chat_approved:  # an approved channel has nothing to catch: do not even read it
        disabled.add(chat_meet.CHAT_STAFF_PUPIL_DIRECT)
    if settings.channels.meet_approved:
        disabled.add(chat_meet.MEET_STAFF_PUPIL_ONE_TO_ONE)
    return RuleSet([r for r in RULES.values() if r.id not in disabled], settings.audit.severity_overrides)


__all__ = ["RECORD_KINDS", "RULES", "Candidate", "ChannelPolicy", "Rule", "RuleContext", "RuleSet",
           "check_record", "rule_set"]
