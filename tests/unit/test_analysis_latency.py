"""Per-frame latency (decoded → analysed) in the analysis pool: recorded, summarised, bounded."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from vigil.core.records import FrameRef
from vigil.sources.frames import DecodedFrame
from vigil.system.analysis import LATENCY_FRAMES, AnalysisPool, CameraStats


def _frame(i: int, decoded_at: float) -> DecodedFrame:
    ref = FrameRef("cam-1", datetime.now(UTC), i, 8, 8)
    return DecodedFrame(ref, np.zeros((8, 8, 3), np.uint8), decoded_at=decoded_at)


def test_each_frame_latency_is_kept_for_the_last_frames_only() -> None:
    workers: Any = [SimpleNamespace(camera_id="cam-1")]
    pool = AnalysisPool(workers, faces=None, face_cameras=frozenset())
    stats = pool.stats["cam-1"]
    assert stats.latency_ms(0.5) is None
    for i in range(3 * LATENCY_FRAMES):
        # frames decoded i ms ago: the latest LATENCY_FRAMES are the ones summarised
        pool.analyse("cam-1", _frame(i, time.monotonic() - (i % 10) / 1000))
    assert len(stats.latencies_ms) == LATENCY_FRAMES and stats.frames == 3 * LATENCY_FRAMES
    p50, p95 = stats.latency_ms(0.5), stats.latency_ms(0.95)
    assert p50 is not None and p95 is not None
    assert 4 <= p50 <= 60 and p50 <= p95


def test_a_decoded_frame_is_stamped_when_made() -> None:
    before = time.monotonic()
    ref = FrameRef("cam-1", datetime.now(UTC), 0, 8, 8)
    frame = DecodedFrame(ref, np.zeros((8, 8, 3), np.uint8))
    assert before <= frame.decoded_at <= time.monotonic()


@pytest.mark.parametrize("q", [0.0, 0.5, 1.0])
def test_quantiles_of_known_latencies(q: float) -> None:
    stats = CameraStats()
    stats.latencies_ms.extend([10.0, 20.0, 30.0])
    assert stats.latency_ms(q) == pytest.approx(10.0 + 20.0 * q)
