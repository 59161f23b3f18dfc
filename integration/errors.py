"""The error tree. Each branch says what the caller should do about it.

- ConfigurationError: a human must act (bad config, missing scope, bad key). Exit 2
  for local configuration/input, exit 3 when an outside system refused.
- TransientError: retry later (rate limit, 5xx, network); carries retry_after.
- CursorExpired: the stored cursor is no longer valid; do a full resync.
- SkippableRecord: one bad record; log it and go on.
"""

from __future__ import annotations


class SafeChannelsError(Exception):
    """Base class; `str(err)` is always a message fit for an operator."""

    exit_code = 1


class ConfigError(SafeChannelsError):
    """Local configuration or input is wrong (file, key, expectation named)."""

    exit_code = 2

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = problems or [message]
        super().__init__(message)


class InputError(ConfigError):
    """Operator-supplied input (a CSV register, a CLI argument) is wrong."""


class SourceError(SafeChannelsError):
    """An outside system failed; `api` names it (e.g. 'directory', 'classroom')."""

    def __init__(self, message: str, api: str = "", fix: str = ""):
        self.api = api
        self.fix = fix
        super().__init__(message)


class SourceRefused(SourceError):
    """The outside system refused (auth, scope, API disabled, quota exhausted): a human must act."""

    exit_code = 3

    def __init__(self, message: str, api: str = "", fix: str = "", scope: str = "", status: int = 0,
                 reason: str = ""):
        self.scope = scope
        self.status = status
        self.reason = reason
        super().__init__(message, api=api, fix=fix)


class TransientError(SourceError):
    """Retry later; `retry_after` seconds if the system said so."""

    exit_code = 3

    def __init__(self, message: str, api: str = "", retry_after: float | None = None, status: int = 0,
                 reason: str = ""):
        self.retry_after = retry_after
        self.status = status
        self.reason = reason
        super().__init__(message, api=api)


class Unreachable(SourceError):
    """Nothing answers at ``endpoint`` (``host:port``): refused, unresolvable or timed out. Found once
    per endpoint by a TCP probe, so callers fail fast instead of retrying every request for minutes."""

    exit_code = 3

    def __init__(self, message: str, api: str = "", fix: str = "", endpoint: str = ""):
        self.endpoint = endpoint
        super().__init__(message, api=api, fix=fix)


class CursorExpired(SourceError):
    """The stored cursor/page token was rejected: clear it and resync fully."""


class NotFound(SourceError):
    """The named object does not exist at the source (404)."""

    exit_code = 3


class SkippableRecord(SafeChannelsError):
    """One record could not be understood; the rest of the page is still good."""
