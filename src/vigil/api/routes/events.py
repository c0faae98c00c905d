"""``/events``: the live WebSocket stream of alerts, camera status and crowd counts.

Authentication as for HTTP (``Authorization: Bearer``, an API key with ``events:read``, or the
session cookie). A cookie-authenticated socket must come from an allowed origin (the API's own
host or a configured CORS origin): browsers send cookies on cross-site WebSocket handshakes, so
without this check any web page could read the stream (cross-site WebSocket hijacking).

Query ``kinds=alert,crowd`` and ``cameras=a,b`` narrow the stream; the user's roles decide which
kinds may be sent at all (see :data:`vigil.notify.events.EVENT_ROLES`). Messages are the JSON of
:func:`vigil.notify.events.event_json`. Close codes: 4401 not authenticated, 4403 forbidden,
4400 bad query.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from vigil.api.deps import ALL_ROLES, COOKIE, check
from vigil.errors import VigilError
from vigil.governance.accounts import Principal
from vigil.notify.events import EVENT_KINDS, EventKind, event_json
from vigil.notify.hub import Subscription
from vigil.system.services import Services

log = logging.getLogger(__name__)
events = APIRouter(prefix="/api/v1", tags=["events"])


def _principal(ws: WebSocket, svc: Services) -> Principal:
    header = ws.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            raise VigilError("use 'Authorization: Bearer <token>'")
        return svc.accounts.resolve(token.strip(), "bearer")
    cookie = ws.cookies.get(COOKIE)
    if not cookie:
        raise VigilError("authentication required")
    origin = ws.headers.get("origin")
    allowed = set(ws.app.state.config.api.cors_origins)
    host = ws.headers.get("host", "")
    if origin is not None and origin not in allowed and urlsplit(origin).netloc != host:
        raise VigilError(f"origin {origin[:100]} may not use the session cookie")
    return svc.accounts.resolve(cookie, "cookie")


def _split(text: str | None) -> list[str]:
    return [p for p in (text or "").split(",") if p] if text else []


@events.websocket("/events")
async def stream(ws: WebSocket) -> None:
    """Live events for the authenticated user (see the module docstring)."""
    svc: Services = ws.app.state.services
    try:
        principal = await asyncio.to_thread(_principal, ws, svc)
    except VigilError as exc:
        await ws.close(code=4401, reason=exc.message[:120])
        return
    try:
        check(principal, ALL_ROLES, "events:read")
    except VigilError as exc:
        await ws.close(code=4403, reason=exc.message[:120])
        return
    wanted = _split(ws.query_params.get("kinds")) or list(EVENT_KINDS)
    cams = _split(ws.query_params.get("cameras"))
    if any(k not in EVENT_KINDS for k in wanted) or len(cams) > 1000:
        await ws.close(code=4400, reason=f"kinds must be among {','.join(EVENT_KINDS)}")
        return
    kinds: frozenset[EventKind] = frozenset(k for k in EVENT_KINDS if k in wanted)
    await ws.accept()
    sub = svc.hub.subscribe(
        Subscription(
            roles=principal.roles,
            loop=asyncio.get_running_loop(),
            kinds=kinds,
            cameras=frozenset(cams) or None,
            allowed_cameras=principal.cameras,
        )
    )
    try:
        await _pump(ws, sub)
    finally:
        svc.hub.unsubscribe(sub)


async def _pump(ws: WebSocket, sub: Subscription) -> None:
    """Send queued events; notice a client that went away within a second."""
    receiver = asyncio.ensure_future(ws.receive())
    try:
        while True:
            getter = asyncio.ensure_future(sub.queue.get())
            done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                await ws.send_json(event_json(getter.result()))
            else:
                getter.cancel()
            if receiver in done:
                if receiver.result()["type"] == "websocket.disconnect":
                    return
                receiver = asyncio.ensure_future(ws.receive())  # ignore client chatter
    except (WebSocketDisconnect, RuntimeError):
        return
    finally:
        receiver.cancel()
