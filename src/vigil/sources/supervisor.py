"""Run many camera workers, restart the ones that crash (rate-limited), report, shut down cleanly.

Camera faults never reach the supervisor: workers handle those themselves (reconnect, backoff).
What reaches it is a worker whose thread died of a bug. It is restarted at most
``restart_limit`` times per ``restart_window_s``; past that it waits until the oldest restart
leaves the window, so a worker that crashes on every frame costs a few restarts a minute, not a
hot loop. Every restart is logged and counted in the report.

Shutdown: :meth:`Supervisor.stop` signals every worker at once, then waits for all of them
against one deadline (not one timeout each), so 500 cameras stop in the same few seconds as one.
A worker still blocked inside FFmpeg at the deadline (it returns within its stall timeout) is
listed in the result; its thread is a daemon and does not hold up process exit.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import FrameType

from vigil.config.settings import CameraConfig
from vigil.sources.base import PacketTee
from vigil.sources.status import CameraStatus, TamperChange
from vigil.sources.worker import CameraWorker

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SupervisorReport:
    """What the supervisor has done: restarts per camera and the failures behind them."""

    cameras: tuple[CameraStatus, ...]
    restarts: dict[str, int]
    last_failures: dict[str, str]
    waiting_for_restart: tuple[str, ...]


class Supervisor:
    """Own a set of :class:`CameraWorker` and keep them running.

    Args:
        workers: the workers to run (build them with :meth:`from_configs` for a config file).
        restart_limit: restarts allowed per camera within ``restart_window_s``.
        restart_window_s: the rate limit's window.
        poll_s: how often crashed workers are looked for.
    """

    def __init__(
        self,
        workers: Iterable[CameraWorker],
        *,
        restart_limit: int = 5,
        restart_window_s: float = 60.0,
        poll_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.workers: dict[str, CameraWorker] = {}
        for w in workers:
            if w.camera_id in self.workers:
                raise ValueError(f"duplicate camera id {w.camera_id!r}")
            self.workers[w.camera_id] = w
        self.restart_limit = restart_limit
        self.restart_window_s = restart_window_s
        self.poll_s = poll_s
        self._clock = clock
        self._restarts: dict[str, deque[float]] = {cid: deque() for cid in self.workers}
        self._restart_total: dict[str, int] = dict.fromkeys(self.workers, 0)
        self._failures: dict[str, str] = {}
        self._waiting: set[str] = set()
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None

    @classmethod
    def from_configs(
        cls,
        cameras: Sequence[CameraConfig],
        *,
        on_tamper: Callable[[TamperChange], None] | None = None,
        tees: Mapping[str, PacketTee] | None = None,
        **kwargs: float,
    ) -> Supervisor:
        """Workers for every enabled camera of a config (``on_tamper``: each worker's tamper
        sink, see :class:`~vigil.sources.worker.CameraWorker`; ``tees``: recorders by camera)."""
        tees = tees or {}
        workers = [
            CameraWorker.from_config(c, on_tamper=on_tamper, tee=tees.get(c.id))
            for c in cameras
            if c.enabled
        ]
        return cls(workers, **kwargs)  # type: ignore[arg-type]

    def start(self) -> None:
        for worker in self.workers.values():
            worker.start()
        self._monitor = threading.Thread(target=self._watch, name="camera-supervisor", daemon=True)
        self._monitor.start()
        log.info("supervisor: started %d camera worker(s)", len(self.workers))

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.check()

    def check(self) -> list[str]:
        """Restart crashed workers the rate limit allows; returns the ids restarted now."""
        restarted = []
        now = self._clock()
        for cid, worker in self.workers.items():
            if not worker.failed or self._stop.is_set():
                continue
            self._failures[cid] = f"{type(worker.failure).__name__}: {worker.failure}"
            history = self._restarts[cid]
            while history and now - history[0] > self.restart_window_s:
                history.popleft()
            if len(history) >= self.restart_limit:
                if cid not in self._waiting:
                    log.error(
                        "supervisor: camera %s crashed %d times within %.0f s; holding restarts",
                        cid,
                        len(history),
                        self.restart_window_s,
                    )
                self._waiting.add(cid)
                continue
            self._waiting.discard(cid)
            history.append(now)
            self._restart_total[cid] += 1
            worker.restarts += 1
            log.warning("supervisor: restarting camera %s after %s", cid, self._failures[cid])
            worker.start()
            restarted.append(cid)
        return restarted

    def stop(self, timeout: float = 4.0) -> list[str]:
        """Stop every worker within ``timeout`` seconds; returns the ids still running."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        for worker in self.workers.values():
            worker.request_stop()
        for worker in self.workers.values():
            worker.join(max(0.0, deadline - time.monotonic()))
        if self._monitor is not None:
            self._monitor.join(max(0.0, deadline - time.monotonic()))
        stuck = [cid for cid, w in self.workers.items() if w.alive]
        if stuck:
            log.warning("supervisor: %d worker(s) still blocked at shutdown: %s", len(stuck), stuck)
        else:
            log.info("supervisor: all camera workers stopped")
        return stuck

    def statuses(self) -> list[CameraStatus]:
        return [w.snapshot() for w in self.workers.values()]

    def report(self) -> SupervisorReport:
        return SupervisorReport(
            cameras=tuple(self.statuses()),
            restarts=dict(self._restart_total),
            last_failures=dict(self._failures),
            waiting_for_restart=tuple(sorted(self._waiting)),
        )


def stop_on_signals(
    stop: threading.Event, signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT)
) -> Callable[[], None]:
    """Set ``stop`` on SIGTERM/SIGINT; returns a function that restores the old handlers.

    Signal handlers are process state, so only an entry point (the CLI), never a worker or the
    supervisor, calls this — and only from the main thread, as Python requires.
    """

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, handler) for s in signals}

    def restore() -> None:
        for s, h in previous.items():
            signal.signal(s, h)

    return restore
