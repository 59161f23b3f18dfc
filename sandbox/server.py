"""The simulated domain over real HTTP: a Flask app plus a threaded server wrapper.

Every API request goes through one pipeline (`_dispatch`): route by discovery
document, check the request against it, authenticate the bearer token, check the
method's scopes and admin requirement, inject faults, run the API module's handler,
apply the ``fields`` mask, check the response against the schema, and log it. API
modules only turn state into JSON; adding one is one line in `API_MODULES`.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request
from werkzeug.datastructures import MultiDict
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox import discovery, errors, fields
from sandbox.api import ApiRequest, Registry
from sandbox.faults import FaultController
from sandbox.model import Domain
from sandbox.oidc import CERTS_PATH
from sandbox.push import PushRecord, PushService
from sandbox.push import register as register_push
from sandbox.quotas import UserQuotas
from sandbox.token import TOKEN_PATH, TokenStore, service_account, token_endpoint

# One line per API module; a module that does not exist yet is skipped (parallel work).
API_MODULES = [
    "sandbox.directory",
    "sandbox.classroom",
    "sandbox.drive",
    "sandbox.gmail",
    "sandbox.mail_settings",
    "sandbox.reports",
    "sandbox.forms",
    "sandbox.chat",
]


@dataclass
class LogEntry:
    """One request as the sandbox saw it (inner batch requests are logged individually)."""

    method: str
    path: str
    query: MultiDict
    body: Any
    status: int = 0
    subject: str = ""
    time: float = 0.0
    api: str = ""
    method_id: str = ""
    batch: bool = False
    fault: bool = False
    problems: list[str] = field(default_factory=list)


class SandboxState:
    """Everything the app shares between request threads."""

    def __init__(self, domain: Domain, *, latency_ms: float, fault_rate: float, fault_seed: int,
                 page_caps: dict[str, int] | None, strict: bool, token_secret: bytes | None = None) -> None:
        self.domain = domain
        self.latency_ms = latency_ms
        self.faults = FaultController(fault_rate, fault_seed)
        self.quotas = UserQuotas(consumer=f"projects/{service_account(domain).project_id}")  # off until enforce()
        self.page_caps: dict[str, int] = dict(page_caps or {})
        self.strict = strict
        self.check_responses = True  # off only for benchmarks: the schema check is ~40 % of a big page's cost
        self.tokens = TokenStore(token_secret)
        account = service_account(domain)
        self.trusted = {account.email: [account.private_key.public_key()]}
        self._log: list[LogEntry] = []
        self._log_lock = threading.Lock()
        self.registry: Registry | None = None
        self.push = PushService(domain)  # started by SandboxServer.start (a bare create_app sends nothing)
        self.oidc: Any = None  # sandbox.oidc_provider.OidcProvider, set by create_app

    def record(self, entry: LogEntry) -> None:
        with self._log_lock:
            self._log.append(entry)

    @property
    def log(self) -> list[LogEntry]:
        with self._log_lock:
            return list(self._log)

    def reset_log(self) -> None:
        with self._log_lock:
            self._log.clear()


def create_app(domain: Domain, *, latency_ms: float = 0, fault_rate: float = 0.0, fault_seed: int = 0,
               page_caps: dict[str, int] | None = None, strict: bool = False,
               token_secret: bytes | None = None) -> Flask:
    """The sandbox WSGI app; its state is ``app.extensions['sandbox']`` (a `SandboxState`).

    Apps given the same `token_secret` accept each other's access tokens (none given: a random one).
    """
    app = Flask("sandbox")
    state = SandboxState(domain, latency_ms=latency_ms, fault_rate=fault_rate, fault_seed=fault_seed,
                         page_caps=page_caps, strict=strict, token_secret=token_secret)
    app.extensions["sandbox"] = state
    registry = state.registry = Registry(app, domain)
    for name in API_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(registry, domain)
    register_push(registry, domain, state.push)  # after the modules: their watch handlers win

    from sandbox.oidc_provider import AUTH_CODE_GRANT, OidcProvider, register_oidc

    state.oidc = OidcProvider(domain, state.push.signer)  # "Sign in with Google" against this school
    register_oidc(app, state.oidc, _base_url)

    @app.post(TOKEN_PATH)
    def token() -> Any:
        if request.form.get("grant_type") == AUTH_CODE_GRANT:
            return state.oidc.exchange(request)
        if state.faults.token_endpoint:
            fault = state.faults.check("oauth2")
            if fault is not None:
                return Response(json.dumps({"error": "internal_failure", "error_description": fault.message}),
                                status=503, mimetype="application/json")
        return token_endpoint(request, domain, state.tokens, state.trusted, state.push.signer)

    from sandbox.batch import handle_batch  # here: batch re-enters this app

    @app.get("/discovery/v1/apis/<api_name>/<version>/rest")
    @app.get("/$discovery/rest")
    def discovery_document(api_name: str = "", version: str = "") -> Response:
        """Google's discovery documents (V1 ``www.googleapis.com/discovery/v1/apis/{api}/{version}/rest``
        and V2 ``{api}.googleapis.com/$discovery/rest?version=``), for clients that build from them."""
        return discovery.serve(api_name or request.host.split(".")[0].split(":")[0],
                               version or request.args.get("version", ""), request.host_url)

    @app.post("/batch")
    @app.post("/batch/<path:api_path>")
    def batch(api_path: str = "") -> Response:
        return handle_batch(app, state, request)

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @app.route("/<path:path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def api(path: str) -> Response:
        return _dispatch(state, registry)

    return app


def _json(status: int, body: Any) -> Response:
    if body is None:
        return Response(status=status if status != 200 else 204)
    return Response(json.dumps(body), status=status, content_type="application/json; charset=UTF-8")


def _dispatch(state: SandboxState, registry: Registry) -> Response:
    batch = request.headers.get("X-Sandbox-Batch") == "1"
    entry = LogEntry(request.method, request.path, MultiDict(request.args), _body(), time=time.time(), batch=batch)
    if state.latency_ms and not batch:
        time.sleep(state.latency_ms / 1000)
    hit = discovery.match(request.method, request.path)
    api = hit[0] if hit else "directory"
    try:
        if hit is None:
            entry.problems.append(f"no discovery method for {request.method} {request.path}")
            raise errors.ApiError(404, f"Not Found: {request.method} {request.path}", "notFound")
        api, key, params = hit
        entry.api, entry.method_id = api, key
        query = request.args.to_dict(flat=False)
        entry.problems += discovery.validate_request(request.method, request.path, query)
        if entry.problems and state.strict:
            raise errors.bad_request("; ".join(entry.problems))
        req = _authenticate(state, registry, api, key, params, query, entry)
        over_quota = state.quotas.check(api, req.subject_email)
        if over_quota is not None:
            raise over_quota
        fault = state.faults.check(api)
        if fault is not None:
            entry.fault = True
            raise fault
        handler = registry.handlers.get(key)
        if handler is None:
            entry.problems.append(f"sandbox does not implement {key}")
            raise errors.ApiError(501, f"The sandbox does not implement {key}.", "notImplemented")
        result = handler(req)
        status, body = (result if isinstance(result, tuple) else (200, result))
        if body is not None and 200 <= status < 300:
            if state.check_responses:
                entry.problems += discovery.validate_response(key, body)
            body = fields.filter_json(body, req.arg("fields"))  # masks apply in benchmarks too, as at Google
    except fields.FieldsError as exc:
        status, body = 400, errors.bad_request(str(exc)).body(api)
    except errors.ApiError as exc:
        status, body = exc.code, exc.body(api)
    except Exception as exc:  # a sandbox bug: answer like Google's backend and make the test see it
        entry.problems.append(f"sandbox crashed: {exc!r}")
        status, body = 500, errors.ApiError(500, f"Backend Error ({exc!r})", "backendError").body(api)
    entry.status = status
    state.record(entry)
    return _json(status, body)


def _body() -> Any:
    if not request.content_length and "wsgi.input_terminated" not in request.environ:
        return None  # what `request.data` would say, without werkzeug's form-parsing machinery
    if not request.data:
        return None
    try:
        return json.loads(request.data)
    except ValueError:
        return request.data.decode("utf-8", "replace")


def _authenticate(state: SandboxState, registry: Registry, api: str, key: str, params: dict[str, str],
                  query: dict[str, list[str]], entry: LogEntry) -> ApiRequest:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        raise errors.unauthenticated()
    grant = state.tokens.lookup(header.split(" ", 1)[1].strip())
    if grant is None:
        raise errors.invalid_token()
    entry.subject = grant.subject_email
    method = discovery.by_id()[key]
    if method.scope_set and grant.scopes.isdisjoint(method.scope_set):
        raise errors.insufficient_scopes()
    subject = state.domain.find_user(grant.subject_email) if grant.subject_id else None
    if api in registry.admin_apis and not (subject and subject.is_admin):
        raise errors.not_authorized()
    return ApiRequest(
        domain=state.domain, api=api, method=key, http_method=request.method, path=request.path, params=params,
        query=query, body=entry.body, subject_email=grant.subject_email, subject=subject, scopes=grant.scopes,
        page_cap=state.page_caps.get(key), headers=dict(request.headers.items()), base_url=_base_url(),
    )


_HOST_KEYS = ("wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME")
_BASE_URLS: dict[tuple[Any, ...], str] = {}


def _base_url() -> str:
    """``request.host_url`` without its slash, remembered per host: werkzeug rebuilds it per request."""
    key = tuple(request.environ.get(k) for k in _HOST_KEYS)
    url = _BASE_URLS.get(key)
    if url is None:
        url = request.host_url.rstrip("/")
        if len(_BASE_URLS) < 256:
            _BASE_URLS[key] = url
    return url


class QuietHandler(WSGIRequestHandler):
    """No per-request access log on stderr: the sandbox keeps its own log."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class SandboxServer:
    """The app on a real port in a daemon thread: ``with SandboxServer(generate("tiny")) as server: ...``."""

    def __init__(self, domain: Domain, port: int = 0, *, host: str = "127.0.0.1", latency_ms: float = 0,
                 fault_rate: float = 0.0, seed: int = 0, page_caps: dict[str, int] | None = None,
                 strict: bool = False) -> None:
        self.domain, self.host, self.port = domain, host, port
        self.app = create_app(domain, latency_ms=latency_ms, fault_rate=fault_rate, fault_seed=seed,
                              page_caps=page_caps, strict=strict)
        self.state: SandboxState = self.app.extensions["sandbox"]
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------- lifecycle
    def start(self) -> SandboxServer:
        self._server = make_server(self.host, self.port, self.app, threaded=True,
                                   request_handler=QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sandbox", daemon=True)
        self._thread.start()
        self.state.push.start()
        return self

    def stop(self) -> None:
        self.state.push.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def token_uri(self) -> str:
        return self.url + TOKEN_PATH

    # ------------------------------------------------------------- observation and control
    @property
    def log(self) -> list[LogEntry]:
        return self.state.log

    def reset_log(self) -> None:
        self.state.reset_log()

    def requests(self, method_id: str | None = None, *, include_batch_outer: bool = False) -> list[LogEntry]:
        """Logged API calls, optionally of one method (batch envelopes excluded unless asked)."""
        return [e for e in self.log if (method_id is None or e.method_id == method_id)
                and (include_batch_outer or e.method_id != "batch")]

    def problems(self) -> list[str]:
        """Every conformance problem seen so far (connector tests assert this is empty)."""
        return [f"{e.method} {e.path}: {p}" for e in self.log for p in e.problems]

    @property
    def faults(self) -> FaultController:
        return self.state.faults

    def fail_api(self, api: str, status: int = 403, reason: str = "", message: str = "") -> None:
        self.state.faults.fail_api(api, status, reason, message)

    def clear_failures(self) -> None:
        self.state.faults.clear_failures()

    @property
    def latency_ms(self) -> float:
        return self.state.latency_ms

    @latency_ms.setter
    def latency_ms(self, value: float) -> None:
        self.state.latency_ms = value

    def access_token(self, subject: str, scopes: list[str]) -> str:
        """A bearer token without the JWT dance, for tests of one API module."""
        user = self.domain.find_user(subject)
        return self.state.tokens.issue(user.primary_email if user else subject, scopes, user.id if user else "")

    def trust_key(self, email: str, public_key: Any) -> None:
        """Trust another service-account key (e.g. a test's second key)."""
        self.state.trusted.setdefault(email, []).append(public_key)

    # ------------------------------------------------------------- push notifications (sandbox.push)
    @property
    def push(self) -> PushService:
        return self.state.push

    @property
    def push_log(self) -> list[PushRecord]:
        """Every push delivery attempt (url, headers, body, status ...), oldest first."""
        return self.state.push.log

    def flush_push(self, timeout: float = 5.0) -> bool:
        """Wait until every queued push (retries included) is delivered; False on timeout."""
        return self.state.push.flush(timeout)

    @property
    def certs_url(self) -> str:
        """Where the push ID tokens' certificates are (the service's `google_certs_url`)."""
        return self.url + CERTS_PATH

    @property
    def push_service_account(self) -> str:
        return self.state.push.service_account

    def add_push_subscription(self, topic: str, endpoint: str, audience: str | None = None,
                              service_account: str | None = None, name: str | None = None) -> str:
        """Push every message on `topic` to `endpoint` with an OIDC token (audience defaults to the endpoint)."""
        return self.state.push.add_push_subscription(topic, endpoint, audience, service_account, name)

    def sign_id_token(self, audience: str, email: str | None = None, expires_in: int = 3600, **overrides: Any) -> str:
        """An ID token signed like the push ones; overrides (iss=..., email_verified=None ...) forge bad ones."""
        return self.state.push.sign_id_token(audience, email, expires_in, **overrides)
