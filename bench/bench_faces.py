"""Face speed: detectors, embedders and the default pipeline beside ``face_recognition``.

What it measures (all on CPU, one run, baseline interleaved with Vigil frame by frame so machine
noise hits both sides alike; every figure is a median over repeats):

* ``<detector>_<720p|1080p>_ms``: ms/frame of each face detector backend (``yunet``,
  ``centerface``) and of the baseline's dlib HOG detector as ``face_recognition`` calls it
  (``baseline_hog_*``: ``number_of_times_to_upsample=1``, its default; ``baseline_hog_up0_*``:
  no upsampling, faster but blind to faces under ~80 px). ``*_recall`` is the fraction of the
  composited faces each one found.
* ``<embedder>_b<1|32>_ms_per_face``: ms/face of each embedder on real aligned faces, one face per
  call and batches of 32; ``baseline_dlib_ms_per_face`` is dlib's ResNet descriptor on the same
  faces (5-point shape given, as ``face_recognition`` computes it).
* ``pipeline_1080p_*`` vs ``baseline_1080p_*``: the default pipeline
  (``FacePipeline.from_config(FacesConfig())``: detect + align + quality gate + embed, with the
  face cascade: SFace first, the fusion only inside the calibrated band) searching each usable
  face against a real 1,000-person watchlist (:mod:`bench.faces_gallery`), and
  ``face_recognition`` (``face_locations`` + ``face_encodings``, defaults) on the same 1080p
  frames. ``pipeline_over_baseline_ratio`` is the median over repeats of the paired throughput
  ratio (baseline ms / pipeline ms); the issue's target is ≥ 3. ``full_fusion_1080p_*`` is the
  same pipeline without the cascade in the same run, and ``cascade_over_full_fusion_ratio`` the
  paired ratio between the two; ``cascade_fused_fraction`` the share of faces that needed the
  fusion.

Frames: vtest.avi (real CCTV) upscaled to 1920 × 1080, with real LFW faces composited in at
40-160 px face height (a feathered elliptical patch) so every frame has faces; 720p frames are the
same frames downscaled. Threads: ``$VIGIL_THREADS`` (default 1 here, for a per-core comparison) is
given to ONNX Runtime, LiteRT, OpenCV and the OMP/BLAS variables; dlib (the ``dlib-bin`` wheel is
built without BLAS) is single-threaded whatever is asked. ``*_cpu_per_wall`` shows the cores each
side actually kept busy.

Accuracy is not measured here: the default pipeline's LFW accuracy comes from
``vigil eval verification`` (docs/evaluation.md); the dlib model's is in ../shared/MODELS.md.

Needs ../shared/data (skips with a message when absent). The baseline is optional; when it is not
installed the module prints the install commands and reports the Vigil side only.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parents[1]
DATA = (REPO / ".." / "shared" / "data").resolve()
VTEST = DATA / "opencv_vtest" / "vtest.avi"
LFW = DATA / "lfw" / "lfw-deepfunneled"

BASELINE_INSTALL = (
    "pip install dlib-bin==20.0.1.post1 face-recognition-models==0.3.0",
    "pip install --no-deps face_recognition==1.3.0",
)
RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080)}
# Face height in a 1080p frame, px: from a distant walker (YuNet still finds it, the embedder's
# quality gate may not accept it) to a close door camera.
FACE_PX_1080P = (40, 160)
# LFW deep-funnelled images are 250 × 250 with the face centred; this crop holds the whole head.
LFW_CROP = (45, 205)
FACE_IN_PATCH = 0.62  # the face's height as a fraction of the crop above

Image = npt.NDArray[np.uint8]
Box = npt.NDArray[np.float32]


@dataclass(frozen=True)
class BenchFrame:
    """One synthetic frame: BGR pixels and the boxes (x1, y1, x2, y2) of the faces pasted in."""

    image: Image
    faces: Box

    def resized(self, width: int, height: int) -> BenchFrame:
        h, w = self.image.shape[:2]
        scale = np.array([width / w, height / h, width / w, height / h], np.float32)
        image = cv2.resize(self.image, (width, height), interpolation=cv2.INTER_AREA)
        return BenchFrame(np.asarray(image, np.uint8), (self.faces * scale).astype(np.float32))


def _feather_mask(side: int) -> npt.NDArray[np.float32]:
    """An elliptical alpha mask with a soft edge, so the patch has no straight seams."""
    mask = np.zeros((side, side), np.float32)
    centre = (side // 2, side // 2)
    axes = (max(1, int(side * 0.40)), max(1, int(side * 0.48)))
    cv2.ellipse(mask, centre, axes, 0, 0, 360, 1.0, -1)
    k = max(3, (side // 8) | 1)
    return np.asarray(cv2.GaussianBlur(mask, (k, k), 0), np.float32)


def composite_frames(
    backgrounds: Sequence[Image],
    faces: Sequence[Image],
    size: tuple[int, int],
    *,
    faces_per_frame: int = 6,
    face_px: tuple[int, int] = FACE_PX_1080P,
    seed: int = 0,
) -> list[BenchFrame]:
    """Scale each background to ``size`` (w, h) and paste ``faces_per_frame`` faces into it.

    ``faces`` are LFW-like square images (face centred); face heights are drawn log-uniformly in
    ``face_px`` (scaled with the frame height relative to 1080) at non-overlapping positions.
    Deterministic for a given ``seed``.
    """
    width, height = size
    rng = np.random.default_rng(seed)
    scale = height / 1080
    lo, hi = face_px[0] * scale, face_px[1] * scale
    out: list[BenchFrame] = []
    face_i = 0
    for bg in backgrounds:
        frame = cv2.resize(bg, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
        boxes: list[list[float]] = []
        placed: list[tuple[int, int, int]] = []
        for _ in range(faces_per_frame * 20):
            if len(placed) == faces_per_frame:
                break
            face_h = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
            side = max(8, round(face_h / FACE_IN_PATCH))
            if side >= min(width, height):
                continue
            x, y = int(rng.integers(0, width - side)), int(rng.integers(0, height - side))
            if any(
                x < px + ps and px < x + side and y < py + ps and py < y + side
                for px, py, ps in placed
            ):
                continue
            src = faces[face_i % len(faces)]
            face_i += 1
            a, b = (round(v * src.shape[0] / 250) for v in LFW_CROP)
            patch = cv2.resize(src[a:b, a:b], (side, side), interpolation=cv2.INTER_AREA)
            alpha = _feather_mask(side)[:, :, None]
            roi = frame[y : y + side, x : x + side]
            frame[y : y + side, x : x + side] = alpha * patch + (1 - alpha) * roi
            placed.append((x, y, side))
            half = side * FACE_IN_PATCH / 2
            cx, cy = x + side / 2, y + side / 2
            boxes.append([cx - half * 0.8, cy - half, cx + half * 0.8, cy + half])
        image = np.clip(frame, 0, 255).astype(np.uint8)
        out.append(BenchFrame(image, np.asarray(boxes, np.float32).reshape(-1, 4)))
    return out


def load_frames(n: int, seed: int = 0) -> list[BenchFrame]:
    """``n`` 1080p frames: vtest.avi frames spread over the clip, LFW faces of random people."""
    cap = cv2.VideoCapture(str(VTEST))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or 700
    backgrounds: list[Image] = []
    for idx in np.linspace(0, total - 1, n, dtype=int):
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(idx))
        ok, img = cap.read()
        if ok:
            backgrounds.append(np.asarray(img, np.uint8))
    cap.release()
    if not backgrounds:
        raise RuntimeError(f"could not read frames from {VTEST}")
    faces: list[Image] = []
    for person in pasted_people(n, seed):
        first = sorted(person.glob("*.jpg"))[0]
        img = cv2.imread(str(first))
        if img is not None:
            faces.append(np.asarray(img, np.uint8))
    return composite_frames(backgrounds, faces, RESOLUTIONS["1080p"], seed=seed)


def pasted_people(n: int, seed: int = 0) -> list[Path]:
    """The LFW people whose first photos :func:`load_frames` pastes into ``n`` frames."""
    rng = np.random.default_rng(seed)
    people = sorted(p for p in LFW.iterdir() if p.is_dir())
    pick = rng.choice(len(people), size=min(len(people), n * 8), replace=False)
    return [people[int(i)] for i in pick]


def baseline_module() -> ModuleType | None:
    """``face_recognition`` if it and its models are installed; else print how to install it."""
    names = ("dlib", "face_recognition_models", "face_recognition")
    if all(importlib.util.find_spec(n) is not None for n in names):
        try:
            import face_recognition
        except (ImportError, SystemExit):  # face_recognition quit()s when its models are missing
            pass
        else:
            return face_recognition
    print(
        "face_recognition baseline not installed; skipping it. Install into this venv with:\n  "
        + "\n  ".join(BASELINE_INSTALL)
        + "\n(face_recognition pins the source build of dlib, hence --no-deps next to dlib-bin.)"
    )
    return None


def _set_threads() -> int:
    """One thread count for every runtime on both sides; returns it."""
    env = os.environ.get("VIGIL_THREADS", "")
    threads = int(env) if env.isdigit() and int(env) > 0 else 1
    os.environ["VIGIL_THREADS"] = str(threads)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    cv2.setNumThreads(threads)
    return threads


class _Clock:
    """Accumulates wall and process-CPU seconds of one contender."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu = 0.0
        self.wall_total = 0.0

    def time(self, fn: Callable[..., Any], *args: Any) -> Any:
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn(*args)
        dt = time.perf_counter() - t0
        self.cpu += time.process_time() - c0
        self.wall_total += dt
        self.wall.append(dt)
        return result

    def cpu_per_wall(self) -> float:
        return round(self.cpu / self.wall_total, 2) if self.wall_total else float("nan")


