"""bench/gpu.py's smoke mode: every section runs on the CPU and the JSON has what capacity reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench import gpu

from vigil.perception import runtime


@pytest.mark.models
def test_smoke_run_writes_every_section(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    try:
        assert gpu.main(["--smoke", "--out", str(out)]) == 0
    finally:
        runtime.configure("cpu")
    doc = json.loads(out.read_text())
    assert doc["device"] == "cpu" and doc["providers"] == ["CPUExecutionProvider"]
    assert set(doc["embed"]) == {"fr_feature", "sface", "mobilefacenet", "fused_default"}
    for row in doc["embed"].values():
        assert row["b1_faces_per_s"] > 0 and row["b4_faces_per_s"] > 0
    for name in ("yunet", "nanodet"):
        for res in ("1080p", "720p"):
            assert doc["detect"][f"{name}_{res}_fps"] > 0
            assert doc["detect"][f"{name}_{res}_fps_2_streams"] > 0
    assert doc["detect"]["frame_sizes"]["1080p"] == "480x270"  # shrunk, and says so
    assert doc["decode"]["cpu_fps"] > 0
    derived = doc["derived"]
    assert derived["cameras_per_gpu"] > 0 and derived["device"] == "cpu"
    assert derived["note"] and "not a GPU figure" in derived["note"]
    assert doc["skipped_for_time"] == []


def test_derived_figure_needs_every_section() -> None:
    assert gpu.derive({"device": "cuda"})["cameras_per_gpu"] is None
    full = gpu.derive(
        {
            "device": "cuda",
            "detect": {"yunet_1080p_fps": 1000.0, "nanodet_1080p_fps": 1000.0},
            "embed": {"fused_default": {"b64_faces_per_s": 1000.0}},
            "decode": {"gpu_fps": 600.0},
        }
    )
    # 2 fps x (1 ms + 1 ms + 2 faces x 1 ms) = 8 ms of GPU per camera-second: 125 cameras;
    # decoding 600 frames/s of 30 fps streams: 20 cameras, the bound.
    assert full["cameras_per_gpu_inference"] == pytest.approx(125.0)
    assert full["cameras_per_gpu_decode"] == pytest.approx(20.0)
    assert full["cameras_per_gpu"] == pytest.approx(20.0) and full["note"] is None


@pytest.mark.parametrize("argv", [["--seconds", "0"], ["--streams", "0"], ["--budget", "-1"]])
def test_bad_arguments_exit_2(argv: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        gpu.main([*argv, "--out", str(tmp_path / "x.json")])
    assert exc.value.code == 2
