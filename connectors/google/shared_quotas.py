"""Google's per-user (and per-project) quotas shared by every worker process, through Redis.

Why: `quotas.QuotaPacer` keeps one process under a user's quota, but Google counts every call the
project makes as that user, from any process. Four queue workers reading Classroom as the same
admin would each spend the full 1,080/min and together draw a storm of 429s. This pacer keeps the
same sliding-window log in Redis, so all processes spend one budget: an atomic Lua script per
acquire drops the entries older than the window, then admits the calls if they fit or answers how
long until enough entries expire. Redis's own clock (`TIME`) stamps the entries, so processes on
different hosts agree on the window.

Keys: ``safechannels:quota:<project>:<realm>:{<api>:<user>}`` (``project`` for a per-project quota
such as Chat's). Google counts per-user quotas per Cloud project, so two deployments on different
projects never share a budget, and two on the same project rightly do; ``realm`` is ``google`` or
the ``[google] api_base_url`` (each sandbox is its own Google).

When Redis is lost mid-run the pacer falls back to the in-process pacer (one warning event, then
one reconnection attempt every `RECONNECT_S`): the audit goes on, each process paced on its own as
before this module. The in-process window counts the process's calls all along, so neither losing
Redis nor rejoining it lets one process exceed the quota in any window.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from connectors.google.quotas import WINDOW_S, QuotaPacer
from integration.errors import ConfigError, SourceRefused, Unreachable
from integration.logs import event

log = logging.getLogger("safechannels.google")

RECONNECT_S = 5.0  # how often a process that lost Redis tries it again
SOCKET_TIMEOUT_S = 2.0  # a Redis that stops answering costs an acquire at most ~2 attempts of this
KEY_PREFIX = "safechannels:quota"
PROBE = ("doctor", "probe")  # the window `connect` runs the script on (never near its limit)

# KEYS[1]: the window's log, a ZSET of "<token>:<calls>" scored by admission time (µs, Redis clock).
# KEYS[2]: the sum of the log's <calls> (kept so an acquire reads only what expires, not the window).
# ARGV: window (µs), limit, calls, token. Returns {wait µs (0 = admitted), now µs}.
ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window, limit, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cutoff = string.format('%d', now - window)
local function calls(member) return tonumber(string.match(member, ':(%d+)$')) end
local total = tonumber(redis.call('GET', KEYS[2]))
if total == nil then
  total = 0
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. cutoff, '+inf')) do total = total + calls(m) end
else
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', cutoff)) do total = total - calls(m) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
if total < 0 then total = 0 end
local ttl = math.floor(window / 1000) + 1000
if total + n <= limit then
  redis.call('ZADD', KEYS[1], string.format('%d', now), ARGV[4] .. ':' .. n)
  redis.call('SET', KEYS[2], total + n, 'PX', ttl)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {0, now}
end
redis.call('SET', KEYS[2], total, 'PX', ttl)
redis.call('PEXPIRE', KEYS[1], ttl)
local needed, freed = total + n - limit, 0
local log = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #log, 2 do
  freed = freed + calls(log[i])
  if freed >= needed then return {math.max(tonumber(log[i + 1]) + window - now, 1000), now} end
end
return {window, now}
"""


