"""Google's error bodies, in the two shapes the real APIs use.

Classic APIs (Admin SDK, Drive, Gmail) carry ``errors[{message, domain, reason}]``;
gRPC-native APIs (Classroom, Forms) carry ``details[ErrorInfo]`` instead. Connectors
classify by status *and* reason, so the sandbox must get both right.
"""

from __future__ import annotations

from typing import Any

GRPC_APIS = {"classroom", "forms", "chat"}

STATUS_NAMES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ALREADY_EXISTS", 410: "FAILED_PRECONDITION", 412: "FAILED_PRECONDITION", 429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL", 501: "UNIMPLEMENTED", 503: "UNAVAILABLE",
}
# classic reason -> gRPC ErrorInfo reason, for the same condition
GRPC_REASONS = {
    "rateLimitExceeded": "RATE_LIMIT_EXCEEDED", "userRateLimitExceeded": "RATE_LIMIT_EXCEEDED",
    "insufficientPermissions": "ACCESS_TOKEN_SCOPE_INSUFFICIENT", "authError": "ACCESS_TOKEN_EXPIRED",
    "backendError": "BACKEND_ERROR", "notFound": "NOT_FOUND", "invalid": "INVALID_ARGUMENT",
    "forbidden": "PERMISSION_DENIED", "badRequest": "INVALID_ARGUMENT",
}


class ApiError(Exception):
    """Raised by a handler; the server turns it into Google's body for the API being called."""

    def __init__(self, code: int, message: str, reason: str = "", *, domain: str = "global",
                 status: str = "", location: str = "", headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.reason, self.domain = code, message, reason or _default_reason(code), domain
        self.status = status or STATUS_NAMES.get(code, "UNKNOWN")
        self.location = location
        self.headers = headers or {}

    def body(self, api: str) -> dict[str, Any]:
        return error_body(api, self.code, self.message, self.reason, domain=self.domain, status=self.status,
                          location=self.location)


def _default_reason(code: int) -> str:
    return {400: "badRequest", 401: "authError", 403: "forbidden", 404: "notFound", 429: "rateLimitExceeded",
            500: "backendError", 503: "backendError"}.get(code, "unknown")


def error_body(api: str, code: int, message: str, reason: str, *, domain: str = "global", status: str = "",
               location: str = "") -> dict[str, Any]:
    status = status or STATUS_NAMES.get(code, "UNKNOWN")
    if api in GRPC_APIS:
        info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": GRPC_REASONS.get(reason, reason), "domain": "googleapis.com"}
        return {"error": {"code": code, "message": message, "status": status, "details": [info]}}
    item: dict[str, Any] = {"message": message, "domain": domain, "reason": reason}
    if location:
        item["location"], item["locationType"] = location, "parameter" if location != "Authorization" else "header"
    return {"error": {"code": code, "message": message, "errors": [item], "status": status}}


# ---------------------------------------------------------------- common errors


def not_found(what: str) -> ApiError:
    return ApiError(404, f"Resource Not Found: {what}", "notFound")


def bad_request(message: str, reason: str = "invalid") -> ApiError:
    return ApiError(400, message, reason)


def unauthenticated() -> ApiError:
    return ApiError(
        401, "Request is missing required authentication credential. Expected OAuth 2 access token, login "
        "cookie or other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "required", location="Authorization", status="UNAUTHENTICATED",
    )


def invalid_token() -> ApiError:
    return ApiError(
        401, "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
        "other valid authentication credential. See "
        "https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "authError", location="Authorization", status="UNAUTHENTICATED",
    )


def insufficient_scopes() -> ApiError:
    return ApiError(403, "Request had insufficient authentication scopes.", "insufficientPermissions")


def not_authorized() -> ApiError:
    return ApiError(403, "Not Authorized to access this resource/api", "forbidden")
