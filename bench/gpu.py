"""GPU benchmark: faces/s per embedder and batch, detector frames/s, decode frames/s, cameras/GPU.

Run on a CUDA machine (after ``bench/gpu_setup.sh``), it prints a table and writes one JSON file:

* ``embed``: faces/s of each embedder (``fr_feature``, ``sface``, ``mobilefacenet``) and of the
  fused default at batch 1, 8, 64, 512 and 4096: aligned 112 × 112 crops in (host memory),
  L2-normalised templates out (host memory), so every host↔device copy and the preprocessing are
  inside the time. MobileFaceNet is a TFLite model run by LiteRT, which has no CUDA path: its row
  says ``cpu``. ``embed_fp16`` repeats the fused default with FP16 copies of the ONNX models when
  onnxconverter-common is installed (check accuracy with ``vigil eval verification`` first).
* ``detect``: YuNet (faces) and NanoDet (persons, vehicles) frames/s at 1080p and 720p, one
  stream and ``--streams`` concurrent streams on one session (their graphs fix batch 1, so the
  concurrency is how a GPU is kept busy; the frames are real vtest frames upscaled when
  ../shared/data is there, otherwise noise).
* ``decode``: 1080p H.264 frames/s decoded by FFmpeg on the CPU and with CUDA (PyAV hwaccel),
  on a clip encoded at start (libx264, vtest upscaled, GOP 30).
* ``derived``: analysed 1080p cameras per GPU at 2 fps with 2 faces and 5 persons per frame:
  ``1 / (2 × (1/yunet + 1/nanodet + 2/fused faces/s at batch 64))``, and the decode bound
  ``gpu decode fps / 30`` for 30 fps streams decoded whole (key-frame-only decoding needs far
  less); ``cameras_per_gpu`` is the smaller. Persons cost no GPU time beyond the detector (the
  tracker runs on the CPU). ``vigil capacity --gpu-bench FILE`` reads this figure.

Everything is timed by wall clock after one warm-up call, each figure for at least ``--seconds``
(or ``--min-iters`` calls). A whole run is bounded by ``--budget`` (default 450 s, inside the 8
minutes a short GPU rental allows): sections that would start after it are skipped and say so.
TensorRT is off unless ``--tensorrt`` (its engines are built per input shape, minutes each).

``--smoke`` runs every section on the CPU at toy sizes in a few seconds (what CI checks).
No GPU figure is claimed anywhere until this script has run on a GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
VTEST = (REPO / ".." / "shared" / "data" / "opencv_vtest" / "vtest.avi").resolve()
EMBEDDERS = ("fr_feature", "sface", "mobilefacenet")
RESOLUTIONS = {"1080p": (1920, 1080), "720p": (1280, 720)}


@dataclass
class Plan:
    """What to run: full (GPU) or smoke (CPU, toy sizes)."""

    device: str
    batches: tuple[int, ...]
    seconds: float
    min_iters: int
    streams: int
    decode_frames: int
    decode_size: tuple[int, int]
    budget_s: float
    fp16: bool
    tensorrt: bool
    started: float = field(default_factory=time.monotonic)
    skipped: list[str] = field(default_factory=list)

    def left(self) -> float:
        return self.budget_s - (time.monotonic() - self.started)


def rate(fn: Callable[[], Any], units: int, plan: Plan) -> float:
    """Units per second of ``fn`` (one warm-up call, then at least ``seconds`` or ``min_iters``)."""
    fn()
    times: list[float] = []
    t_end = time.perf_counter() + plan.seconds
    while len(times) < plan.min_iters or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 10_000:
            break
    return round(units / statistics.median(times), 1)


def crops(n: int) -> np.ndarray:
    """``n`` aligned-size faces (noise: throughput does not depend on the pixels)."""
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n, 112, 112, 3), dtype=np.uint8)


def bench_embedders(plan: Plan, fused_only: bool = False) -> dict[str, Any]:
    from vigil.config.settings import FaceEmbedderConfig
    from vigil.perception.faces.embedders import make_embedder

    cfg = FaceEmbedderConfig()
    out: dict[str, Any] = {}
    names = () if fused_only else EMBEDDERS
    for name in (*names, "fused_default"):
        row: dict[str, Any] = {"device": "cpu" if name == "mobilefacenet" else plan.device}
        for batch in plan.batches:
            if plan.left() < 0:
                plan.skipped.append(f"embed {name} b{batch}")
                continue
            if name == "fused_default":
                emb = make_embedder(
                    "fusion",
                    batch_size=batch,
                    members=cfg.fusion_members,
                    weights=cfg.fusion_weights,
                )
            else:
                emb = make_embedder(name, batch_size=batch)
            faces = crops(batch)
            row[f"b{batch}_faces_per_s"] = rate(lambda e=emb, f=faces: e.embed(f), batch, plan)
        out[name] = row
    return out


def frames(size: tuple[int, int], n: int = 4) -> list[np.ndarray]:
    """Real vtest frames scaled to ``size`` when the data is here, else noise."""
    import cv2

    if VTEST.exists():
        cap = cv2.VideoCapture(str(VTEST))
        got = []
        for _ in range(n):
            ok, img = cap.read()
            if ok:
                got.append(cv2.resize(img, size, interpolation=cv2.INTER_CUBIC))
        cap.release()
        if got:
            return got
    rng = np.random.default_rng(1)
    return [rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8) for _ in range(n)]


def concurrent_rate(
    detect: Callable[[np.ndarray], Any], imgs: list[np.ndarray], plan: Plan
) -> float:
    """Frames/s with ``plan.streams`` threads calling ``detect`` on one shared session."""
    per_thread = max(2, plan.min_iters)
    detect(imgs[0])
    t0 = time.perf_counter()

    def work(k: int) -> None:
        for i in range(per_thread):
            detect(imgs[(i + k) % len(imgs)])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(plan.streams)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return round(plan.streams * per_thread / (time.perf_counter() - t0), 1)


def bench_detectors(plan: Plan) -> dict[str, Any]:
    from vigil.config.settings import YuNetDetectorConfig
    from vigil.perception.faces.detectors import make_detector
    from vigil.perception.objects import NanoDetDetector

    detectors: dict[str, Callable[[np.ndarray], Any]] = {
        "yunet": make_detector(YuNetDetectorConfig()).detect,
        "nanodet": NanoDetDetector(score_threshold=0.1).detect,
    }
    out: dict[str, Any] = {"frame_sizes": {}}
    for res, size in RESOLUTIONS.items():
        # The smoke run keeps the keys but shrinks the frames (recorded beside them).
        real = size if plan.device == "cuda" else (size[0] // 4, size[1] // 4)
        out["frame_sizes"][res] = f"{real[0]}x{real[1]}"
        imgs = frames(real)
        for name, detect in detectors.items():
            if plan.left() < 0:
                plan.skipped.append(f"detect {name} {res}")
                continue
            cycle = iter(range(1 << 30))
            one = rate(lambda d=detect, c=cycle, im=imgs: d(im[next(c) % len(im)]), 1, plan)
            many = concurrent_rate(detect, imgs, plan)
            out[f"{name}_{res}_fps"] = one
            out[f"{name}_{res}_fps_{plan.streams}_streams"] = many
    return out


def make_clip(path: Path, n: int, size: tuple[int, int]) -> None:
    """An H.264 clip of ``n`` frames (libx264, GOP 30) from vtest frames or noise."""
    import av

    imgs = frames(size, min(n, 30))
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"g": "30", "preset": "veryfast"}
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(imgs[i % len(imgs)], format="bgr24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def decode_fps(path: Path, hw: Any) -> float:
    import av

    t0 = time.perf_counter()
    count = 0
    with av.open(str(path), **({"hwaccel": hw} if hw is not None else {})) as f:
        for frame in f.decode(video=0):
            frame.to_ndarray(format="bgr24")  # what a camera pipeline hands on: host pixels
            count += 1
    return round(count / (time.perf_counter() - t0), 1)


def bench_decode(plan: Plan) -> dict[str, Any]:
    from vigil.sources import hwdecode

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        make_clip(clip, plan.decode_frames, plan.decode_size)
        out["clip"] = (
            f"{plan.decode_size[0]}x{plan.decode_size[1]} H.264, {plan.decode_frames} frames"
        )
        out["cpu_fps"] = decode_fps(clip, None)
        ok, reason = hwdecode.probe()
        out["gpu_decode"] = reason
        if ok and plan.device == "cuda":
            from av.codec.hwaccel import HWAccel

            out["gpu_fps"] = decode_fps(clip, HWAccel(device_type="cuda"))
        else:
            out["gpu_fps"] = None
    return out


def derive(result: dict[str, Any]) -> dict[str, Any]:
    """Cameras per GPU at 2 fps, 2 faces and 5 persons per 1080p frame (module docstring)."""
    det, emb, dec = result.get("detect", {}), result.get("embed", {}), result.get("decode", {})
    fused = emb.get("fused_default", {})
    yunet, nano = det.get("yunet_1080p_fps"), det.get("nanodet_1080p_fps")
    face_rate = fused.get("b64_faces_per_s") or max(
        (v for k, v in fused.items() if k.endswith("_faces_per_s")), default=None
    )
    if not (yunet and nano and face_rate):
        return {"cameras_per_gpu": None, "why": "a section was skipped or failed"}
    per_frame_s = 1 / yunet + 1 / nano + 2 / face_rate
    inference = 1 / (2 * per_frame_s)
    decode = dec.get("gpu_fps") / 30 if dec.get("gpu_fps") else None
    both = [v for v in (inference, decode) if v]
    return {
        "note": None
        if result["device"] == "cuda"
        else "not a GPU figure: a CPU smoke run at reduced frame sizes",
        "assumptions": "1080p, 2 analysed fps, 2 faces and 5 persons per frame, 30 fps streams",
        "cameras_per_gpu_inference": round(inference, 1),
        "cameras_per_gpu_decode": None if decode is None else round(decode, 1),
        "cameras_per_gpu": round(min(both), 1),
        "device": result["device"],
    }


def run(plan: Plan) -> dict[str, Any]:
    from vigil.perception import runtime

    runtime.configure(plan.device, False, tensorrt=plan.tensorrt)  # type: ignore[arg-type]
    import onnxruntime as ort

    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": plan.device,
        "onnxruntime": ort.__version__,
        "providers": runtime.device_providers(),
        "gpu_name": _gpu_name(),
    }
    result["embed"] = bench_embedders(plan)
    if plan.fp16 and plan.device == "cuda":
        runtime.configure("cuda", True, tensorrt=plan.tensorrt)
        result["embed_fp16"] = bench_embedders(plan, fused_only=True)
        runtime.configure("cuda", False, tensorrt=plan.tensorrt)
    result["detect"] = bench_detectors(plan)
    result["decode"] = bench_decode(plan)
    result["derived"] = derive(result)
    result["skipped_for_time"] = plan.skipped
    result["seconds"] = round(time.monotonic() - plan.started, 1)
    return result


def _gpu_name() -> str | None:
    try:
        import subprocess

        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def plan_from(args: argparse.Namespace) -> Plan:
    if args.smoke:
        return Plan("cpu", (1, 4), 0.0, 1, 2, 8, (320, 176), 60.0, False, False)
    return Plan(
        "cuda",
        (1, 8, 64, 512, 4096),
        args.seconds,
        3,
        args.streams,
        300,
        (1920, 1080),
        args.budget,
        True,
        args.tensorrt,
    )


def table(result: dict[str, Any]) -> str:
    lines = [f"device {result['device']} ({result['gpu_name']}), providers {result['providers']}"]
    for section in ("embed", "embed_fp16"):
        for name, row in result.get(section, {}).items():
            cells = ", ".join(f"{k.split('_')[0]} {v:,}" for k, v in row.items() if k != "device")
            lines.append(f"{section} {name} [{row['device']}] faces/s: {cells}")
    for key, value in result.get("detect", {}).items():
        lines.append(f"detect {key}: {value:,}" if key != "frame_sizes" else f"frames {value}")
    lines.append(f"decode: {result.get('decode')}")
    lines.append(f"derived: {result.get('derived')}")
    if result.get("skipped_for_time"):
        lines.append(f"skipped for time: {result['skipped_for_time']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="CPU, toy sizes, seconds")
    parser.add_argument("--out", type=Path, default=Path("reports/bench/gpu.json"))
    parser.add_argument("--seconds", type=float, default=2.0, help="time per figure")
    parser.add_argument("--streams", type=int, default=8, help="concurrent detector streams")
    parser.add_argument("--budget", type=float, default=450.0, help="whole-run bound, seconds")
    parser.add_argument("--tensorrt", action="store_true", help="also use TensorRT")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.streams < 1 or args.budget <= 0:
        parser.error("--seconds and --budget must be > 0 and --streams >= 1")
    os.environ.setdefault("VIGIL_THREADS", "2" if args.smoke else "8")
    result = run(plan_from(args))
    print(table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
