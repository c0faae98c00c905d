"""Transport hygiene as pure ASGI middleware: body size limits and security headers.

* **Size limits** are enforced before a handler runs: a declared ``Content-Length`` above the
  route's limit is refused at once (413, in the envelope); a chunked body is counted as it
  streams and cut off at the limit, so a 50 MB upload never reaches memory whole. Upload routes
  (enrolment photos) get ``max_upload_bytes``; every other route ``max_body_bytes``.
* **Security headers** on every HTTP response: no MIME sniffing, no framing, no referrer, no
  caching of API answers, a CSP that allows nothing (the web console gets one that allows its
  own scripts, styles, images fetched as blobs and same-origin fetch/WebSocket, and no inline
  code), and HSTS (ignored by browsers over plain HTTP). Nothing is loaded from a CDN.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BASE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"strict-transport-security", b"max-age=31536000"),
]
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
# The console's face images are fetched with a reason header and shown as blob: URLs; recorded
# clips play from the API's own origin (media-src 'self': a <video> reads them with range
# requests on the session cookie).
CONSOLE_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    b"media-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
    b"frame-ancestors 'none'"
)
CONSOLE_PATH = "/console"


class _TooLarge(HTTPException):
    """Raised from ``receive`` mid-body; an HTTPException so FastAPI's body parsing passes it
    through to the envelope handler as a 413 (not a generic 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body exceeds the limit of {limit} bytes")


def _too_large(limit: int) -> bytes:
    return json.dumps(
        {
            "error": {
                "code": "too_large",
                "message": f"the request body exceeds the limit of {limit} bytes",
            }
        }
    ).encode()


class SecurityMiddleware:
    """Size limits and security headers (see the module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        max_upload: int,
        is_upload: Callable[[str], bool],
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload
        self.is_upload = is_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.max_upload if self.is_upload(path) else self.max_body
        csp = API_CSP
        if path.startswith(CONSOLE_PATH):
            csp = CONSOLE_CSP
        started = False

        async def send_secure(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in BASE_HEADERS if k not in names]
                headers.append((b"content-security-policy", csp))
                if b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = True
            if too_big:
                await self._refuse(send_secure, limit)
                return
        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge(limit)
            return message

        try:
            await self.app(scope, receive_limited, send_secure)
        except _TooLarge:
            if not started:
                await self._refuse(send_secure, limit)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        body = _too_large(limit)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