def _median_of_repeat_means(samples: list[float], repeats: int) -> float:
    """Samples are ``repeats`` equal blocks (one per repeat); median of the blocks' means, in ms."""
    per = len(samples) // repeats
    means = [statistics.fmean(samples[i * per : (i + 1) * per]) for i in range(repeats)]
    return statistics.median(means) * 1000


def _recall(found: Box, truth: Box) -> tuple[int, int]:
    """(faces of ``truth`` with a found box centred inside them, len(truth))."""
    if len(found) == 0 or len(truth) == 0:
        return 0, len(truth)
    cx = (found[:, 0] + found[:, 2]) / 2
    cy = (found[:, 1] + found[:, 3]) / 2
    hit = sum(
        bool(((cx >= t[0]) & (cx <= t[2]) & (cy >= t[1]) & (cy <= t[3])).any()) for t in truth
    )
    return hit, len(truth)


def _css_to_xyxy(locs: list[tuple[int, int, int, int]]) -> Box:
    return np.asarray([[l_, t, r, b] for t, r, b, l_ in locs], np.float32).reshape(-1, 4)


def bench_detectors(
    frames: dict[str, list[BenchFrame]], repeats: int, fr: ModuleType | None
) -> dict[str, object]:
    from vigil.config.settings import CenterFaceDetectorConfig, YuNetDetectorConfig
    from vigil.perception.faces.detectors import make_detector

    all_detectors: dict[str, Callable[[Image], Box]] = {}
    for cfg in (YuNetDetectorConfig(), CenterFaceDetectorConfig()):
        det = make_detector(cfg)
        all_detectors[cfg.backend] = lambda img, det=det: det.detect(img).xyxy
    if fr is not None:
        for name, up in (("baseline_hog", 1), ("baseline_hog_up0", 0)):
            all_detectors[name] = lambda img, up=up: _css_to_xyxy(
                fr.face_locations(img[:, :, ::-1], number_of_times_to_upsample=up, model="hog")
            )
    out: dict[str, object] = {}
    for res, fs in frames.items():
        # The default-settings HOG at 1080p (~2.5 s a frame) is timed once, inside the baseline
        # side of bench_pipeline, rather than twice.
        skip = {"baseline_hog"} if res == "1080p" else set()
        detectors = {k: v for k, v in all_detectors.items() if k not in skip}
        for fn in detectors.values():
            fn(fs[0].image)  # warm-up: session allocation, first-call paths
        clocks = {name: _Clock() for name in detectors}
        hits = dict.fromkeys(detectors, 0)
        total = 0
        for r in range(repeats):
            for i, frame in enumerate(fs):
                order = list(detectors) if (r + i) % 2 == 0 else list(reversed(detectors))
                for name in order:
                    found = clocks[name].time(detectors[name], frame.image)
                    if r == 0:
                        hits[name] += _recall(found, frame.faces)[0]
                if r == 0:
                    total += len(frame.faces)
        for name, clock in clocks.items():
            out[f"{name}_{res}_ms"] = round(_median_of_repeat_means(clock.wall, repeats), 1)
            out[f"{name}_{res}_recall"] = round(hits[name] / max(total, 1), 3)
        out[f"faces_composited_{res}"] = total
    return out


