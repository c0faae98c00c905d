"""Line crossings folded into fixed time buckets, the stored form of the crossing series.

The zone step (:mod:`vigil.analytics.zones`) reports each crossing as an event with its time.
Storing one row per event would grow with foot traffic and answer the dashboard's question
("how many went in, and out, per minute?") only after a scan; a row per camera, line, direction
and bucket is bounded by time instead (at most ``2 * lines`` rows a minute per camera) and is
the chart's series as it stands. The trade-off is resolution: nothing finer than a bucket is
kept, and a bucket's count is the sum of everything recorded into it (the repository adds a
record's counts to the stored row, and the record's idempotency key makes that exactly once).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime

from vigil.analytics.zones import LineCrossing
from vigil.core.records import CrossingCount

#: The length of one stored bucket (seconds): a minute, so a 7-day chart is ~10k points a
#: series at most, and a 1-hour chart still shows the minute-by-minute flow.
BUCKET_S = 60


def bucket_start(at: datetime, bucket_s: int = BUCKET_S) -> datetime:
    """The start (UTC) of the bucket holding ``at``: a whole multiple of ``bucket_s`` seconds
    since the Unix epoch.

    >>> bucket_start(datetime(2026, 12, 4, 21, 30, 59, tzinfo=UTC)).isoformat()
    '2026-12-04T21:30:00+00:00'
    """
    if bucket_s < 1:
        raise ValueError(f"bucket_s must be >= 1, got {bucket_s}")
    if at.tzinfo is None:
        raise ValueError("crossing times must be timezone-aware")
    seconds = int(at.timestamp() // bucket_s) * bucket_s
    return datetime.fromtimestamp(seconds, UTC)


def bucket_crossings(
    camera_id: str, crossings: Iterable[LineCrossing], bucket_s: int = BUCKET_S
) -> tuple[CrossingCount, ...]:
    """The crossings of one camera as counts per line, direction and bucket (sorted by bucket,
    line, direction; empty when there were none)."""
    counts = Counter((bucket_start(c.at, bucket_s), c.line, c.direction) for c in crossings)
    return tuple(
        CrossingCount(camera_id, line, direction, start, n)
        for (start, line, direction), n in sorted(counts.items())
    )
