"""``/events``: the live WebSocket stream of alerts, camera status and crowd counts.

Authentication as for HTTP (``Authorization: Bearer``, an API key with ``events:read``, or the
session cookie). A cookie-authenticated socket must come from an allowed origin (the API's own
host or a configured CORS origin): browsers send cookies on cross-site WebSocket handshakes, so
without this check any web page could read the stream (cross-site WebSocket hijacking).

Query ``kinds=alert,crowd`` and ``cameras=a,b`` narrow the stream; the user's roles decide which
kinds may be sent at all (see :data:`vigil.notify.events.EVENT_ROLES`) and the account's camera
assignment (and an API key's ``camera:<id>`` scopes) which cameras. Messages are the JSON of
:func:`vigil.notify.events.event_json`.

The socket stays tied to the credential that opened it (:mod:`vigil.api.live`): within
``api.live_recheck_s`` of a logout, expiry, revocation or disabled account it is closed with
4401; a change of roles or cameras narrows it, or closes it with 4403 when nothing it asked for
remains. Close codes (:class:`vigil.api.errors.CloseCode`): 4401 no valid credential, 4403
nothing (or no longer anything) it may see, 4400 bad query, 1013 too many connections, 1011
the connection cannot be recorded, 1001 server shutting down. Opening and closing are audited
(``live.open``/``live.close``).
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from vigil.api.clients import client_address, proxy_networks
from vigil.api.deps import ALL_ROLES, COOKIE, check
from vigil.api.errors import CloseCode
from vigil.api.live import LiveConnection, LiveRefusedError, LiveRegistry
from vigil.errors import VigilError
from vigil.governance.accounts import Principal
from vigil.notify.events import EVENT_KINDS, EventKind, event_json
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


async def _refuse(ws: WebSocket, code: int, reason: str) -> None:
    """Refuse a socket with its documented close code.

    Closing before the handshake completes makes the server answer HTTP 403, which browsers
    report as close code 1006 with no reason, so the console could not tell "signed out" from a
    network failure. The socket is therefore accepted and closed at once: nothing is sent on it
    before the close frame, so the refused client learns only the code and the reason.
    """
    await ws.accept()
    await ws.close(code=code, reason=reason[:120])


@events.websocket("/events")
async def stream(ws: WebSocket) -> None:
    """Live events for the authenticated user (see the module docstring)."""
    svc: Services = ws.app.state.services
    live: LiveRegistry = ws.app.state.live
    try:
        principal = await asyncio.to_thread(_principal, ws, svc)
    except VigilError as exc:
        await _refuse(ws, CloseCode.CREDENTIAL, exc.message)
        return
    try:
        check(principal, ALL_ROLES, "events:read")
    except VigilError as exc:
        await _refuse(ws, CloseCode.SCOPE, exc.message)
        return
    wanted = _split(ws.query_params.get("kinds")) or list(EVENT_KINDS)
    cams = _split(ws.query_params.get("cameras"))
    if any(k not in EVENT_KINDS for k in wanted) or len(cams) > 1000:
        reason = f"kinds must be among {','.join(EVENT_KINDS)}"
        await _refuse(ws, CloseCode.BAD_QUERY, reason)
        return
    kinds: frozenset[EventKind] = frozenset(k for k in EVENT_KINDS if k in wanted)
    loop = asyncio.get_running_loop()
    try:
        conn = await asyncio.to_thread(
            live.open, principal, _client(ws), kinds, frozenset(cams) or None, loop
        )
    except LiveRefusedError as exc:
        await _refuse(ws, exc.code, exc.reason)
        return
    svc.hub.subscribe(conn.sub)
    try:
        await ws.accept()
        await _pump(ws, conn)
    finally:
        svc.hub.unsubscribe(conn.sub)
        await asyncio.to_thread(live.close, conn, conn.sub.dropped)


def _client(ws: WebSocket) -> str:
    """The client address for the audit entry (``X-Forwarded-For`` only from trusted proxies)."""
    trusted = proxy_networks(tuple(ws.app.state.config.api.trusted_proxies))
    forwarded = ",".join(ws.headers.getlist("x-forwarded-for")) or None
    return client_address(ws.client.host if ws.client else None, forwarded, trusted)


async def _pump(ws: WebSocket, conn: LiveConnection) -> None:
    """Send queued events until the client goes away or the server ends the connection.

    Each event is checked against the connection's current scope again just before it is sent:
    one queued before a narrowing is not sent after it.
    """
    sub = conn.sub
    receiver = asyncio.ensure_future(ws.receive())
    ended = asyncio.ensure_future(conn.ended.wait())
    try:
        while True:
            getter = asyncio.ensure_future(sub.queue.get())
            done, _ = await asyncio.wait(
                {getter, receiver, ended}, return_when=asyncio.FIRST_COMPLETED
            )
            if ended in done:
                getter.cancel()
                code = conn.end_code or CloseCode.GOING_AWAY
                await ws.close(code=code, reason=conn.end_reason[:120])
                return
            if getter in done:
                event = getter.result()
                if sub.wants(event):
                    await ws.send_json(event_json(event))
                    conn.sent += 1
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
        ended.cancel()
