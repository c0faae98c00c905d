"""What runs once among several processes: notification senders and the housekeeper.

Every API process watches the database for new events and feeds its own WebSocket clients (the
:class:`~vigil.notify.watcher.EventWatcher` runs everywhere), but a webhook or an MQTT message
must go out once, and the housekeeper must purge once. :class:`LeaderOnly` runs those parts only
while its process holds the database's :class:`~vigil.storage.leases.LeaderLock`: it tries to
take the lock at start and then every ``check_s``; on taking it, it builds fresh senders, hangs
them on the hub and starts the leader's tasks; on losing it (the database went away), it stops
them. A killed leader's lock is released by the server as its connection ends, so a follower
takes over within ``check_s`` (plus the time to connect its senders).

What a takeover does about alerts in flight: each sender records the alerts its receiver
acknowledged (:mod:`vigil.storage.deliveries`), and on taking the lock the new leader hands its
fresh senders ``replay()``, the alerts of the watcher's window (the last two minutes by
default); each sender skips what the record holds and sends the rest. So an alert committed
while nobody held the lock, or queued by the dying leader and never sent, still goes out once.
What remains: an alert acknowledged by the receiver whose record the dying leader had not yet
written goes out a second time (at least once, never lost within the window); an alert older
than the window when the takeover happens (a takeover after more than two minutes without a
leader) is not replayed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from vigil.notify.events import Event
from vigil.notify.hub import Hub
from vigil.storage.leases import LeaderLock
from vigil.system.services import Startable

log = logging.getLogger(__name__)


class SinkPart(Startable, Protocol):
    """A sender that is both started/stopped and called with each event (webhook, MQTT)."""

    def __call__(self, event: Event) -> None: ...


class LeaderOnly:
    """Runs ``tasks`` and the senders made by ``make_sinks`` only while this process leads.

    Args:
        lock: the database's leader lock.
        hub: where the senders are hung (and taken off again when leadership ends).
        make_sinks: builds fresh senders each time leadership is taken (an MQTT client keeps its
            connection state; a new one is simpler than a restarted one).
        tasks: started on taking the lock and stopped on losing it (must be restartable).
        replay: the events the fresh senders get first, on taking the lock (the recent alerts;
            each sender skips those its delivery record holds).
        check_s: how often a follower asks for the lock and the leader checks it still holds
            it. Shorter: faster takeover, one more cheap query per process per period.
        name: what the status calls it (one process may hold several such locks).
    """

    def __init__(
        self,
        lock: LeaderLock,
        hub: Hub,
        *,
        make_sinks: Callable[[], Sequence[SinkPart]] = list,
        tasks: Sequence[Startable] = (),
        replay: Callable[[], Iterable[Event]] | None = None,
        check_s: float = 2.0,
        name: str = "leader",
    ) -> None:
        self.name = name
        self.replay = replay
        self.lock = lock
        self.hub = hub
        self.make_sinks = make_sinks
        self.parts = list(tasks)
        self.check_s = check_s
        self._sinks: list[SinkPart] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.leading_since: float | None = None
        self.takeovers = 0

    @property
    def leading(self) -> bool:
        return self.leading_since is not None

    def status(self) -> dict[str, object]:
        """Whether this process is the leader, since when, how often it took over."""
        return {
            "name": self.name,
            "leader": self.leading,
            "leading_s": None if self.leading_since is None else time.time() - self.leading_since,
            "takeovers": self.takeovers,
            "check_s": self.check_s,
        }

    def start(self) -> None:
        self._stop.clear()
        self.check()  # on SQLite (always the leader) the parts run before start() returns
        self._thread = threading.Thread(target=self._loop, name="vigil-leader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.check_s + 10)
            self._thread = None
        self._step_down()
        self.lock.release()

    def check(self) -> bool:
        """Take or confirm the lock once, and start or stop the parts to match."""
        held = self.lock.try_acquire()
        if held and not self.leading:
            self._step_up()
        elif not held and self.leading:
            log.error("no longer the leader: notifications and housekeeping stop here")
            self._step_down()
        return held

    def _loop(self) -> None:
        while not self._stop.wait(self.check_s):
            try:
                self.check()
            except Exception:  # a failed start of a part: logged; the next check tries again
                log.exception("leader check failed")

    def _step_up(self) -> None:
        self.takeovers += 1
        self.leading_since = time.time()
        log.info("leader: sending notifications and housekeeping from this process")
        self._sinks = list(self.make_sinks())
        for sink in self._sinks:
            sink.start()
            self.hub.add_sink(sink)
        for task in self.parts:
            task.start()
        if self.replay is not None and self._sinks:
            replayed = 0
            for event in self.replay():
                for sink in self._sinks:
                    try:
                        sink(event)
                    except Exception:
                        log.exception("replaying an event to %r failed", sink)
                replayed += 1
            log.info("leader: replayed %d recent event(s) to the new senders", replayed)

    def _step_down(self) -> None:
        if not self.leading:
            return
        self.leading_since = None
        for task in reversed(self.parts):
            _quietly(task.stop)
        sinks, self._sinks = self._sinks, []
        for sink in sinks:
            self.hub.remove_sink(sink)
            _quietly(sink.stop)


def _quietly(stop: Callable[[], None]) -> None:
    try:
        stop()
    except Exception:
        log.exception("stopping %r failed", stop)