def _aligned_faces(frames: list[BenchFrame], n: int) -> tuple[Image, list[tuple[Image, Box]]]:
    """``n`` aligned 112 × 112 crops of YuNet's faces, and (frame, landmarks) pairs for dlib."""
    from vigil.config.settings import YuNetDetectorConfig
    from vigil.perception.faces.align import align_faces
    from vigil.perception.faces.detectors import make_detector

    det = make_detector(YuNetDetectorConfig())
    crops: list[Image] = []
    per_frame: list[tuple[Image, Box]] = []
    for frame in frames:
        d = det.detect(frame.image)
        if d.landmarks is None or len(d) == 0:
            continue
        crops.extend(align_faces(frame.image, d.landmarks))
        per_frame.append((frame.image, d.xyxy))
    if not crops:
        raise RuntimeError("YuNet found no faces in the benchmark frames")
    batch = np.stack([crops[i % len(crops)] for i in range(n)])
    return batch, per_frame


def bench_embedders(
    frames: list[BenchFrame], repeats: int, fr: ModuleType | None
) -> dict[str, object]:
    from vigil.perception.faces.embedders import make_embedder

    n = 32
    faces, per_frame = _aligned_faces(frames, n)
    runners: dict[str, Callable[[], Any]] = {}
    for name in ("fr_feature", "mobilefacenet", "sface"):
        for bs in (1, 32):
            emb = make_embedder(name, batch_size=bs)
            runners[f"{name}_b{bs}"] = lambda emb=emb: emb.embed(faces)
    dlib_faces = 0
    if fr is not None:
        import dlib

        # face_recognition's own models, called the way face_encodings() calls them, on dlib's
        # own 5-point shapes of the same faces (the shape fit itself is not timed).
        encoder = fr.api.face_encoder
        shapes = [
            (img[:, :, ::-1].copy(), fr.api.pose_predictor_5_point(img[:, :, ::-1].copy(), rect))
            for img, boxes in per_frame
            for rect in (dlib.rectangle(*map(int, b)) for b in boxes)
        ]
        shapes = [shapes[i % len(shapes)] for i in range(n)]
        dlib_faces = len(shapes)
        runners["baseline_dlib"] = lambda: [
            encoder.compute_face_descriptor(img, shape, 1) for img, shape in shapes
        ]
    for fn in runners.values():
        fn()
    clocks = {name: _Clock() for name in runners}
    for r in range(repeats):
        order = list(runners) if r % 2 == 0 else list(reversed(runners))
        for name in order:
            clocks[name].time(runners[name])
    out: dict[str, object] = {"embed_faces_per_call": n}
    for name, clock in clocks.items():
        per_face = statistics.median(clock.wall) * 1000 / (dlib_faces if "dlib" in name else n)
        out[f"{name}_ms_per_face"] = round(per_face, 2)
    return out


