"""Keeping each impersonated user under Google's per-user, per-minute quotas.

Why: in-flight caps bound concurrency, not rate. Google measures quotas over a 60-second moving
window per user and project (Classroom 1,200 queries/min per user, Directory and Reports 2,400;
docs in README "Quotas"). A trust's roster read sends ~6,000 Classroom calls as one admin within
seconds: without pacing Google answers 429 faster than backoff can absorb, and parts would fail
after their last attempt, leaving the enrolments unread every night. With pacing the read takes as
long as the quota allows (about 5 minutes for 6,000 calls) and succeeds.

A sliding-window log, not a token bucket: a bucket as deep as a minute's quota would admit twice
the quota in some 60-second windows. Every batch part counts (Google charges each inner call).

Some quotas are per project, not per user: Chat's "Membership reads per minute" (`spaces.members.get`,
`spaces.members.list`) is 3,000 per 60 seconds per Google Cloud project (developers.google.com/workspace/
chat/limits, "Per-project quotas"). Those are paced across every user the process acts as.

This pacer is per process. Several workers share Google's quotas through `shared_quotas.SharedQuotaPacer`
(the same windows in Redis), which falls back to this one when Redis is lost.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 60.0

# Google's published per-user-per-minute defaults (see the module docstring), kept at 90 %: the
# worker and a CLI run may share a user's quota. APIs that are absent are not paced (Drive's and
# Gmail's per-user limits are in quota units far above what the audit spends per user).
PER_USER_PER_MINUTE: dict[str, int] = {
    "directory": 2160,  # 2,400 queries/min per user
    "reports": 2160,  # 2,400 queries/min per user
    # activities.list with eventName, filters (or another narrowing parameter) is a "filtered" query: 250/min
    # (15,000/h; developers.google.com/admin-sdk/reports/v1/limits), paced on top of "reports" (report_windows)
    "reports_filtered": 225,
    "classroom": 1080,  # 1,200 queries/min per user (3,000/min per project)
    "forms": 160,  # 180 responses.list/min per user, the tightest Forms read quota
}

# Per-project quotas (one window for the whole process, whoever is impersonated), also at 90 %. Chat: the
# audit's only Chat call is spaces.members.list (useAdminAccess), under "Membership reads per minute" =
# 3,000 per project (developers.google.com/workspace/chat/limits). The per-space read quota (900/min,
# shared among apps in a space) never binds: each DM space is listed at most once a day.
PER_PROJECT_PER_MINUTE: dict[str, int] = {
    "chat": 2700,  # 3,000 membership reads per minute per project
}


def default_limits(limits: dict[str, int] | None = None) -> dict[str, int]:
    """Calls per window per paced API: `limits`, or both published tables above."""
    return dict({**PER_USER_PER_MINUTE, **PER_PROJECT_PER_MINUTE} if limits is None else limits)


class QuotaPacer:
    """`acquire(api, user, n)` returns once n more calls fit in the user's last-60-seconds window."""

    def __init__(self, limits: dict[str, int] | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, on_wait: Callable[[str, float], None] | None = None,
                 per_project: frozenset[str] | set[str] | None = None, window_s: float = WINDOW_S):
        """`limits`: calls per minute per API (default: both tables above); `per_project`: the APIs whose
        limit is one window for all users (default: those of PER_PROJECT_PER_MINUTE); `window_s`: the
        window's length (Google's is 60 s; tests shorten it)."""
        self.limits = default_limits(limits)
        self.per_project = frozenset(PER_PROJECT_PER_MINUTE if per_project is None else per_project)
        self.clock, self.sleep, self.on_wait = clock, sleep, on_wait
        self.window_s = window_s
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], deque[tuple[float, int]]] = {}
        self._totals: dict[tuple[str, str], int] = {}
        self._offset = 0.0

    def acquire(self, api: str, user: str, n: int = 1) -> float:
        """Wait until n more calls fit; return when they were admitted (on `clock`, for measuring)."""
        limit = self.limits.get(api)
        if not limit:
            return self.clock() + self._offset
        n = min(n, limit)  # a batch bigger than a minute's quota still goes, alone in its window
        key = (api, "" if api in self.per_project else user.lower())
        while True:
            with self._lock:
                wait, stamp = self._try(key, limit, n)
            if wait <= 0:
                return stamp
            if self.on_wait is not None:
                self.on_wait(api, wait)
            before = self.clock()
            self.sleep(wait)
            short = wait - (self.clock() - before)
            if short > 0:  # a sleep that returned early (tests record sleeps): the wait still counts as passed
                with self._lock:
                    self._offset += short

    def _try(self, key: tuple[str, str], limit: int, n: int) -> tuple[float, float]:
        """Record n calls now and return (0, now), or return how long until enough of the window expires."""
        now = self.clock() + self._offset
        window = self._windows.setdefault(key, deque())
        total = self._totals.get(key, 0)
        while window and window[0][0] <= now - self.window_s:
            total -= window.popleft()[1]
        if total + n <= limit:
            window.append((now, n))
            self._totals[key] = total + n
            return 0.0, now
        self._totals[key] = total
        freed, needed = 0, total + n - limit
        for stamp, count in window:
            freed += count
            if freed >= needed:
                return max(stamp + self.window_s - now, 0.001), now
        return self.window_s, now  # unreachable: n <= limit


def shared_quota_url(settings) -> str:
    """The Redis whose windows every worker shares: [queue] rate_limit_url, else a redis:// broker_url,
    else '' (each process paces itself)."""
    q = settings.queue
    if q.rate_limit_url:
        return q.rate_limit_url
    return q.broker_url if q.broker_url.startswith(("redis://", "rediss://", "unix://")) else ""


def quota_floor_s(calls: dict[str, int], limits: dict[str, int] | None = None) -> float:
    """The least time `calls` (per API, one user) can take inside the quotas: a full window for
    every whole quota beyond the first."""
    limits = default_limits(limits)
    windows = [-(-calls[api] // limit) - 1 for api, limit in limits.items() if calls.get(api)]
    return max([0, *windows]) * WINDOW_S
