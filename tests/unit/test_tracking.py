"""ByteTracker, Kalman and the face-to-person association rule on small synthetic scenes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from vigil.core import CLASS_IDS, Detections, ObjectClass, TrackState
from vigil.errors import ValidationError
from vigil.tracking import kalman
from vigil.tracking.association import associate_faces
from vigil.tracking.bytetrack import ByteTracker

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PERSON = CLASS_IDS[ObjectClass.PERSON]
CAR = CLASS_IDS[ObjectClass.CAR]


def dets(boxes: list[list[float]], scores: list[float], cls: int = PERSON) -> Detections:
    if not boxes:
        return Detections.empty()
    return Detections(
        np.array(boxes, np.float32), np.array(scores, np.float32), np.full(len(boxes), cls)
    )


def at(i: int) -> datetime:
    return T0 + timedelta(seconds=i / 5)


def walker(x0: float, step: float, i: int) -> list[float]:
    x = x0 + step * i
    return [x, 100, x + 40, 200]


def test_kalman_roundtrip_and_constant_velocity() -> None:
    box = np.array([[10, 20, 50, 120]], np.float64)
    np.testing.assert_allclose(kalman.xyah_to_xyxy(kalman.xyxy_to_xyah(box)), box)
    mean, cov = kalman.initiate(kalman.xyxy_to_xyah(box))
    for i in range(1, 6):
        mean, cov = kalman.predict(mean, cov)
        mean, cov = kalman.update(
            mean, cov, kalman.xyxy_to_xyah(box + np.array([[10.0 * i, 0, 10.0 * i, 0]]))
        )
    pred, _ = kalman.predict(mean, cov)
    assert pred[0, 0] == pytest.approx(30 + 60, abs=4)  # keeps moving ~10 px a frame


def test_two_walkers_keep_their_ids() -> None:
    tr = ByteTracker("cam")
    ids = []
    for i in range(20):
        out = tr.update(dets([walker(0, 8, i), walker(400, -8, i)], [0.9, 0.8]), at(i))
        assert out.detections.tracker_id is not None
        ids.append(tuple(out.detections.tracker_id.tolist()))
    assert len(set(ids[2:])) == 1
    assert -1 not in ids[-1]
    assert len(set(ids[-1])) == 2


def test_low_score_second_pass_keeps_occluded_track() -> None:
    tr = ByteTracker("cam", high_score=0.5, low_score=0.1)
    for i in range(5):
        tr.update(dets([walker(0, 5, i)], [0.9]), at(i))
    out = tr.update(dets([walker(0, 5, 5)], [0.2]), at(5))  # partly hidden: low score
    assert out.detections.tracker_id is not None
    assert out.detections.tracker_id[0] == 1
    assert [t.state for t in out.tracks] == [TrackState.CONFIRMED]


def test_low_score_box_never_starts_a_track() -> None:
    tr = ByteTracker("cam")
    for i in range(5):
        out = tr.update(dets([walker(0, 5, i)], [0.3]), at(i))
    assert out.tracks == [] and len(tr) == 0


def test_lifecycle_events_and_reacquisition() -> None:
    tr = ByteTracker("cam", track_buffer=5)
    kinds: list[str] = []
    for i in range(3):
        kinds += [str(e.kind) for e in tr.update(dets([walker(0, 5, i)], [0.9]), at(i)).events]
    for i in range(3, 5):  # two frames unseen, then back: same id
        kinds += [str(e.kind) for e in tr.update(Detections.empty(), at(i)).events]
    out = tr.update(dets([walker(0, 5, 5)], [0.9]), at(5))
    assert out.detections.tracker_id is not None and out.detections.tracker_id[0] == 1
    for i in range(6, 14):
        kinds += [str(e.kind) for e in tr.update(Detections.empty(), at(i)).events]
    assert kinds[:2] == ["started", "confirmed"]
    assert "lost" in kinds and kinds[-1] == "closed"
    assert len(tr) == 0


def test_classes_never_match_each_other() -> None:
    tr = ByteTracker("cam")
    tr.update(dets([walker(0, 0, 0)], [0.9], PERSON), at(0))
    out = tr.update(dets([walker(0, 0, 1)], [0.9], CAR), at(1))
    assert out.detections.tracker_id is not None and out.detections.tracker_id[0] != 1


def test_state_stays_bounded_over_a_long_run() -> None:
    """24/7 camera: a new person every frame for 3,000 frames; memory must not grow."""
    tr = ByteTracker("cam", track_buffer=10, max_tracks=64)
    rng = np.random.default_rng(0)
    peak = 0
    for i in range(3000):
        x, y = rng.uniform(0, 1800, 2)
        tr.update(dets([[x, y, x + 30, y + 80]], [0.9]), at(i))
        peak = max(peak, len(tr))
    assert peak <= 64
    assert tr._next_id > 1000  # ids kept counting (per tracker)


def test_max_tracks_refuses_when_all_active() -> None:
    tr = ByteTracker("cam", max_tracks=2, min_hits=1)
    out = tr.update(dets([[0, 0, 10, 10], [100, 0, 110, 10], [200, 0, 210, 10]], [0.9] * 3), at(0))
    assert len(out.tracks) == 2 and tr.refused == 1


def test_bad_thresholds_rejected() -> None:
    with pytest.raises(ValidationError):
        ByteTracker("cam", high_score=0.2, low_score=0.5)


def test_faces_go_to_the_right_person() -> None:
    persons = Detections(
        np.array([[0, 0, 50, 150], [60, 0, 110, 150]], np.float32),
        np.array([0.9, 0.9], np.float32),
        np.full(2, PERSON),
        tracker_id=np.array([7, 8]),
    )
    faces = dets(
        [[70, 5, 90, 25], [10, 10, 30, 30], [10, 120, 30, 140]],
        [0.9] * 3,
        CLASS_IDS[ObjectClass.FACE],
    )
    assert associate_faces(persons, faces.xyxy).tolist() == [
        8,
        7,
        -1,
    ]  # the third is at knee height


def test_one_face_per_person() -> None:
    persons = Detections(
        np.array([[0, 0, 50, 150]], np.float32),
        np.array([0.9], np.float32),
        np.array([PERSON]),
        tracker_id=np.array([3]),
    )
    faces = dets([[15, 5, 35, 25], [18, 8, 38, 28]], [0.9, 0.9], CLASS_IDS[ObjectClass.FACE])
    assert sorted(associate_faces(persons, faces.xyxy).tolist()) == [-1, 3]
