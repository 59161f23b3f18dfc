"""Admin SDK Directory API: users, groups, members, org units, OAuth tokens, users.watch.

Shapes follow the ``admin.directory_v1`` discovery schemas (``kind``/``etag`` included).
The user ``query`` supports the clauses of Google's "Search for users" guide that a roster sync
or an admin's CLI (GAM7's ``all users`` is ``isSuspended=False isGuest=False``) sends:
``orgUnitPath='/x'`` (sub-OUs included, as Google documents), the booleans ``isSuspended``,
``isAdmin``, ``isDelegatedAdmin``, ``isArchived``, ``isGuest``, ``isEnrolledIn2Sv``,
``isEnforcedIn2Sv``, ``isChangePasswordAtNextLogin``, and ``email``, ``givenName``,
``familyName``, ``name`` (``=`` exact, ``:`` prefix); anything else is Google's 400 "Invalid Input".
The generated school has no guest accounts, 2SV enrolments, delegated admins or forced password
changes, so those clauses select on False. Watch channels are kept in ``Domain.channels`` (with
``api='directory'``) so a push-delivery module can find them.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sandbox.api import ApiRequest, Registry
from sandbox.channels import open_channel, stop_channel
from sandbox.errors import ApiError, bad_request, not_found
from sandbox.model import ROOT_OU_ID, Domain, Group, OrgUnit, User, in_org_units
from sandbox.paging import paginate

# query field -> User attribute ("" = no generated account has it: the clause selects on False)
BOOLEAN_CLAUSES = {"isSuspended": "suspended", "isAdmin": "is_admin", "isArchived": "archived", "isGuest": "",
                   "isDelegatedAdmin": "", "isEnrolledIn2Sv": "", "isEnforcedIn2Sv": "",
                   "isChangePasswordAtNextLogin": ""}
CLAUSE = re.compile(r"""(\w+)\s*(=|:)\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S+)""")


def etag(data: Any) -> str:
    """An opaque tag that changes when the data does. `repr`, not sorted JSON: every body is built
    in a fixed key order, and the JSON encoding was 60 % of a users page's cost (measured)."""
    digest = hashlib.sha1(repr(data).encode()).hexdigest()
    return f'"{digest[:27]}/{digest[27:40]}"'


def user_json(u: User, domain: Domain, projection: str = "basic") -> dict[str, Any]:
    name = {k: v for k, v in (("givenName", u.given_name), ("familyName", u.family_name),
                              ("fullName", u.full_name)) if v}
    body: dict[str, Any] = {
        "kind": "admin#directory#user", "id": u.id, "primaryEmail": u.primary_email, "name": name,
        "isAdmin": u.is_admin, "isDelegatedAdmin": False, "lastLoginTime": u.last_login_time,
        "creationTime": u.creation_time, "agreedToTerms": True, "suspended": u.suspended, "archived": u.archived,
        "changePasswordAtNextLogin": False, "ipWhitelisted": False,
        "emails": [{"address": u.primary_email, "primary": True}] + [{"address": a} for a in u.aliases],
        "customerId": domain.customer_id, "orgUnitPath": u.org_unit_path, "isMailboxSetup": True,
        "isEnrolledIn2Sv": False, "isEnforcedIn2Sv": False, "includeInGlobalAddressList": True,
    }
    if u.aliases:
        body["aliases"] = list(u.aliases)
    if u.suspended:
        body["suspensionReason"] = u.suspension_reason or "ADMIN"
    if u.deleted:
        body["deletionTime"] = u.deletion_time
    if projection in ("full", "custom"):
        body["customSchemas"] = {}
    body["etag"] = etag(body)
    return body


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return re.sub(r"\\(.)", r"\1", value)


