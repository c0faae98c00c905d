"""``vigil capacity``: the JSON shape, the model's linearity, sourced assumptions, bad input."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.cli.main import main
from vigil.errors import ValidationError
from vigil.system.capacity import (
    ASSUMPTIONS,
    Scenario,
    cpu_seconds_per_second,
    size,
    storage_bytes_per_day,
)

REQUIRED = (
    "cpu_cores",
    "gpus",
    "nodes",
    "network_gbps",
    "storage_tb_per_day",
    "storage_tb_total",
    "index_memory_gb",
    "assumptions",
)


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    capsys.readouterr()
    main(["capacity", *args, "--json"])
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def _fails(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["capacity", *args])
    captured = capsys.readouterr()
    assert exc.value.code == 2, captured
    return captured.err


def test_json_has_every_required_key(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, "--cameras", "60000", "--fps", "2")
    for key in REQUIRED:
        assert key in out, key
    assert isinstance(out["cpu_cores"], int) and out["cpu_cores"] > 0
    assert out["gpus"] == 0
    assert out["nodes"] == math.ceil(out["cpu_cores"] / 16)
    assert out["network_gbps"] == 120.0  # 60,000 x the stated 2 Mbit/s
    assert isinstance(out["assumptions"], list) and out["assumptions"]


def test_text_output_is_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    main(["capacity", "--cameras", "10", "--fps", "1"])
    text = capsys.readouterr().out
    assert "cpu_cores" in text and "storage_tb_total" in text and "assumptions" in text


def test_every_assumption_names_its_source(capsys: pytest.CaptureFixture[str]) -> None:
    out = _json(capsys, "--cameras", "100", "--fps", "2", "--plates")
    rows = out["assumptions"]
    assert isinstance(rows, list)
    assert {r["name"] for r in rows} >= {a.name for a in ASSUMPTIONS}
    for row in rows:
        assert row["source"].strip(), row
        assert row["unit"].strip(), row
        if row["value"] is None:  # nothing measured: the source must say so
            assert row["source"].startswith("not measured"), row


def test_gpu_without_a_benchmark_gives_null_not_a_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for kind in ("h100", "h200"):
        out = _json(capsys, "--cameras", "1000", "--fps", "2", "--gpu", kind)
        assert out["gpus"] is None
        notes = out["notes"]
        assert isinstance(notes, list)
        assert any("no GPU benchmark recorded" in n for n in notes)
        gpu_rows = [r for r in out["assumptions"] if r["name"] == "gpu_streams_per_gpu"]
        assert gpu_rows and gpu_rows[0]["value"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cameras", "0", "--fps", "2"), "--cameras must be at least 1"),
        (("--cameras", "10", "--fps", "-1"), "--fps must be in (0, 60]"),
        (("--cameras", "10", "--fps", "0"), "--fps must be in (0, 60]"),
        (("--cameras", "10", "--fps", "2", "--gpu", "tpu"), "--gpu must be one of"),
        (("--cameras", "10", "--fps", "2", "--utilisation", "1.5"), "--utilisation"),
        (("--cameras", "10", "--fps", "2", "--retention-days", "0"), "--retention-days"),
        (("--cameras", "10", "--fps", "nan"), "--fps"),
    ],
)
def test_bad_input_exits_2_with_the_reason(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    assert message in _fails(capsys, *args)


def _sized(s: Scenario) -> dict[str, Any]:
    out: dict[str, Any] = size(s)
    return out


def test_plates_and_archived_faces_add_cost() -> None:
    base = Scenario(cameras=100, fps=2)
    plates = Scenario(cameras=100, fps=2, plates=True)
    archive = Scenario(cameras=100, fps=2, archived_faces_per_camera_hour=10)
    assert cpu_seconds_per_second(plates) > cpu_seconds_per_second(base)
    assert storage_bytes_per_day(plates) > storage_bytes_per_day(base)
    assert storage_bytes_per_day(archive) > storage_bytes_per_day(base)
    assert _sized(base)["index_memory_gb"] == 0.0  # no authorisation: no non-match face is stored
    assert float(_sized(archive)["index_memory_gb"]) > 0


scenarios = st.builds(
    Scenario,
    cameras=st.integers(1, 200_000),
    fps=st.floats(0.05, 30),
    faces_per_frame=st.floats(0, 10),
    archived_faces_per_camera_hour=st.floats(0, 1000),
    plates=st.booleans(),
    retention_days=st.floats(1, 400),
)


def _with(s: Scenario, **changes: object) -> Scenario:
    fields = {name: getattr(s, name) for name in Scenario.__slots__}
    fields.update(changes)
    return Scenario(**fields)


@settings(max_examples=200, deadline=None)
@given(scenarios, st.integers(2, 5))
def test_linear_in_cameras(s: Scenario, k: int) -> None:
    """k times the cameras: k times the CPU and the storage, and no fewer cores or nodes."""
    bigger = _with(s, cameras=s.cameras * k)
    assert math.isclose(cpu_seconds_per_second(bigger), k * cpu_seconds_per_second(s))
    assert math.isclose(storage_bytes_per_day(bigger), k * storage_bytes_per_day(s))
    small, big = _sized(s), _sized(bigger)
    cores, cores_k = int(small["cpu_cores"]), int(big["cpu_cores"])
    # Whole cores: k times the demand rounds up to between k*cores - (k-1) and k*cores.
    assert k * cores - (k - 1) <= cores_k <= k * cores
    assert int(big["nodes"]) >= int(small["nodes"])
    assert float(big["network_gbps"]) >= float(small["network_gbps"])


@settings(max_examples=200, deadline=None)
@given(scenarios, st.floats(1.01, 4))
def test_linear_in_fps_for_cpu_and_flat_for_storage(s: Scenario, k: float) -> None:
    """Records are per unit of time, not per frame: more fps costs CPU, not storage."""
    faster = _with(s, fps=min(60.0, s.fps * k))
    ratio = faster.fps / s.fps
    assert math.isclose(cpu_seconds_per_second(faster), ratio * cpu_seconds_per_second(s))
    assert math.isclose(storage_bytes_per_day(faster), storage_bytes_per_day(s))
    assert int(_sized(faster)["cpu_cores"]) >= int(_sized(s)["cpu_cores"])


def test_doubling_cameras_doubles_the_example() -> None:
    one, two = _sized(Scenario(cameras=30_000, fps=2)), _sized(Scenario(cameras=60_000, fps=2))
    assert math.isclose(float(two["storage_tb_per_day"]), 2 * float(one["storage_tb_per_day"]))
    assert abs(int(two["cpu_cores"]) - 2 * int(one["cpu_cores"])) <= 1


def test_scenario_rejects_bad_values_directly() -> None:
    with pytest.raises(ValidationError, match="--cameras"):
        Scenario(cameras=0, fps=1)
    with pytest.raises(ValidationError, match="--bitrate-mbps must be a finite number"):
        Scenario(cameras=1, fps=1, bitrate_mbps=math.inf)


def _gpu_json(tmp_path: Any, device: str = "cuda", value: object = 40.0) -> str:
    path = tmp_path / "gpu.json"
    doc = {"device": device, "gpu_name": "NVIDIA H200", "when": "2026-12-04T20:00:00+00:00"}
    doc["derived"] = {"cameras_per_gpu": value}
    path.write_text(json.dumps(doc))
    return str(path)


def test_a_gpu_benchmark_sizes_the_gpus(capsys: pytest.CaptureFixture[str], tmp_path: Any) -> None:
    bench = _gpu_json(tmp_path)
    out = _json(capsys, "--cameras", "1000", "--fps", "2", "--gpu", "h200", "--gpu-bench", bench)
    # 1000 cameras / 40 per GPU / 0.7 utilisation = 35.7 -> 36
    assert out["gpus"] == 36
    assert any("40 cameras per GPU" in n for n in out["notes"])
    # Twice the fps costs twice the GPUs (the figure is at 2 fps): 71.4 -> 72.
    out = _json(capsys, "--cameras", "1000", "--fps", "4", "--gpu", "h200", "--gpu-bench", bench)
    assert out["gpus"] == 72
    out = _json(capsys, "--cameras", "1000", "--fps", "2", "--gpu", "h100", "--gpu-bench", bench)
    assert any("not an h100" in n for n in out["notes"])


@pytest.mark.parametrize(
    ("case", "extra", "message"),
    [
        (("cpu", 40.0), ("--gpu", "h200"), "not a GPU"),
        (("cuda", None), ("--gpu", "h200"), "cameras_per_gpu is None"),
        (("cuda", -3.0), ("--gpu", "h200"), "cameras_per_gpu is -3.0"),
        (("cuda", 40.0), (), "--gpu-bench needs --gpu h100 or h200"),
    ],
)
def test_bad_gpu_benchmarks_exit_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
    case: tuple[str, object],
    extra: tuple[str, ...],
    message: str,
) -> None:
    bench = _gpu_json(tmp_path, *case)
    err = _fails(capsys, "--cameras", "10", "--fps", "2", *extra, "--gpu-bench", bench)
    assert message in err
    missing = str(tmp_path / "absent.json")
    err = _fails(capsys, "--cameras", "10", "--fps", "2", "--gpu", "h200", "--gpu-bench", missing)
    assert "not a bench/gpu.py result" in err
