from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.core import (
    Alert,
    AlertKind,
    AuditEntry,
    CrowdSample,
    Detections,
    FaceObservation,
    FrameRef,
    ObjectClass,
    PlateRead,
    Track,
    TrackState,
)
from vigil.errors import ValidationError

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def frame() -> FrameRef:
    return FrameRef("cam-1", NOW, 0, 640, 480)


def test_detections_valid_and_indexing() -> None:
    d = Detections(
        np.array([[0, 0, 10, 10], [5, 5, 8, 9]]),
        np.array([0.9, 0.4]),
        np.array([1, 0]),
        landmarks=np.zeros((2, 5, 2)),
    )
    assert len(d) == 2
    assert d.xyxy.dtype == np.float32 and d.class_id.dtype == np.int64
    hi = d[d.confidence > 0.5]
    assert len(hi) == 1 and hi.landmarks is not None and hi.landmarks.shape == (1, 5, 2)
    assert len(d.of_class(ObjectClass.FACE)) == 1
    assert len(Detections.empty()) == 0
    single = d[0]
    assert len(single) == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"xyxy": np.zeros((2, 3))}, r"xyxy must be \(N, 4\), got \(2, 3\)"),
        ({"confidence": np.array([0.5])}, r"confidence must be \(2,\), got \(1,\)"),
        ({"confidence": np.array([0.5, 1.5])}, r"confidence must be in \[0, 1\].*1.5"),
        ({"class_id": np.array([0, 99])}, "class_id must be in"),
        ({"xyxy": np.array([[10, 0, 0, 10], [0, 0, 1, 1]])}, "x2 >= x1"),
        ({"xyxy": np.array([[0, 0, np.nan, 10], [0, 0, 1, 1]])}, "finite"),
        ({"landmarks": np.zeros((3, 5, 2))}, r"landmarks must be \(2, K, 2\), got \(3, 5, 2\)"),
        ({"tracker_id": np.array([1])}, r"tracker_id must be \(2,\)"),
    ],
)
def test_detections_reject_bad_input(kwargs: dict[str, np.ndarray], message: str) -> None:
    base = {
        "xyxy": np.array([[0, 0, 1, 1], [0, 0, 2, 2]]),
        "confidence": np.array([0.1, 0.2]),
        "class_id": np.array([0, 1]),
    }
    base.update(kwargs)
    with pytest.raises(ValidationError, match=message):
        Detections(**base)


@given(
    st.lists(
        st.tuples(
            st.floats(0, 1000),
            st.floats(0, 1000),
            st.floats(0, 100),
            st.floats(0, 100),
            st.floats(0, 1),
        ),
        max_size=20,
    )
)
def test_detections_accept_any_well_formed_input(rows: list[tuple[float, ...]]) -> None:
    xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h, _ in rows]).reshape(-1, 4)
    conf = np.array([c for *_, c in rows])
    d = Detections(xyxy, conf, np.zeros(len(rows), dtype=int))
    assert len(d) == len(rows)
    assert np.all(d.area >= 0)


def test_frame_ref_rejects_naive_time_and_bad_size() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        FrameRef("c", datetime(2026, 1, 1), 0, 10, 10)
    with pytest.raises(ValidationError, match="0x10"):
        FrameRef("c", NOW, 0, 0, 10)
    with pytest.raises(ValidationError, match="non-empty"):
        FrameRef("", NOW, 0, 10, 10)


def test_face_observation_embedding_must_be_normalised() -> None:
    emb = np.ones(512, dtype=np.float32)
    with pytest.raises(ValidationError, match="L2-normalised"):
        FaceObservation(frame(), np.array([0, 0, 50, 50]), 0.9, np.zeros((5, 2)), 0.8, emb)
    ok = FaceObservation(
        frame(), np.array([0, 0, 50, 50]), 0.9, np.zeros((5, 2)), 0.8, emb / np.linalg.norm(emb)
    )
    assert ok.embedding is not None and ok.embedding.shape == (512,)
    with pytest.raises(ValidationError, match=r"landmarks must be \(5, 2\)"):
        FaceObservation(frame(), np.array([0, 0, 50, 50]), 0.9, np.zeros((4, 2)), 0.8)
    with pytest.raises(ValidationError, match="quality must be in"):
        FaceObservation(frame(), np.array([0, 0, 50, 50]), 0.9, np.zeros((5, 2)), 1.2)


def test_track_time_order() -> None:
    with pytest.raises(ValidationError, match="before first_seen"):
        Track(
            "c", 1, ObjectClass.PERSON, TrackState.CONFIRMED, NOW, NOW - timedelta(1), (0, 0, 1, 1)
        )


def test_plate_and_crowd_validation() -> None:
    PlateRead("c", NOW, "AB1234", 0.9, "hk", (0, 0, 10, 5))
    with pytest.raises(ValidationError, match="upper-case"):
        PlateRead("c", NOW, "ab 12", 0.9, "hk", (0, 0, 10, 5))
    with pytest.raises(ValidationError, match="count must be >= 0"):
        CrowdSample("c", NOW, -1, "boxes")
    with pytest.raises(ValidationError, match=r"boxes\|density"):
        CrowdSample("c", NOW, 3, "guess")


def test_face_alert_requires_deployment_and_rate() -> None:
    with pytest.raises(ValidationError, match="deployment"):
        Alert("a1", AlertKind.FACE_MATCH, "c", NOW, 0.7, false_alert_rate=1e-3)
    with pytest.raises(ValidationError, match="false_alert_rate"):
        Alert("a1", AlertKind.FACE_MATCH, "c", NOW, 0.7, deployment_id="d1")
    a = Alert("a1", AlertKind.FACE_MATCH, "c", NOW, 0.7, deployment_id="d1", false_alert_rate=1e-3)
    assert a.status == "pending"


def test_audit_entry_hash_format() -> None:
    h = "0" * 64
    AuditEntry(0, NOW, "alice", "login", "", "", h, h)
    with pytest.raises(ValidationError, match="entry_hash must be 64"):
        AuditEntry(0, NOW, "alice", "login", "", "", h, "xyz")
