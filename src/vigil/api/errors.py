"""The one error envelope of the HTTP API, produced by one set of exception handlers.

Every 4xx/5xx response has the body ``{"error": {"code": str, "message": str, "detail": ...}}``.
Handlers never build error JSON themselves: they raise :class:`vigil.errors.VigilError` (or let
FastAPI raise its own validation/HTTP errors), and these handlers turn them into the envelope.
Unexpected exceptions become a 500 with a generic message; the traceback goes to the log only.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vigil.errors import VigilError

log = logging.getLogger(__name__)


def envelope(status: int, code: str, message: str, detail: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if detail is not None:
        body["error"]["detail"] = detail
    return JSONResponse(status_code=status, content=body)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that produce the envelope for every error path."""

    @app.exception_handler(VigilError)
    async def _vigil(_: Request, exc: VigilError) -> JSONResponse:
        return envelope(exc.http_status, exc.code, exc.message, exc.hint)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return envelope(422, "invalid_request", "the request is not valid", detail)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
            401: "unauthenticated",
            403: "forbidden",
        }.get(exc.status_code, "http_error")
        return envelope(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in request", exc_info=exc)
        return envelope(500, "internal_error", "internal error; see the server log")
