"""In-process fan-out of events to subscribers (WebSocket clients) and sinks (webhooks, MQTT).

Publishing never blocks the publisher: each WebSocket subscriber has a bounded asyncio queue
filled with ``call_soon_threadsafe``; when a slow client lets it fill up, the oldest event is
dropped and counted (a live view wants the newest state, not a backlog). Sinks are called inline
and must only enqueue (both built-in sinks hand the event to their own delivery thread).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from vigil.core.domain import Role
from vigil.notify.events import EVENT_ROLES, Event, EventKind

log = logging.getLogger(__name__)

Sink = Callable[[Event], None]


@dataclass
class Subscription:
    """One live-stream client: what it may and wants to see, and its bounded queue.

    Args:
        roles: the user's roles (decides which event kinds it may receive).
        kinds: the kinds it asked for. cameras: the cameras it asked for (``None``: all it may
            see). allowed_cameras: cameras the credential is limited to (API key scopes).

    ``roles``, ``kinds``, ``cameras`` and ``allowed_cameras`` may be replaced while the
    subscription lives (on its loop), when the credential's access changes
    (:mod:`vigil.api.live`); publishers read them afresh for each event.
    """

    roles: frozenset[Role]
    loop: asyncio.AbstractEventLoop
    kinds: frozenset[EventKind]
    cameras: frozenset[str] | None = None
    allowed_cameras: frozenset[str] | None = None
    maxsize: int = 256
    queue: asyncio.Queue[Event] = field(init=False)
    dropped: int = 0

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.maxsize)

    def wants(self, event: Event) -> bool:
        if event.kind not in self.kinds or not self.roles & EVENT_ROLES[event.kind]:
            return False
        if self.cameras is not None and event.camera_id not in self.cameras:
            return False
        return self.allowed_cameras is None or event.camera_id in self.allowed_cameras

    def _put(self, event: Event) -> None:  # runs on the subscriber's loop
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)


class Hub:
    """Thread-safe publish to every matching subscriber and every sink."""

    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self._sinks: list[Sink] = []
        self._lock = threading.Lock()
        self.published = 0

    def add_sink(self, sink: Sink) -> None:
        with self._lock:
            self._sinks.append(sink)

    def remove_sink(self, sink: Sink) -> None:
        """Take a sink off (a process that stopped leading stops sending)."""
        with self._lock:
            if sink in self._sinks:
                self._sinks.remove(sink)

    def subscribe(self, sub: Subscription) -> Subscription:
        with self._lock:
            self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    def publish(self, event: Event) -> None:
        with self._lock:
            subs, sinks = list(self._subs), list(self._sinks)
            self.published += 1
        for sub in subs:
            if sub.wants(event):
                try:
                    sub.loop.call_soon_threadsafe(sub._put, event)
                except RuntimeError:  # the client's loop closed; it unsubscribes itself
                    continue
        for sink in sinks:
            try:
                sink(event)
            except Exception:
                log.exception("notification sink %r failed", sink)
