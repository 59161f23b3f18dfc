"""Builds connectors from a Context; called only by integration.wiring."""

from __future__ import annotations

from datetime import timedelta


def roster_sources(ctx) -> list:
    """Google (Directory, plus Classroom when it is a learning platform) and Moodle when configured."""
    from connectors.google.roster import GoogleRosterSource
    from integration.errors import ConfigError

    s = ctx.settings
    if not s.google.admin_subject:
        raise ConfigError("[google] admin_subject is empty: set it to an admin account the service account "
                          "may impersonate (e.g. it.admin@your-school.sch.uk)")
    platforms = [p.lower() for p in s.channels.learning_platforms]
    sources: list = [GoogleRosterSource(ctx.google, admin=s.google.admin_subject, customer=s.google.customer,
                                        staff_groups=s.roster.staff_groups, pupil_groups=s.roster.pupil_groups,
                                        classroom="classroom" in platforms)]
    if "moodle" in platforms:
        from connectors.moodle.roster import MoodleRosterSource

        sources.append(MoodleRosterSource.from_settings(s))
    return sources


def activity_sources(ctx) -> list:
    """The Google activity source (Drive, mail, forwarding, Chat, Meet, OAuth grants); one per Context,
    so its mail-source decision is shared with doctor."""
    from connectors.google.activity import GoogleActivitySource
    from integration.errors import ConfigError

    s = ctx.settings
    if not s.google.admin_subject:
        raise ConfigError("[google] admin_subject is empty: set it to an admin account the service account "
                          "may impersonate (e.g. it.admin@your-school.sch.uk)")
    cached = ctx.__dict__.get("_google_activity_source")
    if cached is None:
        cached = GoogleActivitySource(ctx.google, s.google.admin_subject, mail_source=s.audit.mail_source,
                                      state_every=timedelta(hours=s.audit.state_reread_hours))
        ctx.__dict__["_google_activity_source"] = cached
    return [cached]


def acknowledgement_source(ctx):
    """The Google Forms source, impersonating [acknowledgement] form_owner (default [google] admin_subject)."""
    from connectors.google.forms import FormsAcknowledgementSource
    from integration.errors import ConfigError

    s = ctx.settings
    owner = s.acknowledgement.form_owner or s.google.admin_subject
    if not owner:
        raise ConfigError("[acknowledgement] form_owner (or [google] admin_subject) is empty: set it to the "
                          "account that owns (or will own) the acknowledgement form")
    return FormsAcknowledgementSource(ctx.google, owner=owner)


def mailer(ctx):
    """The [alerts] transport: smtp | gmail (domain-wide delegation, gmail.send) | outbox (.eml files)."""
    a = ctx.settings.alerts
    if a.transport == "smtp":
        from connectors.mail.smtp import SmtpMailer

        return SmtpMailer(a.smtp_url, a.from_address)
    if a.transport == "gmail":
        from connectors.mail.gmail_send import GmailSendMailer

        return GmailSendMailer(ctx.google, a.from_address)
    from connectors.mail.outbox_dir import OutboxDirMailer

    return OutboxDirMailer(ctx.settings.resolve(a.outbox_dir), a.from_address)


def doctor_checks(ctx) -> list:
    return list(iter_doctor_checks(ctx))


def iter_doctor_checks(ctx):
    """Live probes for `doctor`, each as soon as it is known: key, one token per scope group, each
    API, the configured OUs (and Moodle), then the rest of the service."""
    from connectors.google.doctor import iter_google_checks

    unusable, down = False, ""
    for check in iter_google_checks(ctx.settings):
        unusable |= check.ok is False and check.name.startswith(("config", "key file"))
        if not check.ok and check.name.startswith("reach ") and not down:
            down = check.name[len("reach "):]
        yield check
    if "moodle" in [p.lower() for p in ctx.settings.channels.learning_platforms]:
        from connectors.moodle.roster import moodle_checks

        for check in moodle_checks(ctx.settings):
            unusable |= check.ok is False and check.name.startswith(("config", "key file"))
            yield check
    if unusable:
        return  # nothing further can work until the configuration is fixed
    yield from _service_checks(ctx, google_down=down)


def _service_checks(ctx, google_down: str = "") -> list:
    """The rest of the service: the alert transport, the acknowledgement form, push vs polling.
    ``google_down``: the Google endpoint found unreachable above; checks needing it are skipped."""
    from integration.errors import SafeChannelsError
    from integration.protocols import Check

    out: list = []
    sources = (lambda: [Check("audit sources", False, f"skipped: nothing answers at {google_down}", "")]) \
        if google_down else (lambda: [c for src in activity_sources(ctx) for c in src.check()])
    probes = [("audit sources", sources), ("alerts transport", lambda: mailer(ctx).check())]
    try:
        ready = {"ack_rounds", "watch_channels"} <= set(ctx.store.tables())
    except SafeChannelsError as exc:
        return out + [Check("database", False, str(exc), getattr(exc, "fix", ""))]
    if not ready:  # doctor never creates the database; the first sync does
        out.append(Check("database", True, f"{ctx.store.safe_url}: not initialised yet (the first 'sync' creates it)"))
    else:
        out.append(Check("database", ctx.store.ping(), ctx.store.safe_url, "check [database] url"))
        probes.append(("acknowledgement", lambda: _ack_checks(ctx, google_down)))
    for name, probe in probes:
        try:
            out += probe()
        except SafeChannelsError as exc:
            out.append(Check(name, False, str(exc), getattr(exc, "fix", "")))
    if not ready:
        return out
    try:
        from integration.watches import push_status

        for source, mode, detail in push_status(ctx):
            out.append(Check(f"updates: {source}", True, f"{mode}: {detail}"))
    except SafeChannelsError as exc:
        out.append(Check("updates", False, str(exc), getattr(exc, "fix", "")))
    return out


def _ack_checks(ctx, google_down: str = "") -> list:
    from integration.acknowledgement import checks

    return checks(ctx, google_down) if ctx.settings.acknowledgement.policy_version else []