def _bool(value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise bad_request("Invalid Input")
    return value.lower() == "true"


def user_filter(query: str) -> list[Any]:
    """Predicates for a Directory user ``query`` (all must hold)."""
    preds: list[Any] = []
    pos = 0
    for m in CLAUSE.finditer(query):
        if query[pos:m.start()].strip():
            raise bad_request("Invalid Input")
        pos = m.end()
        field, op, raw = m.group(1), m.group(2), _unquote(m.group(3))
        low = raw.lower().rstrip("*")
        if field == "orgUnitPath":
            preds.append(lambda u, p=raw: in_org_units(u.org_unit_path, [p]))
        elif field in BOOLEAN_CLAUSES:
            attr = BOOLEAN_CLAUSES[field]
            preds.append(lambda u, a=attr, v=_bool(raw): bool(a and getattr(u, a)) == v)
        elif field == "email":
            preds.append(lambda u, v=low, o=op: u.primary_email.startswith(v) if o == ":" else u.primary_email == v)
        elif field in ("givenName", "familyName", "name"):
            attr = {"givenName": "given_name", "familyName": "family_name", "name": "full_name"}[field]
            preds.append(lambda u, a=attr, v=low, o=op: (getattr(u, a).lower().startswith(v) if o == ":"
                                                         else getattr(u, a).lower() == v))
        else:
            raise bad_request("Invalid Input")
    if query[pos:].strip():
        raise bad_request("Invalid Input")
    return preds


def _sorted_users(domain: Domain, preds: list[Any], deleted: bool, order: str, descending: bool) -> list[User]:
    """The users a users.list query selects, in its order (kept by `Domain.view` across its pages)."""
    with domain.lock:
        users = [u for u in domain.users if u.deleted == deleted and all(p(u) for p in preds)]
    # Google sorts ignoring case (users.list reference, sortOrder)
    keyfn = {"email": lambda u: u.primary_email.lower(),
             "givenName": lambda u: (u.given_name.lower(), u.primary_email.lower()),
             "familyName": lambda u: (u.family_name.lower(), u.primary_email.lower())}.get(order)
    users.sort(key=keyfn or (lambda u: u.primary_email.lower()), reverse=descending)
    return users


def _check_customer(req: ApiRequest, customer: str | None, domain_name: str | None) -> None:
    dom = req.domain
    if customer is None and domain_name is None:
        raise bad_request("Bad Request", "badRequest")
    if customer is not None and customer not in ("my_customer", dom.customer_id):
        raise bad_request("Bad Request", "badRequest")
    if domain_name is not None and domain_name.lower() not in dom.domains:
        raise ApiError(403, "Not Authorized to access this resource/api", "forbidden")


def _in_domain(email: str, domain_name: str | None) -> bool:
    """users.list / groups.list ``domain``: "get users from only one domain" (Directory reference); with
    ``customer`` instead, every domain of the customer."""
    return domain_name is None or email.rpartition("@")[2].lower() == domain_name.lower()


def orgunit_json(ou: OrgUnit) -> dict[str, Any]:
    item = {"kind": "admin#directory#orgUnit", "name": ou.name, "description": ou.description,
            "orgUnitPath": ou.path, "orgUnitId": ou.org_unit_id, "parentOrgUnitPath": ou.parent_path,
            "parentOrgUnitId": ou.parent_id or ROOT_OU_ID, "blockInheritance": False}
    item["etag"] = etag(item)
    return item


def group_json(g: Group) -> dict[str, Any]:
    body = {"kind": "admin#directory#group", "id": g.id, "email": g.email, "name": g.name,
            "directMembersCount": str(len(g.members)), "description": g.description, "adminCreated": True}
    if g.aliases:
        body["aliases"] = list(g.aliases)
    body["etag"] = etag(body)
    return body


def _expand(domain: Domain, group: Group, seen: set[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in group.members:
        if m.type == "GROUP":
            nested = domain.find_group(m.email)
            if nested is not None and nested.id not in seen:
                seen.add(nested.id)
                out += _expand(domain, nested, seen)
        else:
            out.append({"kind": "admin#directory#member", "id": m.id, "email": m.email, "role": m.role,
                        "type": m.type, "status": m.status})
    return out


def register(api: Registry, domain: Domain) -> None:  # noqa: C901 - one closure per method
    @api.method("directory.users.list")
    def users_list(req: ApiRequest) -> dict[str, Any]:
        _check_customer(req, req.arg("customer"), req.arg("domain"))
        query = req.arg("query", "") or ""
        preds = user_filter(query)
        only = req.arg("domain")
        if only is not None:
            preds = [*preds, lambda u: _in_domain(u.primary_email, only)]
        deleted = req.flag("showDeleted")
        order, descending = req.arg("orderBy", "email") or "email", req.arg("sortOrder") == "DESCENDING"
        users = domain.view(("directory.users", query, only, deleted, order, descending),
                            lambda: _sorted_users(domain, preds, deleted, order, descending))
        page, token = paginate(req, users, "users")
        projection = req.arg("projection", "basic") or "basic"
        body: dict[str, Any] = {"kind": "admin#directory#users"}
        if page:
            # rendered users are kept until the domain changes: a big list's pages otherwise re-render and
            # re-hash every user (the etags were most of a page's cost); the masks copy, never mutate, them
            rendered: dict[str, dict[str, Any]] = domain.view(("directory.user_json", projection), dict)
            body["users"] = [rendered.get(u.id) or rendered.setdefault(u.id, user_json(u, domain, projection))
                             for u in page]
        if token:
            body["nextPageToken"] = token
        body["etag"] = etag([u["etag"] for u in body.get("users", [])] + [token])
        return body

    @api.method("directory.users.get")
    def users_get(req: ApiRequest) -> dict[str, Any]:
        user = domain.find_user(req.params["userKey"])
        if user is None:
            raise not_found("userKey")
        return user_json(user, domain, req.arg("projection", "basic") or "basic")

    @api.method("directory.groups.list")
    def groups_list(req: ApiRequest) -> dict[str, Any]:
        user_key = req.arg("userKey")
        if user_key is None:
            _check_customer(req, req.arg("customer"), req.arg("domain"))
        with domain.lock:
            groups = sorted(domain.groups, key=lambda g: g.email)
            only = req.arg("domain") if user_key is None else None
            groups = [g for g in groups if _in_domain(g.email, only)]
            if user_key is not None:
                user = req.user(user_key)
                groups = [g for g in groups if any(m.id == user.id for m in g.members)]
        page, token = paginate(req, groups, "groups")
        body: dict[str, Any] = {"kind": "admin#directory#groups"}
        if page:
            body["groups"] = [group_json(g) for g in page]
        if token:
            body["nextPageToken"] = token
        body["etag"] = etag(body)
        return body

    @api.method("directory.members.list")
    def members_list(req: ApiRequest) -> dict[str, Any]:
        group = domain.find_group(req.params["groupKey"])
        if group is None:
            raise not_found("groupKey")
        with domain.lock:
            if req.flag("includeDerivedMembership"):
                unique: dict[str, dict[str, Any]] = {}
                for m in _expand(domain, group, {group.id}):
                    unique.setdefault(m["id"], m)
                members = list(unique.values())
            else:
                members = [{"kind": "admin#directory#member", "id": m.id, "email": m.email, "role": m.role,
                            "type": m.type, **({"status": m.status} if m.type == "USER" else {})}
                           for m in group.members]
        roles = req.arg("roles")
        if roles:
            wanted = {r.strip().upper() for r in roles.split(",")}
            members = [m for m in members if m["role"] in wanted]
        page, token = paginate(req, members, "members:" + group.id)
        body: dict[str, Any] = {"kind": "admin#directory#members"}
        if page:
            body["members"] = [{**m, "etag": etag(m)} for m in page]
        if token:
            body["nextPageToken"] = token
        body["etag"] = etag(body)
        return body

    @api.method("directory.orgunits.list")
    def orgunits_list(req: ApiRequest) -> dict[str, Any]:
        if req.params["customerId"] not in ("my_customer", domain.customer_id):
            raise bad_request("Bad Request", "badRequest")
        base = (req.arg("orgUnitPath", "") or "/").rstrip("/") or "/"
        if not base.startswith("/"):
            base = "/" + base
        kind = req.arg("type", "children")
        with domain.lock:
            if base != "/" and domain.org_unit(base) is None:
                raise not_found("Org unit")
            units = [ou for ou in domain.org_units if in_org_units(ou.path, [base]) and ou.path != base]
            if kind == "children":
                units = [ou for ou in units if ou.parent_path == base]
            elif kind == "allIncludingParent" and base != "/":
                units.insert(0, domain.org_unit(base))  # type: ignore[arg-type]
        body: dict[str, Any] = {"kind": "admin#directory#orgUnits", "organizationUnits": [orgunit_json(ou) for ou in units]}
        body["etag"] = etag(body)
        return body

    @api.method("directory.orgunits.get")
    def orgunits_get(req: ApiRequest) -> dict[str, Any]:
        """By path (relative to the root, as `orgunits/{orgUnitPath=**}`) or by id ('id:03ph8a2z…')."""
        if req.params["customerId"] not in ("my_customer", domain.customer_id):
            raise bad_request("Bad Request", "badRequest")
        key = req.params.get("orgUnitPath") or req.params["orgunitsId"]  # `path` or `flatPath` template
        if key in (ROOT_OU_ID, "/", ""):  # the root: clients look it up by the id its children name as parent
            item = {"kind": "admin#directory#orgUnit", "name": domain.name, "description": "",
                    "orgUnitPath": "/", "orgUnitId": ROOT_OU_ID, "blockInheritance": False}
            item["etag"] = etag(item)
            return item
        with domain.lock:
            if key.startswith("id:"):
                ou = next((o for o in domain.org_units if o.org_unit_id == key), None)
            else:
                ou = domain.org_unit("/" + key.strip("/"))
        if ou is None:
            raise not_found("Org unit")
        return orgunit_json(ou)

    @api.method("directory.tokens.list")
    def tokens_list(req: ApiRequest) -> dict[str, Any]:
        user = req.user(req.params["userKey"])
        with domain.lock:
            grants = [t for t in domain.tokens if t.user_email == user.primary_email]
        items = []
        for t in grants:
            item = {"kind": "admin#directory#token", "clientId": t.client_id, "displayText": t.display_text,
                    "anonymous": t.anonymous, "nativeApp": t.native_app, "scopes": list(t.scopes),
                    "userKey": user.id}
            item["etag"] = etag(item)
            items.append(item)
        body: dict[str, Any] = {"kind": "admin#directory#tokenList"}
        if items:
            body["items"] = items
        body["etag"] = etag(body)
        return body

    @api.method("directory.users.watch")
    def users_watch(req: ApiRequest) -> dict[str, Any]:
        _check_customer(req, req.arg("customer"), req.arg("domain"))
        query = "&".join(f"{k}={v}" for k, vs in req.query.items() for v in vs if k not in ("fields", "alt"))
        return open_channel(req, domain, "directory", f"{req.base_url}/admin/directory/v1/users?{query}&alt=json",
                            {"api": "directory", "event": req.arg("event", ""), "query": dict(req.query)})

    @api.method("admin.channels.stop")
    def channels_stop(req: ApiRequest) -> tuple[int, None]:
        return stop_channel(req, domain)