def endpoint(url: str) -> str:
    """``host:port`` (or the socket path) of a Redis URL, without its password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}"


def namespace(project: str, api_base_url: str = "") -> str:
    """The key prefix for one Cloud project talking to one Google (or one sandbox)."""
    realm = api_base_url.rstrip("/") or "google"
    return f"{KEY_PREFIX}:{project}:{realm}"


def _why(exc: RedisError) -> str:
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, ConnectionRefusedError) or "refused" in str(exc).lower():
        return "connection refused"
    if isinstance(exc, RedisTimeoutError) or isinstance(cause, TimeoutError):
        return f"no answer within {SOCKET_TIMEOUT_S:g} s"
    if "name or service not known" in str(exc).lower() or "nodename nor servname" in str(exc).lower():
        return "host name not found"
    return str(exc) or type(exc).__name__


class SharedQuotaPacer:
    """`acquire(api, user, n)` returns once n more calls fit in the window every process shares.

    The same interface as `QuotaPacer` (`limits`, `per_project`, `window_s`, `acquire`), so the
    client uses either. Its waits are real sleeps: the window runs on Redis's clock."""

    shared = True

    def __init__(self, url: str, namespace: str, limits: dict[str, int] | None = None, *,
                 per_project: frozenset[str] | set[str] | None = None, window_s: float = WINDOW_S,
                 on_wait: Callable[[str, float], None] | None = None, sleep: Callable[[float], None] = time.sleep,
                 reconnect_s: float = RECONNECT_S):
        self.url, self.endpoint, self.namespace = url, endpoint(url), namespace
        self.local = QuotaPacer(limits, per_project=per_project, window_s=window_s, on_wait=on_wait, sleep=sleep)
        self.limits, self.per_project, self.window_s = self.local.limits, self.local.per_project, window_s
        self.on_wait, self.sleep, self.reconnect_s = on_wait, sleep, reconnect_s
        try:  # one immediate retry: a pooled connection gone stale when Redis restarted is replaced at once
            self._redis = redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT_S,
                                               socket_connect_timeout=SOCKET_TIMEOUT_S, retry=Retry(NoBackoff(), 1))
        except ValueError as exc:
            raise ConfigError(f"[queue] rate_limit_url: {exc} (expected redis://host:port/db, rediss:// or "
                              "unix://)") from None
        self._script = self._redis.register_script(ACQUIRE_LUA)
        self._lock = threading.Lock()
        self._lost = False
        self._retry_at = 0.0
        self._token = f"{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}"
        self._seq = 0

    # ---------------------------------------------------------------- start and doctor

    def connect(self) -> str:
        """Check Redis answers and runs the script now; return its version. Raise Unreachable (host:port)
        when nothing answers, SourceRefused when it answers but refuses (password, scripting)."""
        try:
            version = str(self._redis.info("server").get("redis_version", "?"))
            self._script(keys=[self._key(*PROBE), self._key(*PROBE) + ":n"],
                         args=[int(self.window_s * 1e6), 1_000_000, 1, self._next_token()])
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise self.unreachable(exc) from None
        except RedisError as exc:
            raise SourceRefused(f"rate limiter: Redis at {self.endpoint} refused: {exc}", api="ratelimit",
                                fix="check the password and database in [queue] rate_limit_url, and that "
                                    "this Redis allows Lua scripts (EVAL)") from None
        return version

    def unreachable(self, exc: RedisError) -> Unreachable:
        return Unreachable(f"rate limiter: nothing answers at {self.endpoint} ({_why(exc)}); Google's quotas "
                           "cannot be shared between the workers", api="ratelimit", endpoint=self.endpoint,
                           fix=f"start Redis at {self.endpoint}, or correct [queue] rate_limit_url (empty: the "
                               "broker_url when it is redis://, else each process paces itself)")

    def keys_in_use(self) -> int:
        """How many windows (API and user) this deployment has in Redis now."""
        probe = self._key(*PROBE).encode() + b":n"
        return sum(1 for key in self._redis.scan_iter(match=f"{self.namespace}:*:n", count=1000) if key != probe)

    # ---------------------------------------------------------------- pacing

    def acquire(self, api: str, user: str, n: int = 1) -> float:
        """Wait until n more calls fit; return when they were admitted (seconds, Redis's clock while shared)."""
        limit = self.limits.get(api)
        if not limit:
            return time.time()
        n = min(n, limit)  # a batch bigger than the quota still goes, alone in its window
        stamp = None
        if self._shared():
            try:
                stamp = self._acquire_shared(api, user, n, limit)
            except RedisError as exc:
                self._lose(exc)
        # This process's own window too, always: when Redis is lost it already holds the calls just made
        # (no burst at the loss), and once Redis is back it holds the calls made alone (none on rejoining).
        # While Redis answers it never waits long: this process's calls are a part of the shared ones.
        local = self.local.acquire(api, user, n)
        return local if stamp is None else stamp

    def _acquire_shared(self, api: str, user: str, n: int, limit: int) -> float:
        who = "project" if api in self.per_project else user.lower()
        key = self._key(api, who)
        while True:
            wait_us, now_us = self._script(keys=[key, key + ":n"],
                                           args=[int(self.window_s * 1e6), limit, n, self._next_token()])
            if int(wait_us) <= 0:
                return int(now_us) / 1e6
            wait = int(wait_us) / 1e6
            if self.on_wait is not None:
                self.on_wait(api, wait)
            self.sleep(wait)

    def _key(self, api: str, who: str) -> str:
        return f"{self.namespace}:{{{api}:{who}}}"  # a hash tag: both keys of a window in one cluster slot

    def _next_token(self) -> str:
        with self._lock:
            self._seq += 1
            return f"{self._token}-{self._seq}"

    def _shared(self) -> bool:
        """Use Redis now? True unless it was lost; then one thread retries it every `reconnect_s`."""
        if not self._lost:
            return True
        with self._lock:
            if time.monotonic() < self._retry_at:
                return False
            self._retry_at = time.monotonic() + self.reconnect_s
        try:
            self._redis.ping()
        except RedisError:
            return False
        with self._lock:
            if self._lost:
                self._lost = False
                event(log, "google.rate_limiter_restored", logging.INFO, endpoint=self.endpoint,
                      detail="Google's quotas are shared between the workers again")
        return True

    def _lose(self, exc: RedisError) -> None:
        with self._lock:
            self._retry_at = time.monotonic() + self.reconnect_s
            if self._lost:
                return
            self._lost = True
        event(log, "google.rate_limiter_lost", logging.WARNING, endpoint=self.endpoint, error=_why(exc),
              detail=f"pacing this process on its own until Redis answers again (tried every {self.reconnect_s:g} s)")

    @property
    def lost(self) -> bool:
        return self._lost


def shared_pacer(url: str, project: str, api_base_url: str = "", limits: dict[str, int] | None = None, *,
                 on_wait: Callable[[str, float], None] | None = None, window_s: float = WINDOW_S) -> SharedQuotaPacer:
    """A connected shared pacer, or Unreachable/SourceRefused (exit 3) naming Redis's host:port."""
    pacer = SharedQuotaPacer(url, namespace(project, api_base_url), limits, on_wait=on_wait, window_s=window_s)
    pacer.connect()
    return pacer
