"""The batching core of an inference pool: a bounded, two-class request queue (no Ray, no models).

Used by the cluster pools (:mod:`vigil.cluster.inference`) and the embedded mode's cross-camera
batching (:mod:`vigil.system.batching`).

Many camera actors send single frames to one inference actor; the model is cheaper per frame on a
batch (one ONNX Runtime call, one GPU launch), so requests wait in :class:`BatchQueue` until
``max_batch`` of them are there or the oldest has waited ``max_wait_s``, whichever comes first.
That wait is the latency bound traded for throughput: ``max_wait_s = 0`` serves whatever is
queued at once (batches form only under load), a larger value fills batches at the price of that
much added latency on a quiet pool.

Saturation is where priority matters. The queue holds at most ``capacity`` requests (memory and
latency stay bounded however many cameras send). When it is full:

* a **normal** request (a camera outside any active deployment and without crowd-alert zones)
  is refused at once; the caller drops that frame and counts it;
* a **high** request (a camera in an active deployment, or one with crowd-alert zones) evicts the
  newest queued normal request (that one is answered as dropped, so its caller counts it), and is
  refused only when every queued request is high too.

So high-priority cameras keep their rate while normal ones degrade first, and no request is lost
silently: each one ends answered, failed, or dropped and counted per camera and priority.

Within a batch, high requests go first, then by arrival. Statistics are fixed-size: a batch-size
histogram of ``max_batch`` buckets, the last :data:`WAIT_SAMPLES` queue waits for percentiles, and
drop counters for at most :data:`MAX_CAMERAS` cameras (the rest are summed under ``"(other)"``).

The queue is thread-safe; :meth:`BatchQueue.take` blocks the model thread until a batch is due.
Time comes from an injectable clock, so tests drive it without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any, Generic, TypeVar

T = TypeVar("T")

WAIT_SAMPLES = 1024
"""How many recent queue waits are kept for the percentiles."""
MAX_CAMERAS = 4096
"""Cameras with their own drop counters; further ones are summed under ``"(other)"``."""
OTHER = "(other)"


class Priority(IntEnum):
    """A request's class: HIGH cameras keep their rate under saturation, NORMAL ones yield."""

    NORMAL = 0
    HIGH = 1


class Outcome(Enum):
    QUEUED = "queued"
    TAKEN = "taken"
    ANSWERED = "answered"
    FAILED = "failed"
    DROPPED = "dropped"


class Dropped(Exception):  # noqa: N818 (an outcome, not a bug: the frame was dropped)
    """The request was refused or evicted because the pool was saturated."""


