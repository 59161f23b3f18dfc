"""`findings`: list findings (--status, --rule), or triage one (--set-status ID STATUS --actor EMAIL)."""

from __future__ import annotations

import argparse
import getpass

from integration import findings as repo
from integration.cli.school_option import add_school_argument, checked_school
from integration.errors import InputError
from integration.store.models_audit import FINDING_STATUSES
from integration.wiring import context_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--status", choices=FINDING_STATUSES, help="only findings with this status")
    p.add_argument("--rule", help="only findings of this rule id")
    add_school_argument(p)
    p.add_argument("--set-status", nargs=2, metavar=("ID", "STATUS"),
                   help="move a finding along new -> reviewing -> resolved/false_positive (reopen -> reviewing)")
    p.add_argument("--actor", help="who is triaging: a school address in [web] dsl_users (required with "
                                   "--set-status; logged)")
    p.add_argument("--note", default="", help="why: required with --set-status, kept in the triage log")
    p.add_argument("--json", action="store_true", help="print one JSON document on stdout")


def run(args) -> int:
    ctx = context_from_args(args)
    if args.rule:
        from integration.rules import RULES

        if args.rule not in RULES:
            raise InputError(f"unknown rule id {args.rule!r} (known rule ids: {', '.join(RULES)})")
    tenants = ctx.settings.tenants
    school = checked_school(tenants, args.school)
    if args.set_status:
        return _set_status(ctx, args)
    with ctx.store.session() as s:
        docs = repo.listing(s, repo.list_findings(s, status=args.status, rule=args.rule, school=school))
        actor = args.actor or _os_user()
        for doc in docs:  # listing shows counterparts: every view is logged
            repo.log_view(s, doc["id"], actor)
    if args.json:
        from integration.__main__ import print_json

        print_json(docs)
    else:
        _table(docs, with_school=tenants.is_trust)
    return 0


def _os_user() -> str:
    """Who listed the findings when no --actor is given: the operating-system account."""
    try:
        return "cli:" + getpass.getuser()
    except (OSError, KeyError):
        return "cli"


def _set_status(ctx, args) -> int:
    raw_id, status = args.set_status
    try:
        finding_id = int(raw_id)
    except ValueError:
        raise InputError(f"finding id must be a number, got {raw_id!r}") from None
    _check_triager(ctx.settings, args.actor or "")
    if not (args.note or "").strip():
        raise InputError("--set-status needs --note TEXT saying why (it is kept in the finding's log)")
    with ctx.store.session() as s:
        doc = repo.as_json(repo.transition(s, finding_id, status, args.actor.strip().lower(), args.note.strip()))
    if args.json:
        from integration.__main__ import print_json

        print_json(doc)
    else:
        print(f"finding {finding_id} is now {doc['status']}")
    return 0


def _check_triager(settings, actor: str) -> None:
    """Only the DSL triages, as on the pages: a school address listed in [web] dsl_users."""
    from integration.web.auth import in_school_domain, roles_for

    if not actor:
        raise InputError("--set-status needs --actor EMAIL (who made the change; it is logged)")
    if not in_school_domain(settings, actor.strip()) or "dsl" not in roles_for(settings, actor):
        raise InputError(f"--actor {actor!r} may not triage: it must be a {settings.school.domain} address "
                         "listed in [web] dsl_users")


def _table(docs: list[dict], with_school: bool = False) -> None:
    """One line a finding; a trust's table has a schools column (one school's would say nothing)."""
    cols = ("id", "rule", "severity", "status", "staff", "pupil/guardian", "confidence", "occurrences", "last_seen")
    rows = [[str(d["id"]), d["rule"], d["severity"], d["status"], d["staff"] or "", d["pupil"] or d["guardian"] or "",
             d["confidence"], str(d["occurrences"]), d["last_seen"] or ""] for d in docs]
    if with_school:
        cols = (*cols[:4], "schools", *cols[4:])
        for r, d in zip(rows, docs, strict=True):
            r.insert(4, ",".join(d["schools"]) or "-")
    widths = [max([len(c)] + [len(r[i]) for r in rows]) for i, c in enumerate(cols)]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)))
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
    if not rows:
        print("(no findings)")
