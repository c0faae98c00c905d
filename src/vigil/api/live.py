"""Open live connections, tied to the credential that opened them.

A WebSocket is authenticated once, at its handshake; without more, a logout, an expired token, a
revoked session or API key, a disabled account, or a change of roles or cameras would not reach a
socket that is already open, and it would keep streaming alerts to someone whose access was cut.
:class:`LiveRegistry` holds every open live connection of this API process and **re-validates
them on a timer**: every ``api.live_recheck_s`` (2 s by default) one thread re-reads the
credentials of all open connections from the system of record in one query
(:meth:`vigil.governance.accounts.AccountService.resolve_many`), and for each connection:

* the credential is no longer valid (logged out, expired, revoked, user disabled): the socket is
  closed with :attr:`CloseCode.CREDENTIAL` (4401);
* it is valid but its roles or cameras changed: the connection is **narrowed** (or widened) to
  what the credential may see now, computed by the same :func:`scope_for` as at the handshake;
  if nothing it asked for remains, it is closed with :attr:`CloseCode.SCOPE` (4403).

Why a timer rather than a revocation broadcast: every change that matters (a logout on another
API process, an admin's CLI on another machine, an expiry that nobody announces) ends up in the
database, and reading it is the only path that cannot miss one; in cluster mode each API process
reads the same PostgreSQL database, so it works across processes without a message bus. The
cost is one indexed read per interval per process (500 credentials per statement), whatever the
number of sockets; the price is latency: access ends within ``live_recheck_s`` plus one read,
not instantly. Events already queued for a connection are checked again at send time, so a
narrowed connection sends nothing it may no longer see. If the re-check itself fails three
times in a row, every connection is closed (1011): a socket whose credential cannot be checked
is not kept open.

Every connection is audited once when it opens (``live.open``: who, via which credential, from
which client, which kinds and cameras) and once when it closes (``live.close``: why, how long,
how many events), never per event. A connection whose opening cannot be recorded is refused.
The registry is bounded (``api.live_max_connections``); the thread runs only while connections
are open. Other live streams (the console's video, when it lands) register the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime

from vigil.api.errors import CloseCode
from vigil.governance.accounts import AccountService, Principal
from vigil.governance.audit import AuditAction, AuditLog, summarise_ids, utc_now
from vigil.notify.events import EVENT_ROLES, EventKind
from vigil.notify.hub import Subscription

log = logging.getLogger(__name__)

EVENTS_SCOPE = "events:read"
MAX_CHECK_FAILURES = 3


@dataclass(frozen=True, slots=True)
class Scope:
    """What a connection may receive now: the kinds and cameras (``None``: every camera)."""

    kinds: frozenset[EventKind]
    cameras: frozenset[str] | None


def scope_for(
    principal: Principal, kinds: Collection[EventKind], cameras: frozenset[str] | None
) -> Scope | None:
    """What ``principal`` may see of what a connection asked for (``kinds``; ``cameras``:
    ``None`` for all it may see), or ``None`` when nothing remains.

    The one rule for the handshake and every re-check: an API key needs ``events:read``; a kind
    needs one of the roles of :data:`vigil.notify.events.EVENT_ROLES`; cameras are those asked
    for within the account's assignment and the key's ``camera:<id>`` scopes.
    """
    if principal.scopes is not None and EVENTS_SCOPE not in principal.scopes:
        return None
    allowed = frozenset(k for k in kinds if principal.roles & EVENT_ROLES[k])
    mine = principal.cameras
    cams = mine if cameras is None else (cameras if mine is None else cameras & mine)
    if not allowed or (cams is not None and not cams):
        return None
    return Scope(allowed, cams)


class LiveRefusedError(Exception):
    """A connection that may not open: the close code and reason to send."""

    def __init__(self, code: CloseCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(eq=False)
class LiveConnection:
    """One open live connection: who opened it, what it asked for, and how it ends.

    ``ended`` is set (on the connection's loop) when the server decides to close it; the
    connection's own task then closes the socket with ``end_code`` and ``end_reason``.
    """

    id: str
    principal: Principal
    client: str
    kinds: frozenset[EventKind]
    cameras: frozenset[str] | None
    scope: Scope
    sub: Subscription
    opened_at: datetime
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    end_code: CloseCode | None = None
    end_reason: str = ""
    narrowed: int = 0
    sent: int = 0

    def end(self, code: CloseCode, reason: str) -> None:
        """Ask the connection to close (runs on its loop; the first reason wins)."""
        if self.end_code is None:
            self.end_code, self.end_reason = code, reason
        self.ended.set()

    def apply(self, principal: Principal, scope: Scope) -> None:
        """Narrow (or widen) the subscription to ``scope`` (runs on the connection's loop)."""
        if scope == self.scope and principal.roles == self.sub.roles:
            return
        self.narrowed += 1
        self.scope = scope
        self.sub.roles = principal.roles
        self.sub.kinds = scope.kinds
        self.sub.cameras = scope.cameras
        self.sub.allowed_cameras = principal.cameras


class LiveRegistry:
    """Every open live connection of this process, re-validated every ``recheck_s``.

    Args:
        accounts: resolves credentials (one read for all connections).
        audit: where ``live.open`` and ``live.close`` go.
        recheck_s: seconds between re-checks; the bound on how long access outlives its end.
        max_connections: more are refused with :attr:`CloseCode.BUSY`.
    """

    def __init__(
        self,
        accounts: AccountService,
        audit: AuditLog,
        *,
        recheck_s: float = 2.0,
        max_connections: int = 1000,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.accounts = accounts
        self.audit = audit
        self.recheck_s = recheck_s
        self.max_connections = max_connections
        self.clock = clock
        self._conns: dict[str, LiveConnection] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.checks = 0
        self.failures = 0

    @property
    def open_count(self) -> int:
        with self._lock:
            return len(self._conns)

    def status(self) -> dict[str, object]:
        """Open connections and failed re-checks (no personal data)."""
        return {"name": "live_connections", "open": self.open_count, "failures": self.failures}

    def open(
        self,
        principal: Principal,
        client: str,
        kinds: frozenset[EventKind],
        cameras: frozenset[str] | None,
        loop: asyncio.AbstractEventLoop,
    ) -> LiveConnection:
        """Register a connection (call from a worker thread: it writes ``live.open``).

        :class:`LiveRefusedError` when the credential may see none of it (4403), the process
        holds ``max_connections`` (1013), or the opening cannot be recorded (1011).
        """
        scope = scope_for(principal, kinds, cameras)
        if scope is None:
            raise LiveRefusedError(CloseCode.SCOPE, "your roles and cameras allow none of this")
        sub = Subscription(
            roles=principal.roles,
            loop=loop,
            kinds=scope.kinds,
            cameras=scope.cameras,
            allowed_cameras=principal.cameras,
        )
        conn = LiveConnection(
            uuid.uuid4().hex, principal, client, kinds, cameras, scope, sub, self.clock()
        )
        with self._lock:
            if len(self._conns) >= self.max_connections:
                raise LiveRefusedError(CloseCode.BUSY, "too many live connections; retry later")
            self._conns[conn.id] = conn  # counted now, so parallel opens respect the bound
        try:
            self._record_open(conn)
        except Exception:
            with self._lock:
                self._conns.pop(conn.id, None)
            log.exception("could not record a live connection's opening; refused")
            raise LiveRefusedError(CloseCode.UNAVAILABLE, "cannot record the connection") from None
        self._ensure_checker()
        return conn

    def close(self, conn: LiveConnection, dropped: int) -> None:
        """Unregister a connection and write ``live.close`` (call from a worker thread)."""
        with self._lock:
            if self._conns.pop(conn.id, None) is None:
                return
        code = "client" if conn.end_code is None else str(int(conn.end_code))
        reason = conn.end_reason or "the client closed the connection"
        seconds = (self.clock() - conn.opened_at).total_seconds()
        try:
            self.audit.append(
                conn.principal.user.id,
                AuditAction.LIVE_CLOSE,
                f"live:{conn.id}",
                reason,
                [
                    ("code", code),
                    ("open_s", f"{seconds:.1f}"),
                    ("sent", str(conn.sent)),
                    ("dropped", str(dropped)),
                    ("narrowed", str(conn.narrowed)),
                    ("kinds", ",".join(sorted(conn.scope.kinds))),
                    ("cameras", summarise_ids(_sorted(conn.scope.cameras))),
                ],
            )
        except Exception:  # the socket is closed either way; the gap is logged loudly
            log.exception("could not record the close of live connection %s", conn.id)

    def _record_open(self, conn: LiveConnection) -> None:
        p = conn.principal
        self.audit.append(
            p.user.id,
            AuditAction.LIVE_OPEN,
            f"live:{conn.id}",
            "live events opened",
            [
                ("stream", "events"),
                ("via", p.via),
                ("client", conn.client[:64]),
                ("kinds", ",".join(sorted(conn.kinds))),
                ("cameras_asked", summarise_ids(_sorted(conn.cameras))),
                ("cameras", summarise_ids(_sorted(conn.scope.cameras))),
                *p.attribution(),
            ],
        )

    # -- re-validation ----------------------------------------------------------------------

    def _ensure_checker(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="vigil-live", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        failed = 0
        while not self._stop.wait(self.recheck_s):
            with self._lock:
                if not self._conns:  # idle: the next open starts a new checker
                    self._thread = None
                    return
            try:
                self.check_once()
                failed = 0
            except Exception:
                self.failures += 1
                failed += 1
                log.exception("re-checking live connections failed (%d in a row)", failed)
                if failed >= MAX_CHECK_FAILURES:
                    self._end_all(CloseCode.UNAVAILABLE, "credentials cannot be re-checked")

    def check_once(self) -> int:
        """Re-read every open connection's credential and close or narrow each that changed;
        returns how many were told to close."""
        with self._lock:
            conns = list(self._conns.values())
        if not conns:
            return 0
        current = self.accounts.resolve_many({c.principal.token_hash for c in conns})
        self.checks += 1
        ended = 0
        for conn in conns:
            principal = current.get(conn.principal.token_hash)
            if principal is None:
                ended += 1
                self._call(conn, conn.end, CloseCode.CREDENTIAL, "credential revoked or expired")
                continue
            scope = scope_for(principal, conn.kinds, conn.cameras)
            if scope is None:
                ended += 1
                reason = "roles or cameras changed: nothing you asked for may be shown"
                self._call(conn, conn.end, CloseCode.SCOPE, reason)
            elif scope != conn.scope or principal.roles != conn.sub.roles:
                self._call(conn, conn.apply, principal, scope)
        return ended

    @staticmethod
    def _call(conn: LiveConnection, fn: Callable[..., None], *args: object) -> None:
        # A closed loop means the connection is gone already (it unregisters itself).
        with contextlib.suppress(RuntimeError):
            conn.sub.loop.call_soon_threadsafe(fn, *args)

    def _end_all(self, code: CloseCode, reason: str) -> None:
        with self._lock:
            conns = list(self._conns.values())
        for conn in conns:
            self._call(conn, conn.end, code, reason)

    def stop(self) -> None:
        """Close every connection (server shutting down) and stop the checker."""
        self._end_all(CloseCode.GOING_AWAY, "the server is shutting down")
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(5)


def _sorted(ids: frozenset[str] | None) -> list[str] | None:
    return None if ids is None else sorted(ids)
