"""Face trajectories' calibration: a visit's score is its best match (never the anchor's own
sighting), a hop's the weaker end's, each with the calibrated false-match rate; the default
``min_score`` is the calibrated threshold, and without any calibration the caller must give one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vigil.errors import ValidationError
from vigil.governance.trajectory import (
    HopCheck,
    Sighted,
    TrajectoryService,
    visits_and_hops,
    with_rates,
)
from vigil.identification.calibration import FalseAlertModel

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MODEL = FalseAlertModel.from_counts(
    [0.0, 0.3, 0.5, 0.7, 0.9], [1000, 100, 10, 1, 0], 1000, threshold=0.5
)


@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 600), st.floats(0.01, 1.0)),
        min_size=1,
        max_size=12,
    )
)
def test_visit_and_hop_scores_and_rates(raw: list[tuple[str, int, float]]) -> None:
    seen = [Sighted(cam, T0 + timedelta(seconds=dt), f"s{i}") for i, (cam, dt, _) in enumerate(raw)]
    scores = {f"s{i}": sc for i, (_, _, sc) in enumerate(raw)}
    anchor = "s0"
    scores[anchor] = 1.0
    visits, hops = visits_and_hops(seen, {}, 3.0)
    rated_v, rated_h = with_rates(visits, hops, scores, anchor, MODEL)
    assert [(v.camera_id, v.refs) for v in rated_v] == [(v.camera_id, v.refs) for v in visits]
    for v in rated_v:
        matched = [scores[r] for r in v.refs if r != anchor]
        assert v.score == (max(matched) if matched else None)
        assert (v.rate is None) == (v.score is None)
        if v.rate is not None and v.score is not None:
            assert v.rate == MODEL.fpir(v.score, 1) and v.rate.point <= v.rate.upper
    for h in rated_h:
        assert h.check is HopCheck.UNKNOWN  # no positions given
        ends = [rated_v[i].score for i in (h.index, h.index + 1)]
        known = [e for e in ends if e is not None]
        assert h.score == (min(known) if known else None)
        # the weaker end never has the smaller rate bound
        for e in known:
            assert h.rate is not None and h.rate.upper >= MODEL.fpir(e, 1).upper
    plain_v, _ = with_rates(visits, hops, scores, anchor, None)  # no calibration: scores only
    assert all(v.rate is None for v in plain_v)


def _service(rates: FalseAlertModel | None, threshold: float | None) -> TrajectoryService:
    return TrajectoryService(
        None,  # type: ignore[arg-type]  # plates are not used here
        None,  # type: ignore[arg-type]
        list,
        driving_speed_mps=40,
        max_window_s=3600,
        max_points=10,
        face_rates=None if rates is None else (lambda: rates),
        face_threshold=threshold,
    )


def test_default_min_score_prefers_the_calibration_then_the_config() -> None:
    assert _service(MODEL, 0.6).default_min_score() == 0.5
    assert _service(None, 0.6).default_min_score() == 0.6
    no_file_threshold = FalseAlertModel(MODEL.curves, threshold=None)
    assert _service(no_file_threshold, 0.6).default_min_score() == 0.6
    with pytest.raises(ValidationError, match="min_score is needed"):
        _service(None, None).default_min_score()


def test_the_calibration_is_loaded_once() -> None:
    calls: list[int] = []

    def load() -> FalseAlertModel:
        calls.append(1)
        return MODEL

    svc = _service(None, None)
    svc._face_rates = load
    assert svc.face_rates() is MODEL and svc.face_rates() is MODEL and calls == [1]
    assert np.isclose(svc.default_min_score(), 0.5)
