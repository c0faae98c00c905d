"""A bounded per-camera frame queue that drops the oldest frame when full and counts drops."""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

from vigil.errors import ValidationError

T = TypeVar("T")


class DropOldestQueue(Generic[T]):
    """Hand frames from a capture thread to analysis without ever blocking capture.

    When analysis is slower than capture, the oldest waiting frame is discarded: the freshest
    view of a live camera is worth more than a backlog, and memory stays at ``maxsize`` frames
    whatever the speeds. ``dropped`` counts what was discarded so the runtime can report it.
    A small ``maxsize`` (2-4) gives low latency; a larger one absorbs bursts of slow analysis at
    the cost of memory (one 1080p BGR frame is 6 MB).

    Example:
        >>> q: DropOldestQueue[int] = DropOldestQueue(2)
        >>> for i in range(5):
        ...     q.put(i)
        >>> q.get(0), q.get(0), q.dropped
        (3, 4, 3)
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValidationError(f"queue maxsize must be >= 1, got {maxsize}")
        self.maxsize = maxsize
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self.put_count = 0
        self.dropped = 0

    def put(self, item: T) -> bool:
        """Append ``item``; returns ``True`` if an older item was dropped to make room."""
        with self._cond:
            dropped = len(self._items) >= self.maxsize
            if dropped:
                self._items.popleft()
                self.dropped += 1
            self._items.append(item)
            self.put_count += 1
            self._cond.notify()
            return dropped

    def get(self, timeout: float | None = None) -> T | None:
        """Oldest item, waiting up to ``timeout`` seconds (``None``: forever); ``None`` if empty."""
        with self._cond:
            if not self._items and not self._cond.wait_for(lambda: bool(self._items), timeout):
                return None
            return self._items.popleft()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