def bench_config() -> Any:
    """The default ``FacesConfig``, or the embedder named by ``$VIGIL_BENCH_EMBEDDER``.

    That variable measures another embedder than the default fusion, to see what the accuracy of
    the fusion costs in throughput: a name (`sface`) or, in `vigil eval --model`'s syntax, a
    weighted fusion (`sface=2,mobilefacenet=1`). ``VIGIL_BENCH_CASCADE=0`` turns the cascade off.
    """
    from vigil.config.settings import FacesConfig
    from vigil.eval.faces import ModelChoice

    spec = os.environ.get("VIGIL_BENCH_EMBEDDER")
    doc: dict[str, object] = {}
    if spec:
        choice = ModelChoice.parse(spec)
        doc["embedder"] = (
            {"backend": choice.members[0]}
            if len(choice.members) == 1
            else {
                "backend": "fusion",
                "fusion_members": list(choice.members),
                "fusion_weights": list(choice.weights),
            }
        )
    if os.environ.get("VIGIL_BENCH_CASCADE") == "0":
        doc["cascade"] = {"enabled": False}
    return FacesConfig.model_validate(doc)


def bench_pipeline(
    frames: list[BenchFrame], repeats: int, fr: ModuleType | None
) -> dict[str, object]:
    from bench.faces_gallery import WatchlistSearch
    from vigil.core import FrameRef
    from vigil.perception.faces.pipeline import FacePipeline

    config = bench_config()
    pipeline = FacePipeline.from_config(config)
    h, w = frames[0].image.shape[:2]
    refs = [FrameRef("bench", datetime.now(UTC), i, w, h) for i in range(len(frames))]
    rgb = [np.ascontiguousarray(f.image[:, :, ::-1]) for f in frames]
    search = WatchlistSearch.build(pipeline, config, exclude=pasted_people(len(frames)))

    def vigil_side(i: int) -> int:
        return search.frame(frames[i].image, refs[i], cascade=search.cascade_on)

    def full_fusion_side(i: int) -> int:
        return search.frame(frames[i].image, refs[i], cascade=False)

    hog_clock = _Clock()
    hog_hits = [0] * len(frames)

    def baseline_side(i: int) -> int:
        assert fr is not None
        locs = hog_clock.time(fr.face_locations, rgb[i])
        hog_hits[i] = _recall(_css_to_xyxy(locs), frames[i].faces)[0]
        return len(fr.face_encodings(rgb[i], known_face_locations=locs))

    sides: dict[str, Callable[[int], int]] = {"pipeline": vigil_side}
    if search.cascade_on:  # the same pipeline without the cascade, same run, same frames
        sides["full_fusion"] = full_fusion_side
    if fr is not None:
        sides["baseline"] = baseline_side
    for fn in sides.values():
        fn(0)
    hog_clock.wall.clear()
    clocks = {name: _Clock() for name in sides}
    embedded = dict.fromkeys(sides, 0)
    for r in range(repeats):
        for i in range(len(frames)):
            order = list(sides) if (r + i) % 2 == 0 else list(reversed(sides))
            for name in order:
                count = clocks[name].time(sides[name], i)
                if r == 0:
                    embedded[name] += count
    out: dict[str, object] = {"pipeline_embedder": pipeline.embedder.name}
    out["pipeline_detector"] = pipeline.detector.name
    out.update(search.summary())
    per = len(frames)
    for name, clock in clocks.items():
        ms = _median_of_repeat_means(clock.wall, repeats)
        out[f"{name}_1080p_ms"] = round(ms, 1)
        out[f"{name}_1080p_fps"] = round(1000 / ms, 2)
        out[f"{name}_faces_embedded_per_frame"] = round(embedded[name] / per, 2)
        out[f"{name}_cpu_per_wall"] = clock.cpu_per_wall()
    if fr is not None:
        ratios = [
            sum(clocks["baseline"].wall[r * per : (r + 1) * per])
            / sum(clocks["pipeline"].wall[r * per : (r + 1) * per])
            for r in range(repeats)
        ]
        out["baseline_hog_1080p_ms"] = round(_median_of_repeat_means(hog_clock.wall, repeats), 1)
        out["baseline_hog_1080p_recall"] = round(
            sum(hog_hits) / max(1, sum(len(f.faces) for f in frames)), 3
        )
        out["pipeline_over_baseline_ratio"] = round(statistics.median(ratios), 2)
        out["pipeline_over_baseline_ratio_min"] = round(min(ratios), 2)
        out["pipeline_over_baseline_target"] = 3.0
    if "full_fusion" in clocks:
        full = [
            sum(clocks["full_fusion"].wall[r * per : (r + 1) * per])
            / sum(clocks["pipeline"].wall[r * per : (r + 1) * per])
            for r in range(repeats)
        ]
        out["cascade_over_full_fusion_ratio"] = round(statistics.median(full), 2)
    return out


