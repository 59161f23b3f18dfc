"""A two-school trust in one Google domain, laid out as the sandbox lays out a trust (``--size trust``:
``/Schools/<School>/Staff`` and ``/Schools/<School>/Pupils``, sandbox/school.py), made from the tiny
generated school so that a test syncs in a second rather than the trust's 17,000 accounts.

North is the tiny school moved under ``/Schools/North``; South takes Year 8 and the Maths teachers
(owners of the Maths classes) under ``/Schools/South``. Everyone outside ``/Staff`` and ``/Pupils``
(the admin, the alerts mailbox, visitors, other accounts) stays where they were: the trust's
central accounts, in no school. Classes keep their rosters, so English 8B is a North teacher's
class of South pupils: a course that spans the two schools.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import tomli_w
from roster_env import SchoolEnv, make_context

NORTH, SOUTH = "north", "south"
SOUTH_HOURS = "08:00-16:30"  # North keeps [channels] working_hours (the sandbox's 07:00-21:00)


def school_of_user(u, south_teachers: set[str]) -> str | None:
    """Where the layout puts a generated account (None: a central account)."""
    ou = u.org_unit_path
    if not (ou.startswith("/Staff") or ou.startswith("/Pupils")):
        return None
    return SOUTH if ou.startswith("/Pupils/Year 8") or u.id in south_teachers else NORTH


def make_two_school_trust(env: SchoolEnv, database_url: str, contexts: list) -> tuple[SchoolEnv, dict[str, str | None]]:
    """Re-lay the tiny school as the two-school trust and write its config; returns the new env and
    the expected school of every account by email."""
    dom = env.domain
    south_teachers = {c.owner_id for c in dom.courses if "Maths" in c.name}
    want: dict[str, str | None] = {}
    for u in list(dom.live_users()):  # a deleted account is not in the Directory to move
        school = school_of_user(u, south_teachers)
        want[u.primary_email] = school
        if school is not None:
            dom.move_user(u.primary_email, f"/Schools/{school.title()}{u.org_unit_path}")
    config = write_trust_config(env.config, dom)
    ctx = make_context(config, database_url, env.sleeps)
    contexts.append(ctx)
    return SchoolEnv(dom, env.server, config, ctx, env.sleeps), want


def write_trust_config(path: Path, dom) -> Path:
    """The generated single-school config turned into the trust's: roster OUs under each school,
    [trust] and two [[schools]] by org unit, each with a DSL of its own."""
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    roster = doc["roster"]
    roster["staff_org_units"] = [f"/Schools/{s}/Staff" for s in ("North", "South")]
    roster["pupil_org_units"] = [f"/Schools/{s}/Pupils" for s in ("North", "South")]
    leads = doc["alerts"]["dsl_emails"]
    dsl = {school: f"dsl.{school}@{dom.domain}" for school in (NORTH, SOUTH)}
    doc["trust"] = {"name": "Tiny Trust", "safeguarding_leads": leads, "viewer_users": []}
    doc["schools"] = [
        {"id": NORTH, "name": "North School", "org_units": ["/Schools/North"], "dsl_emails": [dsl[NORTH]]},
        {"id": SOUTH, "name": "South School", "org_units": ["/Schools/South"], "dsl_emails": [dsl[SOUTH]],
         "working_hours": SOUTH_HOURS},
    ]
    out = path.with_name("trust.toml")
    out.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return out
