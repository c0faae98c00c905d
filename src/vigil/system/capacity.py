"""Sizing a deployment from what this project measured: cores, nodes, network, storage, index RAM.

``vigil capacity`` multiplies a camera count by per-unit costs. Every per-unit cost is one
:class:`Assumption` in :data:`ASSUMPTIONS`, and each names where it was measured (a ``make bench``
key, a report under ``docs/reports``, a page of ``docs/``), when and on what machine. Nothing here
is a guess dressed as a measurement:

* figures measured on the 2-core development machine are used as they are, with a utilisation
  target (default 70 %) as headroom, so a node is never planned at 100 %;
* where nothing was measured the assumption says ``"not measured"`` and its value is ``None``.
  That is the case for **GPU throughput** unless a ``bench/gpu.py`` result from a CUDA machine is
  given (``--gpu-bench FILE``, its cameras-per-GPU figure): without one ``--gpu h100|h200`` yields
  ``gpus: null`` and a note instead of a number (the CPU figures stay the CPU-only sizing, which
  is what was measured). A refusal would hide the rest of the sizing;
  a null keeps it and cannot be mistaken for a figure;
* scenario inputs (faces per frame, archived faces per hour, plate reads per hour, stream
  bitrate) are the operator's, not measurements, and are listed as inputs with that label.

The model, per camera analysing ``fps`` frames per second:

* CPU: ``fps * (people path + faces_per_frame * fused embedding [+ plate reading]) / utilisation``
  milliseconds of CPU per second; cores are rounded up, nodes are ``ceil(cores /
  cores_per_node)``. The people path was measured on 768x576 frames; 1080p cameras cost more (the
  face detector alone is ~5x dearer at 1080p), so size 1080p fleets with a measured 1080p run.
* network: cameras x stream bitrate (all packets cross the network even when only key frames are
  decoded).
* storage per day: crowd samples (one per ``sample_every_s``), scan-summary audit entries (one per
  camera and deployment every 300 s), archived face sightings (sighting row + embedding row + raw
  vector on disk), plate reads, each times its measured bytes in PostgreSQL. Recording video is
  off in Vigil by default and is not counted, nor are probe crops (their size was not measured).
* index memory: archived templates held over the retention period x RAM bytes per vector of the
  archive index.

Trade-off: a linear model. It ignores batching gains and per-node overheads, which is why the
figures scale exactly with cameras and fps (a property the tests hold it to); the headroom factor
is the only allowance for bursts.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from vigil.errors import ValidationError

GpuKind = Literal["none", "h100", "h200"]
GPU_KINDS: tuple[str, ...] = ("none", "h100", "h200")

_BENCH_RUN = "docs/benchmarks.md, last full make bench run 2026-12-01 on the 2-core machine"
_RECORDS = (
    "make bench key {key} (bench/bench_records.py), docs/reports/capacity/record-bytes.json, "
    "measured 2026-12-04 on the 2-core machine, PostgreSQL 15"
)


@dataclass(frozen=True, slots=True)
class Assumption:
    """One per-unit figure the sizing rests on.

    Attributes:
        name: what it is, as a key (``people_path_cpu_ms_per_frame``).
        value: the figure, or ``None`` where nothing was measured.
        unit: its unit.
        source: where it was measured (benchmark key or file, date, machine), or
            ``"not measured"``, or the label of an input or a published figure.
    """

    name: str
    value: float | None
    unit: str
    source: str


ASSUMPTIONS: tuple[Assumption, ...] = (
    Assumption(
        "people_path_cpu_ms_per_frame",
        55.7,
        "CPU ms per analysed 768x576 frame",
        "make bench key objects.pipeline_cpu_ms_per_frame (decode, person detection, tracking, "
        f"face detection; 18 frames per CPU-second), {_BENCH_RUN}",
    ),
    Assumption(
        "face_embedding_ms_per_face",
        102.9,
        "CPU ms per face (fused default, batch 32, one thread)",
        "make bench keys faces.{sface,fr_feature,mobilefacenet}_b32_ms_per_face = 27.1 + 69.2 "
        "+ 6.6, docs/faces-speed.md 'Correction', 2026-12-01, quiet 2-core machine "
        "(cpu_per_wall 0.99)",
    ),
    Assumption(
        "plate_reading_ms_per_frame",
        441.0,
        "ms per image (wall, 2 threads; includes its own vehicle detector)",
        "vigil eval plates --vehicles --threads 2 on the OpenALPR US set, docs/plates.md, "
        "2-core machine (close-ups; wall time on 2 threads, CPU may be up to 2x)",
    ),
    Assumption(
        "gpu_streams_per_gpu",
        None,
        "analysed streams per GPU",
        "not measured: no GPU benchmark recorded; run the GPU benchmark first",
    ),
    Assumption(
        "crowd_sample_bytes",
        146.2,
        "bytes per row",
        _RECORDS.format(key="records.records_pg_bytes_per_crowd_sample"),
    ),
    Assumption(
        "crowd_sample_every_s",
        5.0,
        "s between samples per camera",
        "config default analytics.crowd.sample_every_s (one whole-frame series, no zones)",
    ),
    Assumption(
        "audit_entry_bytes",
        522.2,
        "bytes per row",
        _RECORDS.format(key="records.records_pg_bytes_per_audit_entry"),
    ),
    Assumption(
        "audit_scan_summary_every_s",
        300.0,
        "s between deployment.scan_summary entries per camera",
        "code default CameraIdentification.stats_every_s (one deployment per camera assumed)",
    ),
    Assumption(
        "face_sighting_bytes",
        340.8,
        "bytes per row",
        _RECORDS.format(key="records.records_pg_bytes_per_face_sighting"),
    ),
    Assumption(
        "face_embedding_row_bytes",
        4436.8,
        "bytes per row (832-d fused template)",
        _RECORDS.format(key="records.records_pg_bytes_per_embedding"),
    ),
    Assumption(
        "archive_vector_disk_bytes",
        3328.0,
        "bytes per vector in vectors.f32",
        "file format: 832 float32 per row (docs/storage.md, 'Sighting archive index')",
    ),
    Assumption(
        "probe_crop_bytes",
        None,
        "bytes per archived crop (media store)",
        "not measured: crops are left out of storage_tb_*",
    ),
    Assumption(
        "plate_read_bytes",
        421.5,
        "bytes per row",
        _RECORDS.format(key="records.records_pg_bytes_per_plate_read"),
    ),
    Assumption(
        "archive_index_ram_bytes_per_vector",
        76.5,
        "bytes of RAM per archived vector (IVF4096/PQ64 codes + ids + centroids)",
        "make bench key storage archive RAM bytes/vector at 2M vectors, docs/storage.md, "
        "16-core device machine (the 2-core machine measured the same 76.5)",
    ),
)
"""Every per-unit figure, in the order they are printed."""

_BY_NAME = {a.name: a for a in ASSUMPTIONS}


def _value(name: str) -> float:
    v = _BY_NAME[name].value
    if v is None:  # pragma: no cover - only measured figures are read through here
        raise ValueError(f"{name} was not measured")
    return v


@dataclass(frozen=True, slots=True)
class Scenario:
    """What is being sized: the fleet and the operator's own figures (inputs, not measurements).

    Attributes:
        cameras: cameras analysed.
        fps: analysed frames per second per camera (not the stream's frame rate).
        faces_per_frame: faces embedded per analysed frame (faces are embedded only on cameras
            inside a deployment; 1.0 everywhere is the worst case).
        archived_faces_per_camera_hour: non-match face sightings archived under a post-event
            authorisation (0 by default: without one, non-match faces are not stored at all).
        plates: read plates on every camera.
        plate_reads_per_camera_hour: fused plate reads stored per camera and hour.
        gpu: GPU kind per node; only ``none`` has measured figures.
        retention_days: days records are kept (config default 31 for sightings).
        cores_per_node: CPU cores per node.
        utilisation: target CPU utilisation (headroom for bursts), in (0, 1].
        bitrate_mbps: each camera's stream bitrate.
    """

    cameras: int
    fps: float
    faces_per_frame: float = 1.0
    archived_faces_per_camera_hour: float = 0.0
    plates: bool = False
    plate_reads_per_camera_hour: float = 60.0
    gpu: str = "none"
    retention_days: float = 31.0
    cores_per_node: int = 16
    utilisation: float = 0.7
    bitrate_mbps: float = 2.0

    def __post_init__(self) -> None:
        for option, value in self._numbers():
            if not math.isfinite(value):
                raise ValidationError(f"--{option} must be a finite number, got {value}")
        checks = (
            (self.cameras >= 1, f"--cameras must be at least 1, got {self.cameras}"),
            (0 < self.fps <= 60, f"--fps must be in (0, 60], got {self.fps}"),
            (self.faces_per_frame >= 0, "--faces-per-frame must be >= 0"),
            (self.archived_faces_per_camera_hour >= 0, "--archived-faces-per-hour must be >= 0"),
            (self.plate_reads_per_camera_hour >= 0, "--plate-reads-per-hour must be >= 0"),
            (
                self.gpu in GPU_KINDS,
                f"--gpu must be one of {', '.join(GPU_KINDS)}, got {self.gpu!r}",
            ),
            (self.retention_days > 0, "--retention-days must be > 0"),
            (self.cores_per_node >= 1, "--cores-per-node must be at least 1"),
            (0 < self.utilisation <= 1, "--utilisation must be in (0, 1]"),
            (self.bitrate_mbps > 0, "--bitrate-mbps must be > 0"),
        )
        for ok, message in checks:
            if not ok:
                raise ValidationError(message)

    def _numbers(self) -> tuple[tuple[str, float], ...]:
        return (
            ("fps", self.fps),
            ("faces-per-frame", self.faces_per_frame),
            ("archived-faces-per-hour", self.archived_faces_per_camera_hour),
            ("plate-reads-per-hour", self.plate_reads_per_camera_hour),
            ("retention-days", self.retention_days),
            ("utilisation", self.utilisation),
            ("bitrate-mbps", self.bitrate_mbps),
        )


def cpu_ms_per_frame(s: Scenario) -> float:
    """CPU milliseconds one analysed frame costs on one core of the measured machine."""
    ms = _value("people_path_cpu_ms_per_frame")
    ms += s.faces_per_frame * _value("face_embedding_ms_per_face")
    if s.plates:
        ms += _value("plate_reading_ms_per_frame")
    return ms


def bytes_per_camera_day(s: Scenario) -> dict[str, float]:
    """Stored bytes one camera adds per day, by record kind (PostgreSQL rows, archive vectors)."""
    day = 86_400.0
    per_face = (
        _value("face_sighting_bytes")
        + _value("face_embedding_row_bytes")
        + _value("archive_vector_disk_bytes")
    )
    plate_rows = s.plate_reads_per_camera_hour * 24 if s.plates else 0.0
    return {
        "crowd_samples": day / _value("crowd_sample_every_s") * _value("crowd_sample_bytes"),
        "audit_entries": day / _value("audit_scan_summary_every_s") * _value("audit_entry_bytes"),
        "face_sightings": s.archived_faces_per_camera_hour * 24 * per_face,
        "plate_reads": plate_rows * _value("plate_read_bytes"),
    }


def cpu_seconds_per_second(s: Scenario) -> float:
    """CPU-seconds the fleet needs per second at full utilisation (before headroom)."""
    return s.cameras * s.fps * cpu_ms_per_frame(s) / 1000.0


def storage_bytes_per_day(s: Scenario) -> float:
    """Bytes the fleet stores per day (records are per time, so this does not depend on fps)."""
    return sum(bytes_per_camera_day(s).values()) * s.cameras


@dataclass(frozen=True, slots=True)
class GpuBench:
    """The cameras-per-GPU figure of a ``bench/gpu.py`` run on a CUDA machine.

    The figure is for 1080p cameras analysed at 2 fps with 2 faces and 5 persons per frame
    (bench/gpu.py's ``derived`` section); :func:`size` scales it linearly with the fps asked.
    """

    cameras_per_gpu: float
    gpu_name: str
    measured_at: str
    path: str

    @classmethod
    def from_file(cls, path: Path) -> GpuBench:
        """Read a bench/gpu.py JSON; a CPU smoke run or a file without the figure is refused."""
        try:
            doc = json.loads(Path(path).read_text())
            derived = doc["derived"]
            device = doc["device"]
            value = derived["cameras_per_gpu"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValidationError(
                f"--gpu-bench {path}: not a bench/gpu.py result ({exc})"
            ) from None
        if device != "cuda":
            raise ValidationError(
                f"--gpu-bench {path}: measured on {device!r}, not a GPU (a --smoke run?)"
            )
        if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise ValidationError(f"--gpu-bench {path}: cameras_per_gpu is {value!r}")
        return cls(float(value), str(doc.get("gpu_name") or "?"), str(doc.get("when")), str(path))


def _gpu_part(s: Scenario, bench: GpuBench | None, notes: list[str]) -> int | None:
    """GPUs for the scenario from a GPU benchmark, or ``None`` (with a note) without one."""
    if s.gpu == "none":
        if bench is not None:
            raise ValidationError("--gpu-bench needs --gpu h100 or h200")
        return 0
    if bench is None:
        notes.append(
            f"--gpu {s.gpu}: no GPU benchmark recorded; run the GPU benchmark first. "
            "gpus is null and the CPU figures are the CPU-only sizing."
        )
        return None
    per_gpu = bench.cameras_per_gpu * 2.0 / s.fps  # the bench's figure is at 2 fps
    notes.append(
        f"gpus from {bench.path} ({bench.gpu_name}, {bench.measured_at}): "
        f"{bench.cameras_per_gpu:g} cameras per GPU at 2 fps with 2 faces and 5 persons per "
        "1080p frame, scaled to the fps asked; the CPU figures still assume CPU inference."
    )
    if s.gpu not in bench.gpu_name.lower():
        notes.append(f"the benchmark ran on {bench.gpu_name}, not an {s.gpu}")
    return math.ceil(round(s.cameras / per_gpu / s.utilisation, 6))


def size(s: Scenario, gpu_bench: GpuBench | None = None) -> dict[str, object]:
    """The sizing of ``s`` as a JSON-ready mapping (see the module docstring for the model)."""
    # Rounded before the ceiling so float noise (x.0000000001) does not add a core.
    cores = math.ceil(round(cpu_seconds_per_second(s) / s.utilisation, 6))
    per_day = storage_bytes_per_day(s)
    archived = s.cameras * s.archived_faces_per_camera_hour * 24 * s.retention_days
    notes = [
        "CPU figures are from a 2-core machine at 768x576; 1080p costs more.",
        "Recording video is off by default and not counted; probe crops are not counted.",
    ]
    gpus = _gpu_part(s, gpu_bench, notes)
    return {
        "inputs": asdict(s),
        "cpu_ms_per_frame": round(cpu_ms_per_frame(s), 1),
        "cpu_cores": cores,
        "gpus": gpus,
        "nodes": math.ceil(cores / s.cores_per_node),
        "network_gbps": round(s.cameras * s.bitrate_mbps / 1000.0, 3),
        "storage_tb_per_day": round(per_day / 1e12, 6),
        "storage_tb_total": round(per_day * s.retention_days / 1e12, 6),
        "index_memory_gb": round(archived * _value("archive_index_ram_bytes_per_vector") / 1e9, 6),
        "assumptions": [asdict(a) for a in ASSUMPTIONS] + _input_assumptions(s),
        "notes": notes,
    }


def _input_assumptions(s: Scenario) -> list[dict[str, object]]:
    """The operator's figures, listed beside the measured ones so none reads as measured."""
    return [
        asdict(
            Assumption(
                "stream_bitrate_mbps",
                s.bitrate_mbps,
                "Mbit/s per camera",
                "input (--bitrate-mbps; default 2, a common 1080p H.264 setting and the CBR "
                "rate docs/ingestion.md encoded its test stream at), not measured on cameras",
            )
        ),
        asdict(
            Assumption(
                "utilisation_target",
                s.utilisation,
                "fraction of each core planned",
                "input (--utilisation; headroom for bursts and restarts)",
            )
        ),
    ]
