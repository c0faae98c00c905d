"""The bench headline table: ratios from same-run numbers, and honest gaps for what did not run."""

from __future__ import annotations

import pytest
from bench import summary


def test_ratios_are_computed_from_the_two_same_run_numbers() -> None:
    rows = summary.headline(
        {
            "bench_match": {
                "gallery_median_ms": 0.5,
                "numpy_exact_median_ms": 10.0,
                "gallery_1k_median_ms": 0.1,
                "numpy_exact_1k_median_ms": 0.05,
            },
            "bench_ingest": {
                "keyframe_distinct_keyframes_cpu_s_median": 1.0,
                "keyframe_distinct_full_cpu_s_median": 8.0,
            },
            "bench_faces": {"skipped": "needs ../shared/data"},
            "bench_api": {"error": "RuntimeError('port in use')"},
        }
    )
    by = {r["metric"]: r for r in rows}
    assert by["watchlist match, 100,000 templates"]["ratio"] == pytest.approx(20.0)
    assert by["watchlist match, 1,000 templates"]["ratio"] == pytest.approx(0.5)  # slower: shown
    kf = by["key-frame decode CPU / full decode CPU (25 fps, 1 s GOP)"]
    assert kf["ratio"] == pytest.approx(0.125) and kf["ratio_is"] == "Vigil / baseline"
    assert by["detect faces, 1080p frame"]["note"] == "needs ../shared/data"
    assert "port in use" in by["alert → WebSocket p95 (target ≤ 200)"]["note"]
    assert by["archive recall@10 vs exact"]["note"] == "not run"
    md = summary.markdown(rows)
    assert md[0].startswith("| metric |") and len(md) == len(rows) + 2


def test_a_missing_key_gives_no_ratio_rather_than_a_wrong_one() -> None:
    rows = summary.headline({"bench_match": {"gallery_median_ms": 0.5}})
    (row,) = [r for r in rows if r["metric"] == "watchlist match, 100,000 templates"]
    assert row["value"] == 0.5 and row["baseline"] is None and "ratio" not in row
