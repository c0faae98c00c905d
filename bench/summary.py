"""The headline table: the figures issue 10 asks for, each beside its same-run baseline.

Every benchmark module writes its own flat metrics; this module picks the few that a reader
comparing Vigil with the usual tools wants first and lays them out as *metric, Vigil, baseline,
ratio*, where the ratio is computed here from the two numbers of the same run (so it can be
checked by hand). A metric whose benchmark did not run, or was skipped for missing data or a
missing baseline, is listed with the reason instead of being left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Results = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Row:
    """One headline: where its value and its baseline live, and how to read the ratio."""

    metric: str
    bench: str
    value: str | Callable[[dict[str, Any]], float | None]
    baseline: str | Callable[[dict[str, Any]], float | None] | None = None
    baseline_name: str = ""
    ratio: str = "baseline / Vigil"  # or "Vigil / baseline"
    unit: str = ""


def _sum(*keys: str) -> Callable[[dict[str, Any]], float | None]:
    def get(m: dict[str, Any]) -> float | None:
        vals = [m.get(k) for k in keys]
        return float(sum(vals)) if all(isinstance(v, int | float) for v in vals) else None

    return get


def _per_s(key: str, per: str) -> Callable[[dict[str, Any]], float | None]:
    def get(m: dict[str, Any]) -> float | None:
        fps, n = m.get(key), m.get(per)
        ok = isinstance(fps, int | float) and isinstance(n, int | float)
        return float(fps * n) if ok else None

    return get


def _frames_per_core_s(m: dict[str, Any]) -> float | None:
    cpu = m.get("pipeline_cpu_ms_per_frame")
    return 1000.0 / cpu if isinstance(cpu, int | float) and cpu > 0 else None


ROWS: tuple[Row, ...] = (
    Row("decode, per analysed frame (768×576)", "bench_objects", "pipeline_decode_ms", unit="ms"),
    Row(
        "detect faces, 1080p frame",
        "bench_faces",
        "yunet_1080p_ms",
        "baseline_hog_1080p_ms",
        "face_recognition HOG (upsample 1)",
        unit="ms",
    ),
    Row(
        "embed one face (fused default)",
        "bench_faces",
        _sum(
            "sface_b32_ms_per_face", "fr_feature_b32_ms_per_face", "mobilefacenet_b32_ms_per_face"
        ),
        "baseline_dlib_ms_per_face",
        "dlib ResNet (face_recognition)",
        unit="ms",
    ),
    Row(
        "detect persons, MOT17 frame",
        "bench_objects",
        "det_nanodet_ms_per_frame",
        "det_hog_ms_per_frame",
        "OpenCV HOG people detector",
        unit="ms",
    ),
    Row(
        "person detection recall, MOT17-mini",
        "bench_objects",
        "det_nanodet_tiled_recall",
        "det_hog_recall",
        "OpenCV HOG people detector",
        ratio="Vigil / baseline",
    ),
    Row(
        "people step of `vigil run` (track, count, crowd), ms per frame",
        "bench_objects",
        "pipeline_track_ms",
        unit="ms",
    ),
    Row(
        "faces embedded per second, 1080p (default: cascade, 1:1,000 search)",
        "bench_faces",
        _per_s("pipeline_1080p_fps", "pipeline_faces_embedded_per_frame"),
        _per_s("baseline_1080p_fps", "baseline_faces_embedded_per_frame"),
        "face_recognition pipeline",
        ratio="Vigil / baseline",
        unit="faces/s",
    ),
    Row(
        "faces per second, 1080p: cascade vs the full fusion",
        "bench_faces",
        _per_s("pipeline_1080p_fps", "pipeline_faces_embedded_per_frame"),
        _per_s("full_fusion_1080p_fps", "full_fusion_faces_embedded_per_frame"),
        "full fusion, same pipeline",
        ratio="Vigil / baseline",
        unit="faces/s",
    ),
    Row(
        "analysed frames per CPU-second (persons + faces + tracking, 768×576)",
        "bench_objects",
        _frames_per_core_s,
        unit="frames/s/core",
    ),
    Row(
        "key-frame decode CPU / full decode CPU (25 fps, 1 s GOP)",
        "bench_ingest",
        "keyframe_distinct_keyframes_cpu_s_median",
        "keyframe_distinct_full_cpu_s_median",
        "full decoding",
        ratio="Vigil / baseline",
        unit="CPU s",
    ),
    Row(
        "watchlist match, 1,000 templates",
        "bench_match",
        "gallery_1k_median_ms",
        "numpy_exact_1k_median_ms",
        "exact numpy search",
        unit="ms",
    ),
    Row(
        "watchlist match, 100,000 templates",
        "bench_match",
        "gallery_median_ms",
        "numpy_exact_median_ms",
        "exact numpy search",
        unit="ms",
    ),
    Row(
        "archive search (see archive_vectors)",
        "bench_storage",
        "archive_search_ms_per_query",
        "exact_numpy_ms_per_query",
        "exact numpy search",
        unit="ms",
    ),
    *(
        Row(
            f"plate search, {what} (target ≤ 200)",
            "bench_plates",
            f"{engine}_{case}_ms",
            f"{engine}_{case}_full_scan_ms",
            "full scan, same SQL",
            unit="ms",
        )
        for engine in ("sqlite", "postgresql")
        for case, what in (("exact", f"exact, {engine}"), ("wildcard_inner", f"AB?12*, {engine}"))
    ),
    Row(
        "read one plate row (vigil-plate-ocr, PP-OCRv4 fine-tuned on plates)",
        "bench_plate_rec",
        "vigil_plate_ocr_ms_per_crop",
        "baseline_ppocr_v4_rec_ms_per_crop",
        "PP-OCRv4 recogniser (stretch 1.3)",
        unit="ms",
    ),
    Row(
        "read one plate row (vigil-plate-rec, the CRNN)",
        "bench_plate_rec",
        "vigil_plate_rec_ms_per_crop",
        "baseline_ppocr_v4_rec_ms_per_crop",
        "PP-OCRv4 recogniser (stretch 1.3)",
        unit="ms",
    ),
    Row("plate reads searched", "bench_plates", "reads", unit="reads"),
    Row("archive recall@10 vs exact", "bench_storage", "archive_recall_at_10"),
    Row("archive size searched", "bench_storage", "archive_vectors", unit="vectors"),
    Row("alert → WebSocket p50", "bench_api", "ws_alert_p50_ms", unit="ms"),
    Row("alert → WebSocket p95 (target ≤ 200)", "bench_api", "ws_alert_p95_ms", unit="ms"),
    Row(
        "API mixed reads achieved at 200 req/s paced (errors in JSON)",
        "bench_api",
        "reads_achieved_rps",
        unit="req/s",
    ),
    Row(
        "API capacity, mixed authenticated reads",
        "bench_api",
        "capacity_achieved_rps",
        "health_capacity_achieved_rps",
        "unauthenticated /health",
        ratio="Vigil / baseline",
        unit="req/s",
    ),
    Row(
        "live tile, CPU per viewer per camera over HTTP (2 fps, 640 px)",
        "bench_live",
        "http_cpu_ms_per_s_per_viewer",
        "analysis_cpu_ms_per_s_at_2fps",
        "analysis of the same camera",
        ratio="Vigil / baseline",
        unit="CPU ms/s",
    ),
    Row(
        "live tiles, 8 viewers: shared encoder vs one per viewer",
        "bench_live",
        "shared_8_viewers_cpu_ms_per_frame",
        "per_viewer_encoders_8_cpu_ms_per_frame",
        "an encoder per viewer",
        ratio="Vigil / baseline",
        unit="CPU ms/frame",
    ),
    Row("memory per idle camera worker", "bench_ingest", "idle_rss_per_worker_mb", unit="MB"),
    Row("memory per camera in the soak", "bench_ingest", "soak_rss_mb_per_camera", unit="MB"),
    Row(
        "recording: remux CPU / decode CPU (soak, same cameras)",
        "bench_recording",
        "soak_remux_cpu_s",
        "soak_decode_cpu_s",
        "key-frame decoding for analysis",
        ratio="Vigil / baseline",
        unit="CPU s",
    ),
    Row("recording: gaps between segments (index)", "bench_recording", "soak_gaps"),
)


def _get(m: dict[str, Any], src: str | Callable[[dict[str, Any]], float | None] | None) -> Any:
    if src is None:
        return None
    return src(m) if callable(src) else m.get(src)


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return "—" if v is None else str(v)
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"


def headline(results: Results) -> list[dict[str, Any]]:
    """The rows of the table as dicts (also stored in the run's JSON)."""
    out = []
    for row in ROWS:
        m = results.get(row.bench)
        entry: dict[str, Any] = {"metric": row.metric, "bench": row.bench, "unit": row.unit}
        if m is None or "error" in m or "skipped" in m:
            why = "not run" if m is None else m.get("skipped") or m.get("error")
            entry.update(value=None, note=str(why)[:120])
            out.append(entry)
            continue
        value, base = _get(m, row.value), _get(m, row.baseline)
        entry.update(value=value, baseline=base, baseline_name=row.baseline_name)
        if isinstance(value, int | float) and isinstance(base, int | float) and value and base:
            entry["ratio"] = base / value if row.ratio == "baseline / Vigil" else value / base
            entry["ratio_is"] = row.ratio
        out.append(entry)
    return out


def markdown(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| metric | Vigil | baseline (same run) | ratio | unit |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        if r.get("note"):
            lines.append(f"| {r['metric']} | {r['note']} | | | |")
            continue
        base = f"{_fmt(r.get('baseline'))} ({r['baseline_name']})" if r.get("baseline_name") else ""
        ratio = f"{r['ratio']:.3g} ({r['ratio_is']})" if "ratio" in r else ""
        lines.append(f"| {r['metric']} | {_fmt(r['value'])} | {base} | {ratio} | {r['unit']} |")
    return lines


if __name__ == "__main__":  # python -m bench.summary reports/bench/<run>.json
    import json
    import sys
    from pathlib import Path

    run = json.loads(Path(sys.argv[1]).read_text())
    print("\n".join(markdown(headline(run["benchmarks"]))))
