"""All Google plumbing in one place: services per thread, delegated credentials, retries, paging,
batches, bounded fan-out and call counting. Connectors never write their own retry loops.

Why per thread: google-api-python-client's httplib2 transport is not thread-safe, so each
thread gets its own `httplib2.Http` and its own service objects; credentials are shared
(one token per impersonated user) through :class:`CredentialCache`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass
from itertools import islice
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import httplib2
from google_auth_httplib2 import AuthorizedHttp
from google_auth_httplib2 import Request as AuthRequest
from googleapiclient.discovery import build
from googleapiclient.errors import BatchError, HttpError
from googleapiclient.http import HttpRequest

from connectors.google.auth import CredentialCache, KeyFile
from connectors.google.batching import LeanBatchHttpRequest
from connectors.google.errors import classify
from connectors.google.quotas import WINDOW_S, QuotaPacer, shared_quota_url
from connectors.google.reach import Reachability
from integration.errors import SourceError, TransientError
from integration.logs import event
from integration.protocols import CallStats

if TYPE_CHECKING:
    from connectors.google.shared_quotas import SharedQuotaPacer

log = logging.getLogger("safechannels.google")


@dataclass(frozen=True)
class ApiInfo:
    name: str
    version: str
    service_path: str
    batch_path: str
    batch_cap: int
    in_flight: int  # concurrent requests we allow ourselves, to stay inside Google's quotas


APIS: dict[str, ApiInfo] = {
    "directory": ApiInfo("admin", "directory_v1", "", "batch", 1000, 8),
    "reports": ApiInfo("admin", "reports_v1", "", "batch", 0, 4),
    "classroom": ApiInfo("classroom", "v1", "", "batch", 50, 8),
    "drive": ApiInfo("drive", "v3", "drive/v3/", "batch/drive/v3", 100, 16),
    "gmail": ApiInfo("gmail", "v1", "", "batch", 50, 16),
    "forms": ApiInfo("forms", "v1", "", "batch", 0, 4),
    "chat": ApiInfo("chat", "v1", "", "batch", 0, 4),
}

HTTP_TIMEOUT = 60


class CountingHttp(httplib2.Http):
    """One thread's transport: counts round trips per API (token requests count as 'oauth2') and
    holds the API's in-flight gate while a request is on the wire.

    The gate (`gate`, set by the client before each call: a batch URL does not name its API) covers
    the HTTP exchange only, not the parsing after it: a slot freed as soon as an answer is in lets
    the next request go while this one is parsed (measured on the trust read: 120 batches, 8 in
    flight, each parsed for ~4 ms)."""

    gate: threading.BoundedSemaphore | None = None

    def __init__(self, stats: CallStats, lock: threading.Lock, token_uri: str, **kw):
        super().__init__(timeout=HTTP_TIMEOUT, **kw)
        self._stats, self._lock, self._token_uri = stats, lock, token_uri

    def request(self, uri, method="GET", body=None, headers=None, *args, **kwargs):  # noqa: D401
        api = "oauth2" if uri.startswith(self._token_uri) else api_of_url(uri)
        with self._lock:
            self._stats.round_trips[api] = self._stats.round_trips.get(api, 0) + 1
        gate = self.gate if api != "oauth2" else None
        if gate is None:
            return super().request(uri, method, body, headers, *args, **kwargs)
        with gate:
            return super().request(uri, method, body, headers, *args, **kwargs)


# First match wins: Forms and Chat share Classroom's bare /v1/ prefix.
_API_PREFIXES = (("/admin/reports", "reports"), ("/admin/directory", "directory"), ("/gmail", "gmail"),
                 ("/v1/forms", "forms"), ("/v1/spaces", "chat"), ("/v1/", "classroom"), ("/batch", "batch"))


def api_of_url(uri: str) -> str:
    path = urlparse(uri).path
    if "/drive/" in path:
        return "drive"
    return next((api for prefix, api in _API_PREFIXES if path.startswith(prefix)), "other")


class GoogleClient:
    """The shared Google client: build it once per process and share it between threads."""

    def __init__(self, key: KeyFile, *, api_base_url: str = "", max_attempts: int = 7,
                 backoff_base: float = 1.0, backoff_max: float = 32.0, sleep: Callable[[float], None] = time.sleep,
                 quotas: dict[str, int] | None = None, rate_limit_url: str = "", quota_window_s: float = WINDOW_S):
        """`quotas`: calls per minute for each paced API, per impersonated user or (Chat) per project
        (default: Google's published quotas, see `quotas.py`); `{}` paces nothing. `rate_limit_url`: a
        Redis whose windows every process shares (`shared_quotas.py`; raises Unreachable naming its
        host:port when nothing answers there); empty = this process paces itself. `quota_window_s`:
        Google's window is 60 s; tests shorten it."""
        self.key = key
        self.base_url = api_base_url.rstrip("/")
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.sleep = sleep
        self.stats = CallStats()
        self._stats_lock = threading.Lock()
        self._local = threading.local()
        self._creds = CredentialCache(key)
        self._gates = {name: threading.BoundedSemaphore(info.in_flight) for name, info in APIS.items()}
        self._rng = random.Random()
        self.pacer: QuotaPacer | SharedQuotaPacer
        if rate_limit_url and quotas != {}:
            from connectors.google.shared_quotas import shared_pacer  # redis-py costs ~150 ms to import

            self.pacer = shared_pacer(rate_limit_url, key.info.get("project_id") or key.client_email, self.base_url,
                                      quotas, on_wait=self._paced, window_s=quota_window_s)
        else:
            self.pacer = QuotaPacer(quotas, sleep=sleep, on_wait=self._paced, window_s=quota_window_s)
        self._paced_apis: set[str] = set()
        self.reach = Reachability()  # an endpoint nobody answers fails fast, named, instead of being retried

    @classmethod
    def from_settings(cls, settings) -> GoogleClient:
        key = KeyFile(settings.resolve(settings.google.service_account_file))
        return cls(key, api_base_url=settings.google.api_base_url,
                   backoff_base=settings.google.retry_base_ms / 1000, rate_limit_url=shared_quota_url(settings))

    # ---------------------------------------------------------------- plumbing

    def _http(self) -> httplib2.Http:
        http = getattr(self._local, "http", None)
        if http is None:
            http = CountingHttp(self.stats, self._stats_lock, self.key.token_uri)
            self._local.http = http
        return http

    def service(self, api: str):
        """The service object for `api` (built offline from the shipped discovery document)."""
        return _shared_resource(api, self.base_url)

    def resource(self, api: str, *path: str):
        """A nested resource, e.g. resource("classroom", "courses", "students"): each `svc.courses()`
        call otherwise rebuilds every method from discovery (~3 ms, measured), which dominated
        building thousands of batch parts."""
        return _shared_resource(api, self.base_url, *path)

    def authorized_http(self, subject: str, scopes: tuple[str, ...]) -> AuthorizedHttp:
        http = self._http()
        creds = self._creds.get(subject, scopes, AuthRequest(http))
        return AuthorizedHttp(creds, http=http)

    def check_token(self, subject: str, scopes: tuple[str, ...]) -> None:
        """Exchange a token for (subject, scopes) now; raises SourceRefused naming the scopes if refused,
        Unreachable naming host and port if nothing answers at the token endpoint."""
        self.reach.check(self.key.token_uri, "oauth2")
        try:
            self._creds.get(subject, scopes, AuthRequest(self._http()))
        except TransientError as exc:
            raise self.reach.after_error(self.key.token_uri, "oauth2", exc) from None

    def _authorized(self, subject: str, scopes: tuple[str, ...], uri: str, api: str) -> AuthorizedHttp:
        """Credentials for a call to ``uri``, both endpoints (API and token) checked to answer."""
        self.reach.check(uri, api)
        self.reach.check(self.key.token_uri, "oauth2")
        try:
            return self.authorized_http(subject, scopes)
        except TransientError as exc:  # the token exchange failed: is anything listening there?
            raise self.reach.after_error(self.key.token_uri, "oauth2", exc) from None

    def _paced(self, api: str, wait: float) -> None:
        level = logging.DEBUG if api in self._paced_apis else logging.INFO
        self._paced_apis.add(api)
        scope = "per-project" if api in self.pacer.per_project else "per-user"
        shared = ", shared by every worker" if getattr(self.pacer, "shared", False) else ""
        event(log, "google.paced", level, api=api, wait=round(wait, 2), reason=f"{scope} quota per minute{shared}")

    def _count(self, api: str, n: int = 1) -> None:
        with self._stats_lock:
            self.stats.calls[api] = self.stats.calls.get(api, 0) + n

    def _backoff(self, attempt: int, err: TransientError) -> float:
        if err.retry_after is not None:
            return min(err.retry_after, self.backoff_max)
        cap = min(self.backoff_max, self.backoff_base * (2 ** attempt))
        return cap / 2 + self._rng.random() * cap / 2  # truncated exponential backoff, jittered

    # ---------------------------------------------------------------- calls

    def execute(self, api: str, request: HttpRequest, *, subject: str, scopes: tuple[str, ...]) -> dict:
        """Run one request with retries on transient errors; raise our error tree otherwise."""
        attempt = 0
        while True:
            try:
                http = self._authorized(subject, scopes, request.uri, api)
                self.pacer.acquire(api, subject)
                self._count(api)
                self._http().gate = self._gates[api]
                return request.execute(http=http, num_retries=0)
            except HttpError as exc:
                err = classify(exc.resp.status, exc.content, exc.resp, api=api, scopes=scopes, subject=subject)
            except (httplib2.HttpLib2Error, OSError) as exc:
                err = self.reach.after_error(request.uri, api, TransientError(f"{api}: network error: {exc}", api=api))
            except TransientError as exc:  # the token endpoint answered, but failed: retry like any other call
                err = exc
            if not isinstance(err, TransientError) or attempt + 1 >= self.max_attempts:
                raise err
            delay = self._backoff(attempt, err)
            if attempt == 0:
                event(log, "google.retry", logging.INFO, api=api, status=err.status, reason=err.reason,
                      delay=round(delay, 2))
            self.sleep(delay)
            attempt += 1

    def pages(self, api: str, make_request: Callable[[str | None], HttpRequest], *, subject: str,
              scopes: tuple[str, ...], ahead: bool = False,
              more: Callable[[dict], bool] | None = None) -> Iterator[dict]:
        """Yield every page; `make_request(page_token)` builds the request. Refuses a repeated token.

        With `ahead`, the next page is requested (on one helper thread) as soon as a page's token is
        known, while the caller handles that page: a long list is a chain of dependent requests, and
        this takes the caller's own work off the chain. `more(page)`, when given, is asked as each
        page arrives (before any read-ahead) whether the following page is still wanted."""
        def fetch(token: str | None) -> dict:
            return self.execute(api, make_request(token), subject=subject, scopes=scopes)

        seen: set[str] = set()

        def next_token(page: dict) -> str | None:
            token = page.get("nextPageToken")
            if token and token in seen:
                raise SourceError(f"{api}: the API returned a page token it had already sent (paging loop)", api=api)
            if token:
                seen.add(token)
            return token or None

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{api}-pages") if ahead else None
        try:
            page = fetch(None)
            while True:
                token = next_token(page)
                if more is not None and not more(page):
                    token = None
                following = pool.submit(fetch, token) if pool is not None and token else None
                yield page
                if not token:
                    return
                page = following.result() if following is not None else fetch(token)
        finally:  # a caller that stops early does not wait for (or retry) the page read ahead
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    def batch(self, api: str, requests: Iterable[tuple[str, HttpRequest]], *, subject: str,
              scopes: tuple[str, ...]) -> Iterator[tuple[str, dict | None, SourceError | None]]:
        """Run requests in batches of the API's cap; yield (key, response, error) for each, retrying
        transient failures of single parts in later batches."""
        info = APIS[api]
        pending = list(requests)
        attempts: dict[str, int] = {}
        if not info.batch_cap:
            for key, req in pending:
                try:
                    yield key, self.execute(api, req, subject=subject, scopes=scopes), None
                except SourceError as exc:
                    yield key, None, exc
            return
        while pending:
            chunk, pending = pending[: info.batch_cap], pending[info.batch_cap:]
            results = self._run_batch(api, chunk, subject, scopes)
            retry: list[tuple[str, HttpRequest]] = []
            worst_delay = 0.0
            for key, req in chunk:
                resp, err = results[key]
                if isinstance(err, TransientError) and attempts.get(key, 0) + 1 < self.max_attempts:
                    worst_delay = max(worst_delay, self._backoff(attempts.get(key, 0), err))
                    attempts[key] = attempts.get(key, 0) + 1
                    retry.append((key, req))
                else:
                    yield key, resp, err
            if retry:
                self.sleep(worst_delay)
                pending = retry + pending

    def batch_pages(self, api: str, starts: dict[str, Callable[[str | None], HttpRequest]], *, subject: str,
                    scopes: tuple[str, ...], workers: int | None = None
                    ) -> Iterator[tuple[str, dict | None, SourceError | None]]:
        """Every page of many paged lists, as batches: round 1 fetches each list's first page, later
        rounds the next pages of the lists that have more. Chunks of one round run concurrently
        (bounded by the API's in-flight cap). Yields (key, page, None) per page, or (key, None, err)
        once for a list that failed (it is not followed further)."""
        info = APIS[api]
        cap = info.batch_cap or 1
        seen: dict[str, set[str]] = {key: set() for key in starts}
        pending: list[tuple[str, str | None]] = [(key, None) for key in starts]
        while pending:
            chunks = [pending[i:i + cap] for i in range(0, len(pending), cap)]
            pending = []

            def run(chunk: list[tuple[str, str | None]]) -> list[tuple[str, dict | None, SourceError | None]]:
                reqs = [(key, starts[key](token)) for key, token in chunk]
                return list(self.batch(api, reqs, subject=subject, scopes=scopes))

            for _chunk, results, exc in fan_out(run, chunks, workers or info.in_flight):
                if exc is not None:
                    raise exc
                for key, page, err in results:
                    if err is not None or page is None:
                        yield key, None, err
                        continue
                    yield key, page, None
                    token = page.get("nextPageToken")
                    if token:
                        if token in seen[key]:
                            yield key, None, SourceError(f"{api}: the API returned a page token it had already "
                                                         "sent (paging loop)", api=api)
                            continue
                        seen[key].add(token)
                        pending.append((key, token))

    def _run_batch(self, api: str, chunk: list[tuple[str, HttpRequest]], subject: str,
                   scopes: tuple[str, ...]) -> dict[str, tuple[dict | None, SourceError | None]]:
        results: dict[str, tuple[dict | None, SourceError | None]] = {}

        def callback(request_id: str, response: Any, exception: Exception | None) -> None:
            if exception is None:
                results[request_id] = (response, None)
            elif isinstance(exception, HttpError):
                results[request_id] = (None, classify(exception.resp.status, exception.content, exception.resp,
                                                      api=api, scopes=scopes, subject=subject))
            else:
                results[request_id] = (None, TransientError(f"{api}: {exception}", api=api))

        info = APIS[api]
        attempt = 0
        while True:
            uri = (f"{self.base_url}/{info.batch_path}" if self.base_url else None) or _google_batch_uri(info)
            try:
                http = self._authorized(subject, scopes, uri, api)
                batch = LeanBatchHttpRequest(callback=callback, batch_uri=uri)
                for key, req in chunk:
                    req.http = http  # so each part carries this subject's Authorization header
                    batch.add(req, request_id=key)
                self.pacer.acquire(api, subject, len(chunk))
                self._count(api, len(chunk))
                self._http().gate = self._gates[api]
                batch.execute(http=http)
                return results
            except BatchError as exc:  # an answer that is not a batch (a proxy's page, say), or a bad part
                err = (TransientError(f"{api} batch: {exc.reason}", api=api) if exc.resp is not None
                       else SourceError(f"{api} batch: {exc.reason}", api=api))
            except HttpError as exc:
                err = classify(exc.resp.status, exc.content, exc.resp, api=api, scopes=scopes, subject=subject)
            except (httplib2.HttpLib2Error, OSError) as exc:
                err = self.reach.after_error(uri, api, TransientError(f"{api} batch: network error: {exc}", api=api))
            except SourceError as exc:  # the token exchange failed (refused), or nothing answers (Unreachable)
                err = exc
            if not isinstance(err, TransientError) or attempt + 1 >= self.max_attempts:
                return {key: (None, err) for key, _ in chunk}
            self.sleep(self._backoff(attempt, err))
            attempt += 1
            results.clear()


class _NoTransport(httplib2.Http):
    """The transport of the shared resources: never used, since every request is executed with the
    caller's own thread's transport (`execute`, `_run_batch`). Fails loudly if one is not."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a Google request was executed without the calling thread's transport")


MAX_SHARED_RESOURCES = 256  # one base URL needs ~30 (services and nested resources)
_RESOURCES: dict[tuple[str, ...], Any] = {}
_RESOURCES_LOCK = threading.RLock()  # a nested resource builds its parents under it


def _shared_resource(api: str, base_url: str, *path: str):
    """The service (or nested resource) for `api` at `base_url`, built once per process.

    Building a service parses its discovery document and creates every method (tens of ms; a
    nested resource ~3 ms), and a roster read asks from many threads and clients. A resource only
    builds requests: it holds no per-user or per-thread state once its transport is never used
    (`_NoTransport`), so one per process is safe to share between threads and clients."""
    key = (base_url, api, *path)
    res = _RESOURCES.get(key)
    if res is not None:
        return res
    with _RESOURCES_LOCK:
        res = _RESOURCES.get(key)
        if res is None:
            if path:
                res = getattr(_shared_resource(api, base_url, *path[:-1]), path[-1])()
            else:
                info = APIS[api]
                opts = {"api_endpoint": f"{base_url}/{info.service_path}"} if base_url else None
                res = build(info.name, info.version, http=_NoTransport(), cache_discovery=False,
                            static_discovery=True, client_options=opts)
            if len(_RESOURCES) >= MAX_SHARED_RESOURCES:  # many base URLs (a test suite's sandboxes)
                _RESOURCES.clear()
            _RESOURCES[key] = res
        return res


def _google_batch_uri(info: ApiInfo) -> str:
    root = "https://www.googleapis.com/" if info.name == "drive" else f"https://{_host(info)}/"
    return root + info.batch_path


def _host(info: ApiInfo) -> str:
    return {"admin": "admin.googleapis.com", "classroom": "classroom.googleapis.com",
            "gmail": "gmail.googleapis.com", "forms": "forms.googleapis.com", "chat": "chat.googleapis.com"}[info.name]


def fan_out(fn: Callable[[Any], Any], items: Iterable[Any], workers: int = 8) -> Iterator[tuple[Any, Any, Exception | None]]:
    """Run fn over items on a bounded pool; yield (item, result, error) as each finishes.

    Bounded so per-user crawls never exceed the APIs' in-flight limits; each worker thread
    gets its own transport automatically (GoogleClient keeps them thread-local).
    """
    items = list(items)
    if not items:
        return
    pending = iter(items)
    ahead = 2 * max(1, workers)  # submitted but not yet handed back: bounds memory when the caller is slower
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items))), thread_name_prefix="google") as pool:
        futures = {pool.submit(fn, item): item for item in islice(pending, ahead)}
        while futures:
            done, _ = wait(futures, return_when=FIRST_COMPLETED)
            for fut in done:
                item = futures.pop(fut)
                try:
                    result, error = fut.result(), None
                except Exception as exc:  # noqa: BLE001 - handed to the caller to classify
                    result, error = None, exc
                for nxt in islice(pending, 1):
                    futures[pool.submit(fn, nxt)] = nxt
                yield item, result, error


def in_order(fn: Callable[[Any], Any], items: Iterable[Any], ahead: int = 4) -> Iterator[tuple[Any, Any]]:
    """Yield (item, fn(item)) in the items' order while up to `ahead` later items are already running.

    For chains of dependent pages (a Reports window read page by page): reading several windows at
    once hides the chain's latency, while handing results back in order keeps cursors safe — a
    window's cursor is still stored only after every earlier window. An error surfaces at its item.
    """
    pending = iter(items)
    pool = ThreadPoolExecutor(max_workers=max(1, ahead), thread_name_prefix="google-ahead")
    queue: deque = deque((item, pool.submit(fn, item)) for item in islice(pending, max(1, ahead)))
    try:
        while queue:
            item, fut = queue.popleft()
            result = fut.result()
            for nxt in islice(pending, 1):
                queue.append((nxt, pool.submit(fn, nxt)))
            yield item, result
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
