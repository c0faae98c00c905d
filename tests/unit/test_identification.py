"""Calibrated false-alert rates, the FAISS gallery, face tracks and the matcher's guard."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import beta

from vigil.core.domain import DeploymentRow, DeploymentState
from vigil.core.records import FaceObservation, FrameRef
from vigil.errors import ConfigError, PolicyViolationError, ValidationError
from vigil.identification.authority import ActiveDeployment
from vigil.identification.calibration import FalseAlertModel
from vigil.identification.gallery import Gallery, GalleryEntry
from vigil.identification.matcher import WatchlistMatcher
from vigil.identification.tracks import FaceTracker

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


N = 10_000_000


def model() -> FalseAlertModel:
    scores = np.linspace(-0.2, 0.8, 11)
    fmr = np.array([1.0, 0.8, 0.5, 0.2, 0.05, 0.01, 1e-3, 1e-4, 1e-5, 1e-6, 0.0])
    return FalseAlertModel.from_counts(scores, np.round(fmr * N), N)


def test_fpir_point_follows_one_minus_power_n_and_bound_is_above() -> None:
    m = model()
    r = m.fpir(0.45, 1000)  # step: read at 0.4, 10,000 of 10^7
    assert r.count == 10_000 and r.comparisons == N
    assert r.point == pytest.approx(1 - (1 - 1e-3) ** 1000)
    assert r.upper == pytest.approx(min(1.0, 1000 * beta.ppf(0.95, 10_001, N - 10_000)))
    assert m.fpir(-1.0, 10).point == 1.0  # below the curve: no evidence of a low rate
    top = m.fpir(5.0, 1)  # above every impostor score: 0 seen, bounded by ~3 / n
    assert top.point == 0 and top.upper == pytest.approx(-math.expm1(math.log(0.05) / N))


@settings(max_examples=60, deadline=None)
@given(s=st.floats(-0.5, 1.0), n=st.integers(1, 10_000))
def test_fpir_is_monotone_in_score_and_size(s: float, n: int) -> None:
    m = model()
    assert m.fpir(s, n).upper <= m.fpir(s - 0.05, n).upper + 1e-12
    assert m.fpir(s, n).upper <= m.fpir(s, n + 1).upper + 1e-12
    assert m.fpir(s, n).point <= m.fpir(s, n).upper


def test_size_limit_meets_the_target_with_the_bound() -> None:
    m = model()
    n = m.max_watchlist_size(0.5, 0.01)
    assert m.fpir(0.5, n).upper <= 0.01 < m.fpir(0.5, n + 1).upper
    assert n < math.floor(math.log1p(-0.01) / math.log1p(-1e-4))  # the point would allow more


def test_calibration_file_old_layout_is_read_as_counts_and_bad_file_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cal.json"
    curve = {"score": [0.1, 0.2, 0.3], "fmr": [0.5, 0.1, 0.0], "impostor_comparisons": [1000.0]}
    path.write_text(json.dumps({"threshold": 0.3, "model": "m", "fmr_curve": curve}))
    m = FalseAlertModel.from_file(path)
    assert m.threshold == 0.3 and m.fpir(0.35, 1).count == 0
    assert m.fpir(0.25, 1).count == 100
    path.write_text("{}")
    with pytest.raises(ConfigError, match="vigil calibrate"):
        FalseAlertModel.from_file(path)


def unit(n: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("exact_limit", [10_000, 10])
def test_gallery_best_subject_and_rank2_margin(exact_limit: int) -> None:
    vecs = unit(300)
    entries = [GalleryEntry(f"t{i}", f"s{i // 3}", "w") for i in range(300)]
    g = Gallery(entries, vecs, exact_limit=exact_limit)
    assert g.exact is (exact_limit >= 300)
    probe = vecs[7] + 0.3 * unit(1, seed=9)[0]
    probe /= np.linalg.norm(probe)
    res = g.search(probe)
    exact = vecs @ probe
    assert res.best is not None and res.best.entry.subject_id == "s2"
    assert res.best.score == pytest.approx(float(exact[6:9].max()), abs=1e-5)
    second = max(float(exact[i * 3 : i * 3 + 3].max()) for i in range(100) if i != 2)
    assert res.rank2_margin == pytest.approx(res.best.score - second, abs=1e-5)
    # The stored templates come back whole (the cascade reads its cheap part from them).
    np.testing.assert_allclose(g.vectors(), vecs, atol=1e-6)


def test_compressed_gallery_finds_every_mate_and_reports_exact_scores() -> None:
    # 100-d is not a multiple of 16: exercises the zero-padding of the compressed index.
    vecs = unit(4000, dim=100, seed=3)
    entries = [GalleryEntry(f"t{i}", f"s{i}", "w") for i in range(4000)]
    g = Gallery(entries, vecs, exact_limit=1000)
    assert not g.exact
    rng = np.random.default_rng(5)
    mates = rng.choice(4000, 50, replace=False)
    probes = 0.7 * vecs[mates] + np.sqrt(0.51) * unit(50, dim=100, seed=6)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    np.testing.assert_allclose(g.vectors(), vecs, atol=1e-6)  # unpadded, exact
    for mate, probe in zip(mates, probes, strict=True):
        res = g.search(probe)
        assert res.best is not None and res.best.entry.subject_id == f"s{mate}"
        for cand in res.candidates:  # never an approximate score
            idx = int(cand.entry.template_id[1:])
            assert cand.score == pytest.approx(float(vecs[idx] @ probe), abs=1e-5)
    import faiss

    before = faiss.omp_get_max_threads()
    Gallery(entries, vecs, exact_limit=1000, threads=1).search(probes[0])
    assert faiss.omp_get_max_threads() == before  # the per-search thread count is restored
    with pytest.raises(ValidationError):
        Gallery(entries, vecs, rerank=0)


def obs(
    t: int, box: tuple[float, float, float, float], q: float, emb: bool = True
) -> FaceObservation:
    e = unit(1, dim=8, seed=t)[0] if emb else None
    frame = FrameRef("cam", T0 + timedelta(seconds=t), t, 640, 480)
    return FaceObservation(frame, np.array(box, np.float32), 0.9, np.zeros((5, 2)), q, e)


def test_tracker_follows_overlapping_boxes_and_keeps_the_best_shot() -> None:
    tr = FaceTracker("cam", max_missed=1)
    crops = np.zeros((1, 4, 4, 3), np.uint8)
    assert tr.update([obs(0, (10, 10, 50, 50), 0.5)], crops) == []
    assert tr.update([obs(1, (14, 12, 54, 52), 0.9)], crops + 1) == []
    assert tr.update([obs(2, (18, 14, 58, 54), 0.7), obs(2, (300, 300, 340, 340), 0.6)], None) == []
    assert len(tr.open) == 2
    tr.update([], None)
    closed = tr.update([], None)
    assert len(closed) == 2
    first = next(t for t in closed if t.hits == 3)
    assert first.best is not None and first.best.quality == pytest.approx(0.9)
    assert first.best_crop is not None and first.best_crop.max() == 1
    assert first.first_seen == T0 and first.last_seen == T0 + timedelta(seconds=2)


def test_tracker_ignores_unembedded_faces_for_best_shot_and_stays_bounded() -> None:
    tr = FaceTracker("cam", max_open=5)
    for t in range(200):  # a crowd of ever-new faces
        tr.update([obs(t, (t * 50.0, 0, t * 50.0 + 10, 10), 0.2, emb=False)], None)
        assert len(tr.open) <= 5
    assert all(t.best is None for t in tr.close_all())


def test_active_deployment_cannot_be_forged_and_matcher_refuses_anything_else() -> None:
    row = DeploymentRow(
        "d",
        "victim_or_missing_person",
        "ref",
        T0,
        T0 + timedelta(hours=1),
        DeploymentState.APPROVED,
        "alice",
        T0,
        camera_ids=("cam",),
    )
    with pytest.raises(PolicyViolationError):
        ActiveDeployment(row, frozenset({"cam"}), row.ends_at, object())
    gallery = Gallery([GalleryEntry("t", "s", "w")], unit(1))
    with pytest.raises(PolicyViolationError):
        WatchlistMatcher(row, gallery, model(), 0.5)  # type: ignore[arg-type]
    with pytest.raises(PolicyViolationError):
        WatchlistMatcher(None, gallery, model(), 0.5)  # type: ignore[arg-type]
