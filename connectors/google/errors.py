"""Google error classification: status + `error.errors[0].reason` / `error.status` / ErrorInfo → our error tree.

The table is data so it can be tested row by row. Transient means "retry with backoff";
refused means a human must act (scope, API disabled, quota exhausted for the day).
"""

from __future__ import annotations

import json
from email.utils import parsedate_to_datetime

from integration.errors import CursorExpired, NotFound, SourceError, SourceRefused, TransientError

RETRYABLE_REASONS = {
    "rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded", "backendError", "internalError",
    "RATE_LIMIT_EXCEEDED", "RESOURCE_EXHAUSTED", "concurrentLimitExceeded", "limitExceeded",
    "servingLimitExceeded", "transientError",
}
DAILY_REASONS = {"dailyLimitExceeded", "dailyLimitExceededUnreg"}
# Only reasons that really mean "the token lacks a scope": a bare 403 `forbidden` / PERMISSION_DENIED
# ("Not Authorized to access this resource/api") means the delegated user lacks admin privileges.
SCOPE_REASONS = {"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"}
DISABLED_REASONS = {"accessNotConfigured", "SERVICE_DISABLED"}
PAGE_TOKEN_REASONS = {"invalidPageToken", "badRequest_invalidPageToken"}

API_LABEL = {
    "directory": "Admin SDK Directory API", "reports": "Admin SDK Reports API",
    "classroom": "Google Classroom API", "drive": "Google Drive API", "gmail": "Gmail API",
    "forms": "Google Forms API", "chat": "Google Chat API",
}


def parse_error(content: bytes | str) -> tuple[str, str, str]:
    """(reason, status, message) from a Google error body of either style; '' when absent."""
    try:
        body = json.loads(content or b"{}")
    except (ValueError, TypeError):
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
        return "", "", text[:200]
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return "", "", ""
    reason = ""
    errors = err.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        reason = str(errors[0].get("reason", ""))
    if not reason:
        for d in err.get("details") or []:
            if isinstance(d, dict) and d.get("reason"):
                reason = str(d["reason"])
                break
    return reason, str(err.get("status", "")), str(err.get("message", ""))


def retry_after_seconds(headers) -> float | None:
    value = (headers or {}).get("retry-after") or (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            from datetime import UTC, datetime

            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            return None


def classify(status: int, content: bytes | str, headers, *, api: str, scopes: tuple[str, ...] = (),
             subject: str = "") -> SourceError:
    """Turn one failed response into the error the caller should act on."""
    reason, gstatus, message = parse_error(content)
    label = API_LABEL.get(api, api)
    retry_after = retry_after_seconds(headers)
    if status == 501:  # not implemented: retrying cannot help
        return SourceError(f"{label}: {message or 'method not implemented'} (HTTP 501)", api=api)
    if status == 429 or status >= 500 or reason in RETRYABLE_REASONS and reason not in DAILY_REASONS:
        return TransientError(f"{label}: {message or 'temporarily unavailable'} (HTTP {status} {reason or gstatus})",
                              api=api, retry_after=retry_after, status=status, reason=reason or gstatus)
    if reason in DAILY_REASONS:
        return SourceRefused(f"{label}: daily quota exhausted ({reason})", api=api, status=status, reason=reason,
                             fix="wait until the quota resets (midnight Pacific time) or raise it in Google Cloud "
                                 "console → APIs & Services → Quotas")
    if reason in PAGE_TOKEN_REASONS or (status == 400 and "page token" in message.lower()):
        return CursorExpired(f"{label}: page token no longer valid", api=api)
    if status == 404:
        return NotFound(f"{label}: not found ({message})", api=api)
    if reason in DISABLED_REASONS or "has not been used in project" in message or "is disabled" in message:
        return SourceRefused(f"{label} is not enabled for the service account's project", api=api,
                             status=status, reason=reason,
                             fix=f"enable the {label} in Google Cloud console → APIs & Services → Library")
    if status in (401, 403):
        scope_list = ", ".join(scopes) or "(see doctor --scopes)"
        if reason in SCOPE_REASONS or "insufficient" in message.lower() or "scope" in message.lower():
            return SourceRefused(
                f"{label} refused: the token lacks a needed scope ({message or reason})", api=api,
                status=status, reason=reason, scope=scope_list,
                fix="in the Admin console → Security → API controls → Domain-wide delegation, add these scopes "
                    f"to the service account's client ID: {scope_list}")
        return SourceRefused(
            f"{label} refused access for {subject or 'the delegated user'}: {message or reason or status}",
            api=api, status=status, reason=reason, scope=scope_list,
            fix=f"make sure {subject or '[google] admin_subject'} is an active admin with the needed privileges, "
                "and the API is enabled for the domain")
    return SourceError(f"{label}: request failed (HTTP {status} {reason}): {message}", api=api)