def run(quick: bool) -> dict[str, object]:
    """Benchmark entry point (see module docstring); ``quick`` uses fewer frames and repeats."""
    if not (VTEST.exists() and LFW.exists()):
        msg = f"needs {VTEST} and {LFW} (../shared/data is not present on this machine)"
        print(f"bench_faces skipped: {msg}")
        return {"skipped": msg}
    threads = _set_threads()
    fr = baseline_module()
    n_frames, repeats = (2, 3) if quick else (6, 5)
    frames_1080 = load_frames(n_frames)
    frames = {"720p": [f.resized(*RESOLUTIONS["720p"]) for f in frames_1080], "1080p": frames_1080}
    out: dict[str, object] = {
        "threads_vigil": threads,
        "threads_baseline": 1 if fr is not None else "not run",
        "frames": n_frames,
        "repeats": repeats,
        "baseline": "face_recognition 1.3.0 (dlib HOG + dlib ResNet 128-d), defaults"
        if fr is not None
        else "not installed: " + " && ".join(BASELINE_INSTALL),
    }
    out.update(bench_detectors(frames, repeats, fr))
    out.update(bench_embedders(frames_1080, repeats, fr))
    out.update(bench_pipeline(frames_1080, repeats, fr))
    out["accuracy"] = (
        "not measured here: the default pipeline's LFW pairs_shared.tsv accuracy comes from "
        "`vigil eval verification` (docs/evaluation.md); face_recognition's dlib model: 98.71% "
        "on the same pairs in ../shared/MODELS.md (99.38% published)"
    )
    return out
