"""The inference pools' batch queue, kept under its old name.

The queue itself lives in :mod:`vigil.perception.batching` since the embedded mode's cross-camera
batching (:mod:`vigil.system.batching`) uses it too, and ``system`` sits below ``cluster`` in the
layer map.
"""

from vigil.perception.batching import (
    MAX_CAMERAS,
    OTHER,
    WAIT_SAMPLES,
    BatchQueue,
    Dropped,
    Outcome,
    Priority,
    QueueStats,
    Ticket,
)

__all__ = [
    "MAX_CAMERAS",
    "OTHER",
    "WAIT_SAMPLES",
    "BatchQueue",
    "Dropped",
    "Outcome",
    "Priority",
    "QueueStats",
    "Ticket",
]
