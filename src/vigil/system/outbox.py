"""The outbox between the stages and the recorder: at-least-once delivery that survives a
database outage and a killed process, exactly once in effect thanks to idempotency keys.

Every stage sink hands its typed decision (:mod:`vigil.system.decisions`) to
:meth:`Outbox.submit`:

* **nothing pending** (the normal case): the decision is written at once, in the caller's thread,
  through the :class:`~vigil.system.decisions.DecisionWriter` (one unit of work with its key and
  audit entries), with a short retry window (``direct_retry_s``). The caller gets the result
  (the alerts raised), exactly as when sinks wrote directly: for users the outbox is transparent;
* **the database is unreachable**, or decisions are already pending: the decision joins the
  backlog instead, and the caller goes on (the camera's analysis does not stall). The backlog is
  a bounded memory queue (``memory_items``) and, behind it, the disk :class:`~vigil.system.spool.
  Spool` (``spool_max_mb``). Once anything is on disk, new decisions go to disk too, so the
  backlog stays in submission order (and with it the order per camera);
* a **replay thread** writes the backlog oldest first, backing off while the database is away;
  a decision it finds already recorded (its key is in ``record_keys``) is counted as a duplicate;
* a **full spool** refuses the decision loudly: an error log line and the ``refused`` counter;
  nothing is dropped silently. A decision that fails for another reason than an unreachable
  database (a bug, a constraint) is logged with its traceback and counted as ``failed``;
* **stop** writes what it can and spills the rest of the memory queue to the spool, ahead of
  what is already there; **start** replays whatever the spool holds (a killed process loses only
  its memory queue, never what was spooled).

What never enters the outbox: non-match face templates (the identifier drops them when the track
closes; a face record carries a template only for a track archived inside a post-event
authorisation). Recorder lag, the age of the oldest pending decision, is served in the camera
view and the cluster status.

Trade-offs: a direct write holds a lock, so one process writes one decision at a time (the
embedded default runs one analysis thread anyway, and a cluster's camera actor has one camera);
the memory queue is lost if the process is killed (bounded by ``memory_items``; the spool is
what survives).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

from vigil.storage.errors import StorageUnavailableError
from vigil.system.decisions import Decision, WriteResult, decode, encode
from vigil.system.spool import Spool, SpoolFullError

log = logging.getLogger(__name__)


class Writer(Protocol):
    def __call__(self, decision: Decision, *, retry_s: float | None = None) -> WriteResult: ...


@dataclass
class OutboxStats:
    """What the outbox has done and holds (scalars only)."""

    written: int = 0  # written at once, in the caller's thread
    replayed: int = 0  # written later from the backlog
    duplicates: int = 0  # skipped: the key was already recorded
    spooled: int = 0  # decisions that went to disk
    refused: int = 0  # the spool was full
    failed: int = 0  # failed for another reason than an unreachable database
    queued: int = 0  # in the memory queue now
    spool_items: int = 0  # on disk now
    spool_bytes: int = 0
    lag_s: float = 0.0  # age of the oldest pending decision (recorder lag)
    database_up: bool = True


class Outbox:
    """At-least-once delivery of decisions to the recorder (see the module docstring).

    Args:
        write: writes one decision with its key in one unit (a :class:`DecisionWriter`).
        spool_dir: where the disk spool lives (created; one outbox per directory).
        memory_items: decisions held in memory before the spool takes over.
        spool_max_bytes: the spool's bound; beyond it decisions are refused and counted.
        direct_retry_s: how long a write in the caller's thread retries before the decision
            joins the backlog (short: the camera's analysis waits for it).
    """

    def __init__(
        self,
        write: Writer,
        spool_dir: Path,
        *,
        memory_items: int = 1000,
        spool_max_bytes: int = 256 << 20,
        direct_retry_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if memory_items < 1:
            raise ValueError("memory_items must be >= 1")
        self.write = write
        self.memory_items = memory_items
        self.direct_retry_s = direct_retry_s
        self.clock = clock
        self.spool = Spool(spool_dir, max_bytes=spool_max_bytes)
        self.stats = OutboxStats()
        self._memory: deque[tuple[float, Decision]] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._head_line: bytes | None = None  # the spool line the replay is writing

    # -- producer side ------------------------------------------------------------------------

    def submit(self, decision: Decision) -> WriteResult | None:
        """Record ``decision`` now if nothing is pending and the database answers (returns what
        was written), else add it to the backlog (returns ``None``)."""
        with self._lock:
            if not self._memory and not self.spool.items:
                try:
                    result = self.write(decision, retry_s=self.direct_retry_s)
                except StorageUnavailableError as exc:
                    self.stats.database_up = False
                    log.warning("database unreachable, decisions are buffered: %s", exc)
                else:
                    self._count(result, "written")
                    return result
            self._enqueue(decision)
        self._wake.set()
        return None

    def __call__(self, decision: Decision) -> WriteResult | None:
        return self.submit(decision)

    def _enqueue(self, decision: Decision) -> None:
        now = self.clock()
        if not self.spool.items and len(self._memory) < self.memory_items:
            self._memory.append((now, decision))
            return
        try:
            self.spool.append(_line(now, decision))
        except SpoolFullError as exc:
            self.stats.refused += 1
            log.error(
                "%s: %s %s of camera %s lost", exc, decision.kind, decision.key, _cam(decision)
            )
            return
        self.stats.spooled += 1

    # -- replay --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the replay thread (it first replays what an earlier run left in the spool)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="vigil-outbox", daemon=True)
        self._thread.start()
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Replay what can be within ``timeout``, then spill the memory queue to the spool."""
        deadline = time.monotonic() + timeout
        while self.pending and self.stats.database_up and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(max(0.1, deadline - time.monotonic()))
            self._thread = None
        with self._lock:
            left = [_line(at, d) for at, d in self._memory]
            self._memory.clear()
            self.spool.prepend(left)
            self.spool.close()
        if left or self.spool.items:
            log.warning(
                "outbox stopped with %d decision(s) spooled for the next start", self.spool.items
            )

    @property
    def pending(self) -> int:
        return len(self._memory) + self.spool.items

    def drain(self, timeout: float) -> bool:
        """Wait until nothing is pending (tests, shutdown); returns whether it got there."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.05)
        return not self.pending

    def _run(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            with self._lock:
                head = self._head()
            if head is None:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            try:
                result = self.write(head, retry_s=0.0)
            except StorageUnavailableError:
                self.stats.database_up = False
                self._stop.wait(backoff)
                backoff = min(2.0, backoff * 2)
                continue
            except Exception:  # a bug or a bad record must not block the backlog for ever
                self.stats.failed += 1
                log.exception("recording %s %s failed; it is skipped", head.kind, head.key)
            else:
                if not self.stats.database_up:
                    log.warning("database reachable again: replaying the outbox backlog")
                self.stats.database_up = True
                backoff = 0.05
                self._count(result, "replayed")
            with self._lock:
                self._pop(head)

    def _head(self) -> Decision | None:
        """The oldest pending decision (a spool line that does not decode cannot be written
        either: it is counted, logged and set aside in the spool's ``undecodable.jsonl``, never
        silently dropped)."""
        if self._memory:
            return self._memory[0][1]
        while (line := self.spool.peek()) is not None:
            try:
                self._head_line = line
                return decode(line.partition(b" ")[2])
            except ValueError:
                self.stats.failed += 1
                kept = self.spool.set_aside(line)
                log.exception("undecodable outbox spool record set aside in %s", kept)
                self.spool.pop()
        return None

    def _pop(self, head: Decision) -> None:
        """Remove ``head`` once written (still at the front unless a stop spilled it to disk
        meanwhile; then the spool keeps it, and the replay after the restart skips its key)."""
        if self._memory:
            if self._memory[0][1] is head:
                self._memory.popleft()
        elif self.spool.peek() == self._head_line:
            self.spool.pop()

    def _count(self, result: WriteResult, how: str) -> None:
        if result.duplicate:
            self.stats.duplicates += 1
        elif how == "written":
            self.stats.written += 1
        else:
            self.stats.replayed += 1

    # -- status --------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The stats with the current backlog and recorder lag (seconds)."""
        with self._lock:
            oldest: float | None = self._memory[0][0] if self._memory else None
            if oldest is None and (line := self.spool.peek()) is not None:
                oldest = float(line.partition(b" ")[0])
            s = self.stats
            s.queued, s.spool_items, s.spool_bytes = (
                len(self._memory),
                self.spool.items,
                self.spool.bytes,
            )
            s.lag_s = 0.0 if oldest is None else round(max(0.0, self.clock() - oldest), 3)
            return asdict(s)


def _line(at: float, decision: Decision) -> bytes:
    return f"{at:.6f} ".encode() + encode(decision)


def _cam(decision: Decision) -> str:
    return decision.camera_id