@dataclass(eq=False)
class Ticket(Generic[T]):
    """One request in the queue and, later, its answer; :meth:`wait` blocks for it."""

    camera_id: str
    priority: Priority
    payload: T
    enqueued_at: float
    outcome: Outcome = Outcome.QUEUED
    result: Any = None
    error: BaseException | None = None
    _done: threading.Event = field(default_factory=threading.Event, repr=False)

    def wait(self, timeout: float | None = None) -> Any:
        """The answer; raises :class:`Dropped` if dropped, the model's error if it failed."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"no answer within {timeout} s")
        if self.outcome is Outcome.DROPPED:
            raise Dropped(f"camera {self.camera_id}: inference pool saturated")
        if self.error is not None:
            raise self.error
        return self.result

    def _finish(
        self, outcome: Outcome, result: Any = None, error: BaseException | None = None
    ) -> None:
        self.outcome, self.result, self.error = outcome, result, error
        self._done.set()


@dataclass
class QueueStats:
    """Fixed-size counters of one queue (see the module docstring)."""

    max_batch: int
    started_at: float
    submitted: int = 0
    answered: int = 0
    failed: int = 0
    batches: int = 0
    batch_sizes: list[int] = field(default_factory=list)  # [k]: batches of k + 1 requests
    waits_s: deque[float] = field(default_factory=lambda: deque(maxlen=WAIT_SAMPLES))
    drops: dict[str, list[int]] = field(default_factory=dict)  # camera -> [normal, high]

    def __post_init__(self) -> None:
        self.batch_sizes = [0] * self.max_batch

    def dropped(self, camera_id: str, priority: Priority) -> None:
        key = camera_id if camera_id in self.drops or len(self.drops) < MAX_CAMERAS else OTHER
        self.drops.setdefault(key, [0, 0])[int(priority)] += 1

    @property
    def total_dropped(self) -> int:
        return sum(n + h for n, h in self.drops.values())

    def snapshot(self, depth: int, now: float) -> dict[str, Any]:
        """A JSON-ready view: depth, batch sizes, waits, rates and drops."""
        waits = sorted(self.waits_s)
        served = sum((k + 1) * n for k, n in enumerate(self.batch_sizes))
        elapsed = max(now - self.started_at, 1e-9)
        return {
            "queue_depth": depth,
            "submitted": self.submitted,
            "answered": self.answered,
            "failed": self.failed,
            "dropped": self.total_dropped,
            "batches": self.batches,
            "mean_batch": round(served / self.batches, 2) if self.batches else 0.0,
            "batch_sizes": {str(k + 1): n for k, n in enumerate(self.batch_sizes) if n},
            "wait_ms": {f"p{q}": round(_quantile(waits, q / 100) * 1000, 2) for q in (50, 90, 99)},
            "requests_per_s": round(self.answered / elapsed, 2),
            "drops": {cam: {"normal": n, "high": h} for cam, (n, h) in self.drops.items()},
        }


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


class BatchQueue(Generic[T]):
    """A bounded queue of :class:`Ticket` with two priority classes (see the module docstring).

    Args:
        capacity: most requests waiting at once; beyond it normal requests are refused and high
            ones evict normal ones. Small: less memory and latency, more drops under bursts.
        max_batch: most requests handed to the model at once.
        max_wait_s: longest the oldest request waits for a batch to fill.
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(
        self,
        capacity: int,
        max_batch: int,
        max_wait_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if capacity < 1 or max_batch < 1 or max_wait_s < 0:
            raise ValueError(
                f"need capacity >= 1, max_batch >= 1, max_wait_s >= 0; got {capacity}, "
                f"{max_batch}, {max_wait_s}"
            )
        self.capacity, self.max_batch, self.max_wait_s = capacity, max_batch, max_wait_s
        self.clock = clock
        self._queues: tuple[deque[Ticket[T]], deque[Ticket[T]]] = (deque(), deque())
        self._cond = threading.Condition()
        self._closed = False
        self.stats = QueueStats(max_batch, clock())

    def __len__(self) -> int:
        return len(self._queues[0]) + len(self._queues[1])

    def submit(self, camera_id: str, priority: Priority, payload: T) -> Ticket[T]:
        """Queue one request; the ticket is already DROPPED when it was refused."""
        ticket = Ticket(camera_id, Priority(priority), payload, self.clock())
        with self._cond:
            self.stats.submitted += 1
            if self._closed:
                raise RuntimeError("the inference queue is closed")
            if len(self) >= self.capacity:
                normal = self._queues[Priority.NORMAL]
                if ticket.priority is Priority.HIGH and normal:
                    self._drop(normal.pop())  # the newest normal request yields its place
                else:
                    self._drop(ticket)
                    return ticket
            self._queues[ticket.priority].append(ticket)
            self._cond.notify_all()
        return ticket

    def _drop(self, ticket: Ticket[T]) -> None:
        self.stats.dropped(ticket.camera_id, ticket.priority)
        ticket._finish(Outcome.DROPPED)

    def due_in(self, now: float) -> float | None:
        """Seconds until a batch is due (0: now); ``None`` when nothing is queued."""
        if not len(self):
            return None
        if len(self) >= self.max_batch:
            return 0.0
        oldest = min(q[0].enqueued_at for q in self._queues if q)
        return max(0.0, oldest + self.max_wait_s - now)

    def take_ready(self) -> list[Ticket[T]]:
        """The next batch if one is due now, else ``[]`` (non-blocking)."""
        with self._cond:
            due = self.due_in(self.clock())
            return self._pop_batch() if due == 0.0 else []

    def take(self, timeout: float) -> list[Ticket[T]]:
        """Block until a batch is due (or ``timeout`` passes, or the queue closes)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._closed:
                due = self.due_in(self.clock())
                if due == 0.0:
                    return self._pop_batch()
                left = deadline - time.monotonic()
                if left <= 0:
                    return []
                self._cond.wait(left if due is None else min(left, max(due, 1e-4)))
            return []

    def _pop_batch(self) -> list[Ticket[T]]:
        batch: list[Ticket[T]] = []
        now = self.clock()
        for q in (self._queues[Priority.HIGH], self._queues[Priority.NORMAL]):
            while q and len(batch) < self.max_batch:
                t = q.popleft()
                t.outcome = Outcome.TAKEN
                self.stats.waits_s.append(now - t.enqueued_at)
                batch.append(t)
        if batch:
            self.stats.batches += 1
            self.stats.batch_sizes[len(batch) - 1] += 1
        return batch

    def complete(self, batch: Sequence[Ticket[T]], results: Sequence[Any]) -> None:
        """Answer every ticket of a batch, in order."""
        if len(results) != len(batch):
            self.fail(batch, RuntimeError(f"{len(results)} results for {len(batch)} requests"))
            return
        with self._cond:
            self.stats.answered += len(batch)
        for t, r in zip(batch, results, strict=True):
            t._finish(Outcome.ANSWERED, r)

    def fail(self, batch: Sequence[Ticket[T]], error: BaseException) -> None:
        """The model failed on the batch: every caller gets the error (loud, never silent)."""
        with self._cond:
            self.stats.failed += len(batch)
        for t in batch:
            t._finish(Outcome.FAILED, error=error)

    def close(self) -> None:
        """Refuse new requests and drop (answer as dropped) everything still queued."""
        with self._cond:
            self._closed = True
            for q in self._queues:
                while q:
                    self._drop(q.popleft())
            self._cond.notify_all()

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return self.stats.snapshot(len(self), self.clock())
