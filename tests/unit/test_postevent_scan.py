"""The scan's pure parts: dense-window merging (property), request checks, clip URLs, and the
two passes over a small synthetic H.264-free MPEG-4 video with a stand-in scorer."""

from __future__ import annotations

import io
import itertools
from datetime import UTC, datetime, timedelta

import av
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.errors import ValidationError
from vigil.governance.postevent import clip_url
from vigil.recording.scan import merge_spans, scan_every_frame, scan_segment

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
span = st.tuples(st.floats(-100, 100), st.floats(0, 10)).map(lambda p: (p[0], p[0] + p[1]))


@given(st.lists(span, max_size=30))
def test_merged_spans_are_sorted_disjoint_and_cover_the_same_points(
    spans: list[tuple[float, float]],
) -> None:
    merged = merge_spans(spans)
    assert all(a <= b for a, b in merged)
    assert all(b1 < a2 for (_, b1), (a2, _) in itertools.pairwise(merged))
    for a, b in spans:  # every input span lies inside one merged span
        assert any(ma <= a and b <= mb for ma, mb in merged)
    for ma, mb in merged:  # and every merged span starts and ends at an input's ends
        assert any(a == ma for a, _ in spans) and any(b == mb for _, b in spans)


def _video(seconds: int = 6, fps: int = 10) -> bytes:
    """Grey frames, bright from second 3 on (the stand-in scorer's "person")."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        s = out.add_stream("mpeg4", rate=fps)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.gop_size = fps
        for i in range(seconds * fps):
            img = np.full((48, 64, 3), 250 if i >= 3 * fps else 20, np.uint8)
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(pkt)
        for pkt in s.encode(None):
            out.mux(pkt)
    return buf.getvalue()


def _bright(img: np.ndarray, at: datetime) -> float:
    return float(img.mean()) / 255


def test_key_frames_first_then_dense_only_around_candidates() -> None:
    blob = _video()
    hits, stats = scan_segment(blob, T0, _bright, threshold=0.9, candidate=0.5, near_s=1.0)
    assert stats.key_frames == 6
    # candidates at key frames 3, 4, 5 s: dense frames in [2, 6] s not already key frames
    assert 0 < stats.dense_frames < 60 - stats.key_frames
    assert hits and all(h.at >= T0 + timedelta(seconds=3) for h in hits)
    assert len(hits) == 30  # every frame of seconds 3-5 found
    every = scan_every_frame(blob, T0, _bright)
    assert every.dense_frames == 60 > stats.key_frames + stats.dense_frames


def test_no_candidate_means_key_frames_only() -> None:
    hits, stats = scan_segment(_video(), T0, lambda i, a: 0.0, threshold=0.9, candidate=0.5)
    assert hits == [] and stats.dense_frames == 0 and stats.key_frames == 6


@pytest.mark.parametrize("blob", [b"", b"not a video", b"\x00" * 1000])
def test_undecodable_segment_is_a_clear_error(blob: bytes) -> None:
    with pytest.raises(ValidationError, match="cannot be decoded"):
        scan_segment(blob, T0, _bright, threshold=0.9, candidate=0.5)


def test_candidate_above_threshold_is_refused() -> None:
    with pytest.raises(ValidationError, match="must not exceed"):
        scan_segment(_video(1), T0, _bright, threshold=0.5, candidate=0.6)


def test_clip_url_encodes_the_zone() -> None:
    url = clip_url("cam-1", T0)
    assert url == (
        "/api/v1/cameras/cam-1/clips?start=2026-12-01T08:59:57%2B00:00"
        "&end=2026-12-01T09:00:03%2B00:00"
    )
