"""The one error envelope of the HTTP API, produced by one set of exception handlers.

Every 4xx/5xx response has the body ``{"error": {"code": str, "message": str, "detail": ...}}``.
Handlers never build error JSON themselves: they raise :class:`vigil.errors.VigilError` (or let
FastAPI raise its own validation/HTTP errors), and these handlers turn them into the envelope.
Unexpected exceptions become a 500 with a generic message; the traceback goes to the log only.

Refusals are evidence: a 403 (role, scope or policy) or 409 (e.g. deciding twice on an alert)
answered to an authenticated person is also appended to the audit chain as ``access.refused``
with the route and the reason, so an auditor sees privilege-escalation attempts.
"""

from __future__ import annotations

import logging
from enum import IntEnum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from vigil.errors import AuthenticationError, RateLimitedError, VigilError
from vigil.governance.audit import AuditAction
from vigil.logs import redact

log = logging.getLogger(__name__)

REFUSED_ACTION = AuditAction.ACCESS_REFUSED


class CloseCode(IntEnum):
    """Why the server closed a live connection (WebSocket close codes), defined once here.

    The handshake refusal and a close of an open connection use the same codes, so a client
    needs one rule: 4401 and 4403 mean "sign in again" (the console says "signed out"), the
    others mean "reconnect later" or "fix the request". Listed in docs/api.md.
    """

    #: No valid credential: none sent, or it was revoked, expired, or its user disabled.
    CREDENTIAL = 4401
    #: The credential may not (or no longer) see anything the connection asked for: a role or
    #: camera assignment changed so that none of its kinds or cameras remain.
    SCOPE = 4403
    #: The query is malformed (unknown kind, too many cameras).
    BAD_QUERY = 4400
    #: The server cannot record the connection (its audit entry) or is stopping: retry later.
    UNAVAILABLE = 1011
    #: The server is shutting down: reconnect (to another API process, or after the restart).
    GOING_AWAY = 1001
    #: Too many live connections on this process: retry later (the bound keeps state bounded).
    BUSY = 1013


class PayloadTooLargeError(VigilError):
    code = "too_large"
    http_status = 413


class UnsupportedMediaError(VigilError):
    code = "unsupported_media_type"
    http_status = 415


SESSION_COOKIE = "vigil_session"
"""The console's session cookie (HttpOnly, SameSite=Strict); set by ``POST /auth/login``."""


class CsrfError(VigilError):
    """A cookie-authenticated unsafe request without the matching CSRF token."""

    code = "csrf_failed"
    http_status = 403


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code.")
    message: str = Field(description="What went wrong, for people.")
    detail: Any = Field(None, description="Hint or per-field problems, when there are any.")


class ErrorEnvelope(BaseModel):
    """The body of every 4xx/5xx response."""

    error: ErrorBody


_DESCRIPTIONS = {
    400: "Bad input",
    401: "Not authenticated",
    403: "Forbidden by role, scope or policy",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal error",
    503: "Unavailable",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorEnvelope, "description": text} for code, text in _DESCRIPTIONS.items()
}


def envelope(
    status: int,
    code: str,
    message: str,
    detail: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    # Error texts can quote a camera URL (a config or stream error): never with credentials.
    body: dict[str, Any] = {"error": {"code": code, "message": redact(message)}}
    if detail is not None:
        body["error"]["detail"] = redact(detail) if isinstance(detail, str) else detail
    return JSONResponse(status_code=status, content=body, headers=headers)


def _record_refusal(request: Request, exc: VigilError) -> None:
    principal = getattr(request.state, "principal", None)
    audit = getattr(request.app.state, "audit", None)
    if principal is None or audit is None:
        return
    route = request.scope.get("route")
    path = getattr(route, "path", request.url.path)
    try:
        audit.append(
            principal.user.id,
            REFUSED_ACTION,
            f"route:{request.method} {path}"[:200],
            exc.message[:500],
            [("code", exc.code), ("status", str(exc.http_status)), ("via", principal.via)],
        )
    except Exception:  # the refusal stands even if the chain cannot be written
        log.exception("could not record a refusal in the audit chain")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that produce the envelope for every error path."""

    @app.exception_handler(VigilError)
    async def _vigil(request: Request, exc: VigilError) -> JSONResponse:
        if exc.http_status in (403, 409):
            _record_refusal(request, exc)
        if exc.http_status >= 500:
            log.error("request failed: %s", exc)
        headers = None
        if isinstance(exc, RateLimitedError):
            headers = {"Retry-After": str(exc.retry_after_s)}
        elif isinstance(exc, AuthenticationError):
            headers = {"WWW-Authenticate": "Bearer"}
        response = envelope(exc.http_status, exc.code, exc.message, exc.hint, headers)
        if isinstance(exc, AuthenticationError) and SESSION_COOKIE in request.cookies:
            # A session cookie that no longer authenticates (expired, revoked, signed out on
            # another tab) is dropped, so the browser's state matches the server's.
            response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return envelope(422, "invalid_request", "the request is not valid", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            400: "bad_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
            401: "unauthenticated",
            403: "forbidden",
        }.get(exc.status_code, "http_error")
        headers = dict(exc.headers) if exc.headers else None
        return envelope(exc.status_code, code, str(exc.detail), headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in request", exc_info=exc)
        return envelope(500, "internal_error", "internal error; see the server log")
