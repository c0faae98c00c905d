"""The face cascade's pieces: the measured band, its reading, and the split fusion embedder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.errors import ConfigError, ModelError, ValidationError
from vigil.perception.faces.cascade import CascadeBand, CascadeEmbedder, fit_band, make_cascade
from vigil.perception.faces.embedders import FusionEmbedder, l2_normalise


class _Linear:
    """A fake embedder (unit test of the cascade class only): a fixed random projection."""

    def __init__(self, name: str, dim: int, seed: int) -> None:
        self.name, self.dim = name, dim
        self.w = np.random.default_rng(seed).normal(size=(112 * 112 * 3, dim)).astype(np.float32)
        self.calls = 0

    def embed(self, faces: np.ndarray) -> np.ndarray:
        self.calls += 1
        x = faces.reshape(len(faces), -1).astype(np.float32) / 255
        return l2_normalise(x @ self.w)


def _fusion() -> tuple[FusionEmbedder, list[_Linear]]:
    members = [_Linear("sface", 8, 0), _Linear("fr_feature", 16, 1), _Linear("mobilefacenet", 4, 2)]
    return FusionEmbedder(members, [2.0, 1.0, 1.0]), members


def _faces(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, (n, 112, 112, 3), dtype=np.uint8)


def _templates(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    return l2_normalise(rng.normal(size=(n, dim)))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(5, 60))
def test_no_pair_passing_the_fusion_is_below_the_band(seed: int, n: int) -> None:
    """The invariant the band exists for, on its own fitting data: every pair of distinct
    images whose fused score reaches t has a cheap score at or above lower(t)."""
    rng = np.random.default_rng(seed)
    cheap = _templates(n, 6, rng)
    other = _templates(n, 10, rng)
    # Correlated members, as real ones are: the fused template contains the cheap one.
    fused = l2_normalise(np.concatenate([cheap * np.sqrt(0.5), other * np.sqrt(0.5)], axis=1))
    found = rng.random(n) > 0.1
    grid = np.round(np.arange(-0.5, 0.95, 0.05), 3)
    band = fit_band(cheap, fused, found, grid, block=7)
    idx = np.nonzero(found)[0]
    f = fused[idx] @ fused[idx].T
    c = cheap[idx] @ cheap[idx].T
    np.fill_diagonal(f, -np.inf)
    for t in grid:
        passing = f >= t
        if passing.any():
            assert c[passing].min() >= band.lower_for(float(t)) - 1e-6
    assert np.all(np.diff(band.lower) >= 0)  # a higher threshold never has a lower edge


def test_band_reading_is_cautious_between_and_outside_grid_points() -> None:
    band = CascadeBand(np.array([0.4, 0.5, 0.6]), np.array([0.1, 0.3, np.inf]), "sface", 10)
    assert band.lower_for(0.39) == float("-inf")  # below the grid: everything is fused
    assert band.lower_for(0.45) == pytest.approx(0.1)  # the grid point below
    assert band.lower_for(0.5) == pytest.approx(0.3)
    assert band.lower_for(0.9) == pytest.approx(0.3)  # nothing measured there: the edge below
    assert band.with_margin(0.05).lower_for(0.5) == pytest.approx(0.25)


def test_band_survives_the_calibration_file_and_refuses_bad_ones(tmp_path: Path) -> None:
    band = CascadeBand(np.array([0.4, 0.5]), np.array([0.2, 0.25]), "sface", 42)
    path = tmp_path / "cal.json"
    path.write_text(json.dumps({"threshold": 0.5, "cascade": band.to_json()}))
    back = CascadeBand.from_calibration(path, margin=0.01)
    assert back is not None and back.pairs == 42 and back.cheap_member == "sface"
    assert back.lower_for(0.5) == pytest.approx(0.24)
    path.write_text(json.dumps({"threshold": 0.5}))
    assert CascadeBand.from_calibration(path) is None  # no band: the full fusion runs
    path.write_text(json.dumps({"cascade": {"threshold": [0.5, 0.4], "lower": [0, 0]}}))
    with pytest.raises(ConfigError):
        CascadeBand.from_calibration(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError):
        CascadeBand.from_calibration(path)
    with pytest.raises(ValidationError):
        CascadeBand(np.array([0.5, 0.4]), np.array([0.1, 0.2]), "sface", 1)
    with pytest.raises(ValidationError):
        fit_band(np.zeros((3, 2), np.float32), np.zeros((4, 2), np.float32), np.ones(3, bool), [0])


def test_completing_the_cheap_template_gives_exactly_the_fused_one() -> None:
    fusion, members = _fusion()
    cascade = CascadeEmbedder(fusion, "sface")
    faces = _faces(5)
    cheap = cascade.embed_cheap(faces)
    calls_before = members[0].calls
    fused = cascade.complete(faces, cheap)
    assert members[0].calls == calls_before  # the cheap member is not run twice
    np.testing.assert_allclose(fused, fusion.embed(faces), atol=1e-6)
    np.testing.assert_allclose(cascade.cheap_part(fused), cheap, atol=1e-6)
    # The cheap score against a gallery's cheap part is the cheap member's own cosine.
    gallery = fusion.embed(_faces(3, seed=1))
    expected = cheap @ members[0].embed(_faces(3, seed=1)).T
    np.testing.assert_allclose(cheap @ cascade.cheap_part(gallery).T, expected, atol=1e-5)
    with pytest.raises(ValidationError):
        cascade.complete(faces, cheap[:2])


def test_a_cascade_needs_a_fusion_holding_its_cheap_member() -> None:
    fusion, members = _fusion()
    assert make_cascade(members[0], "sface") is None  # a single model: nothing to cascade
    assert make_cascade(fusion, "sface") is not None
    with pytest.raises(ModelError):
        CascadeEmbedder(FusionEmbedder(members[1:]), "sface")


def _eval_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path, cal: str, *extra: str) -> str:
    from vigil.cli.main import main

    (tmp_path / "cal.json").write_text(cal)
    config = tmp_path / "vigil.yaml"
    config.write_text(f"faces:\n  identification:\n    calibration_file: {tmp_path / 'cal.json'}\n")
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "eval",
                "identification",
                "--lfw-dir",
                str(tmp_path / "no-lfw-needed"),
                "--config",
                str(config),
                "--cascade",
                *extra,
            ]
        )
    captured = capsys.readouterr()
    assert exc.value.code == 2, captured
    return " ".join((captured.err + captured.out).split())  # rich wraps long lines


def test_eval_cascade_refuses_a_calibration_without_a_usable_band(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Checked before any face is embedded: bad input costs nothing and says why."""
    assert "has no cascade band" in _eval_fails(capsys, tmp_path, json.dumps({"threshold": 0.5}))
    band = CascadeBand(np.array([0.4, 0.5]), np.array([0.2, 0.25]), "sface", 42)
    good = json.dumps({"threshold": 0.5, "cascade": band.to_json()})
    assert "is not in" in _eval_fails(capsys, tmp_path, good, "--model", "fr_feature")
    assert "unusable" in _eval_fails(capsys, tmp_path, "{broken")
