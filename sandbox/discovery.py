"""Conformance against the discovery documents shipped in google-api-python-client.

The sandbox routes by these documents (so a path Google does not have is a 404 here
too), takes each method's accepted scopes from them (so it is exactly as strict as
Google), and checks every request and response against them, recording problems so
connector tests can assert ``server.problems() == []``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from itertools import chain
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import googleapiclient

DOCS = {  # sandbox api name -> discovery file
    "directory": "admin.directory_v1",
    "reports": "admin.reports_v1",
    "classroom": "classroom.v1",
    "drive": "drive.v3",
    "gmail": "gmail.v1",
    "forms": "forms.v1",
    "chat": "chat.v1",
}
STANDARD_PARAMS = {"fields", "alt", "prettyPrint", "quotaUser", "key", "access_token", "userIp", "$.xgafv",
                   "callback", "upload_protocol", "uploadType", "oauth_token"}


@dataclass(frozen=True)
class Method:
    api: str
    id: str
    http_method: str
    template: str  # '/admin/directory/v1/users/{userKey}'
    pattern: re.Pattern[str]
    param_names: tuple[str, ...]
    spec: dict[str, Any]
    key: str = ""  # the id, except Reports' 'admin.channels.stop' (same id as Directory's) -> 'reports.channels.stop'

    @property
    def scopes(self) -> list[str]:
        return list(self.spec.get("scopes", []))

    @cached_property
    def scope_set(self) -> frozenset[str]:
        """`scopes` as a set, built once: every request checks its grant against it."""
        return frozenset(self.scopes)

    @property
    def parameters(self) -> dict[str, Any]:
        return self.spec.get("parameters", {})


@cache
def document(api: str) -> dict[str, Any]:
    folder = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
    return json.loads((folder / f"{DOCS[api]}.json").read_text(encoding="utf-8"))


def _walk(resource: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(resource.get("methods", {}).values())
    for sub in resource.get("resources", {}).values():
        found += _walk(sub)
    return found


def _compile(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    names: list[str] = []
    out, pos = ["^"], 0
    for m in re.finditer(r"\{(\+?)([^}]+)\}", template):
        out.append(re.escape(template[pos:m.start()]))
        names.append(m.group(2))
        out.append(f"(?P<p{len(names) - 1}>.+?)" if m.group(1) else f"(?P<p{len(names) - 1}>[^/]+?)")
        pos = m.end()
    out.append(re.escape(template[pos:]) + "$")
    return re.compile("".join(out)), tuple(names)


def _free_reserved(spec: dict[str, Any]) -> bool:
    """A `{+x}` path parameter that may be anything (orgunits' orgUnitPath, pattern ``^.*$``): its
    flatPath cannot stand in for it. A shaped one (Chrome printers' `name`, ``^customers/[^/]+/…``)
    is exactly what its flatPath spells out."""
    names = re.findall(r"\{\+([^}]+)\}", spec["path"])
    params = spec.get("parameters", {})
    return bool(names) and all(params.get(n, {}).get("pattern", "^.*$") == "^.*$" for n in names)


def _specificity(m: Method) -> tuple[int, int, int, int]:
    """Sort key, most specific first: fixed-depth templates before `{+x}` ones, and among those the one
    with more literal text ('…/orgunits/{+orgUnitPath}' before Chrome printers' '…/v1/{+name}')."""
    reserved = "{+" in m.template
    literal = len(re.sub(r"\{[^}]*\}", "", m.template))
    return reserved, -literal if reserved else 0, len(m.param_names), -len(m.template)


@cache
def methods() -> tuple[Method, ...]:
    """Every method of every document, most specific templates first."""
    found: list[Method] = []
    for api in DOCS:
        doc = document(api)
        prefix = "/" + doc.get("servicePath", "")
        for spec in _walk(doc):
            template = prefix + (spec.get("flatPath") or spec["path"])
            pattern, names = _compile(template)
            key = "reports.channels.stop" if (api, spec["id"]) == ("reports", "admin.channels.stop") else spec["id"]
            found.append(Method(api, spec["id"], spec["httpMethod"], template, pattern, names, spec, key))
            if spec.get("flatPath") and _free_reserved(spec):  # clients send `path` ({+x} may hold slashes)
                reserved = prefix + spec["path"]
                pattern, names = _compile(reserved)
                found.append(Method(api, spec["id"], spec["httpMethod"], reserved, pattern, names, spec, key))
            upload = spec.get("mediaUpload", {}).get("protocols", {}).get("simple", {}).get("path")
            if upload:
                pattern, names = _compile(upload if upload.startswith("/") else "/" + upload)
                found.append(Method(api, spec["id"], spec["httpMethod"], upload, pattern, names, spec, spec["id"]))
    found.sort(key=_specificity)
    return tuple(found)


@cache
def by_id() -> dict[str, Method]:
    """Methods by key (the discovery id; see `Method.key` for the one collision)."""
    return {m.key: m for m in methods()}


# Routing index: (HTTP method, path "/" count or None, first literal path segments) -> methods in
# `methods()` order. A template's literal segments before its first parameter must equal the path's,
# and a template without ``{+...}`` matches only paths with its number of slashes, so a request is
# tried against a handful of patterns instead of all ~400.
_DEPTH = 4
RouteKey = tuple[str, int | None, tuple[str, ...]]
Candidates = tuple[tuple[int, Method], ...]


def _route_key(m: Method) -> RouteKey | None:
    """Where `m` is filed in the index; None for a template not rooted at '/' (always tried)."""
    if not m.template.startswith("/"):
        return None
    literal: list[str] = []
    for segment in m.template.split("/")[1:]:
        if "{" in segment:
            break
        literal.append(segment)
    slashes = None if "{+" in m.template else m.template.count("/")
    return m.http_method.upper(), slashes, tuple(literal[:_DEPTH])


@cache
def _router() -> tuple[dict[RouteKey, Candidates], dict[str, Candidates]]:
    """(indexed methods, per-HTTP-method methods that must always be tried), built once."""
    table: dict[RouteKey, list[tuple[int, Method]]] = {}
    always: dict[str, list[tuple[int, Method]]] = {}
    for order, m in enumerate(methods()):
        key = _route_key(m)
        if key is None:
            always.setdefault(m.http_method.upper(), []).append((order, m))
        else:
            table.setdefault(key, []).append((order, m))
    return {k: tuple(v) for k, v in table.items()}, {k: tuple(v) for k, v in always.items()}


def _candidates(http_method: str, path: str) -> Candidates:
    """The methods that could match, in `methods()` order (most specific first)."""
    table, always = _router()
    found = [always[http_method]] if http_method in always else []
    segments = path.split("/")
    if segments[0] == "":
        slashes = len(segments) - 1
        for depth in range(min(_DEPTH, slashes) + 1):
            prefix = tuple(segments[1:1 + depth])
            for count in (slashes, None):
                hit = table.get((http_method, count, prefix))
                if hit:
                    found.append(hit)
    if len(found) == 1:
        return found[0]
    return tuple(sorted(chain.from_iterable(found), key=lambda item: item[0]))


@lru_cache(maxsize=4096)  # a request is matched ~3 times (batch envelope, dispatch, validation)
def _match(http_method: str, path: str) -> tuple[str, str, tuple[tuple[str, str], ...]] | None:
    for _, m in _candidates(http_method, path):
        hit = m.pattern.match(path)
        if hit:
            return m.api, m.key, tuple((name, unquote(hit.group(f"p{i}"))) for i, name in enumerate(m.param_names))
    return None


def match(http_method: str, path: str) -> tuple[str, str, dict[str, str]] | None:
    """(api, method key, path params) for a request, or None if Google has no such method."""
    hit = _match(http_method.upper(), path)
    return (hit[0], hit[1], dict(hit[2])) if hit else None


def find(http_method: str, path: str) -> Method | None:
    hit = match(http_method, path)
    return by_id()[hit[1]] if hit else None


def _type_problem(name: str, value: str, spec: dict[str, Any]) -> str | None:
    kind = spec.get("type")
    if kind == "integer":
        if not re.fullmatch(r"-?\d+", value):
            return f"{name}: {value!r} is not an integer"
        if "minimum" in spec and int(value) < int(spec["minimum"]):
            return f"{name}: {value} is below the minimum {spec['minimum']}"
    elif kind == "boolean" and value not in ("true", "false", "True", "False"):
        return f"{name}: {value!r} is not a boolean"
    if "enum" in spec and value not in spec["enum"]:
        return f"{name}: {value!r} is not one of {spec['enum']}"
    return None


def validate_request(http_method: str, path: str, query: dict[str, list[str]]) -> list[str]:
    """Problems with a request as Google's front end would see them (empty list = fine)."""
    method = find(http_method, path)
    if method is None:
        return [f"no discovery method for {http_method} {path}"]
    problems: list[str] = []
    params = method.parameters
    for name, values in query.items():
        if name in STANDARD_PARAMS:
            continue
        spec = params.get(name)
        if spec is None or spec.get("location") != "query":
            problems.append(f"{method.key}: unknown query parameter {name!r}")
            continue
        if len(values) > 1 and not spec.get("repeated"):
            problems.append(f"{method.key}: {name!r} given {len(values)} times but is not repeated")
        for value in values:
            problem = _type_problem(name, value, spec)
            if problem:
                problems.append(f"{method.key}: {problem}")
    for name, spec in params.items():
        if spec.get("required") and spec.get("location") == "query" and name not in query:
            problems.append(f"{method.key}: missing required parameter {name!r}")
    return problems


def _schema(api: str, name: str) -> dict[str, Any]:
    return document(api)["schemas"].get(name, {})


def _check(api: str, value: Any, schema: dict[str, Any], where: str, out: list[str], depth: int = 0) -> None:
    if depth > 12 or value is None:
        return
    if "$ref" in schema:
        schema = _schema(api, schema["$ref"])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if not isinstance(value, dict):
            out.append(f"{where}: expected an object")
            return
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        for key, item in value.items():
            if key in props:
                _check(api, item, props[key], f"{where}.{key}", out, depth + 1)
            elif extra:
                _check(api, item, extra, f"{where}.{key}", out, depth + 1)
            elif schema.get("type") != "any":
                out.append(f"{where}: unknown key {key!r}")
    elif kind == "array":
        if not isinstance(value, list):
            out.append(f"{where}: expected an array")
            return
        for i, item in enumerate(value):
            _check(api, item, schema.get("items", {}), f"{where}[{i}]", out, depth + 1)
    elif kind == "string":
        if not isinstance(value, str):
            out.append(f"{where}: expected a string, got {type(value).__name__}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            out.append(f"{where}: expected a boolean")
    elif kind in ("integer", "number") and (isinstance(value, bool) or not isinstance(value, int | float)):
        out.append(f"{where}: expected a number")


def validate_response(method_id: str, body: Any) -> list[str]:
    """Problems with a response body against the method's response schema ($ref followed)."""
    method = by_id().get(method_id)
    if method is None:
        return [f"unknown method {method_id}"]
    ref = method.spec.get("response", {}).get("$ref")
    if ref is None:
        return [] if body in (None, {}, "") else [f"{method_id}: has no response body but returned one"]
    out: list[str] = []
    _check(method.api, body, {"$ref": ref}, ref, out)
    return out


def serve(api: str, version: str, host_url: str) -> Any:
    """The discovery document google-api-python-client ships for `api` `version` (Google's own text),
    404 as Google answers for one it has not. Asked at a Google hostname (through
    `sandbox.google_front`) it is unchanged; asked at the sandbox's own address its rootUrl points here."""
    from flask import Response

    folder = Path(googleapiclient.__file__).parent / "discovery_cache" / "documents"
    path = folder / f"{api}.{version}.json"
    if not re.fullmatch(r"[\w-]+", api) or not re.fullmatch(r"[\w.-]+", version) or not path.is_file():
        body = {"error": {"code": 404, "message": f"Requested entity was not found: {api} {version}",
                          "status": "NOT_FOUND"}}
        return Response(json.dumps(body), status=404, content_type="application/json; charset=UTF-8")
    doc = json.loads(path.read_text(encoding="utf-8"))
    if "googleapis.com" not in host_url:
        doc["rootUrl"] = host_url
        doc["baseUrl"] = host_url + doc.get("servicePath", "")
        doc["batchPath"] = doc.get("batchPath", "batch")
    return Response(json.dumps(doc), content_type="application/json; charset=UTF-8")
