"""1:N watchlist matching: one probe against a 100,000-template watchlist.

Compares the deployment gallery (:class:`vigil.identification.gallery.Gallery`; above its exact
limit a 4-bit PQ fast-scan over every template with exact re-scoring of the shortlist) with exact
numpy search (one matrix-vector product and an argmax) in the same run, on synthetic
L2-normalised 512-d templates (random templates are the hard case for approximate search: no
cluster structure to exploit). Probes are *mated* (an enrolled template plus
noise, cosine ~0.7 to it, like a second photo of the person) and *non-mated* (random). Reports
median and p95 latency of one search, their ratio, and the gallery's recall of the exact top-1
subject on mated and non-mated probes (the approximate index may only lose candidates, never
misreport a score), and for non-mated probes how far the gallery's best score falls below the
exact best (a lower score can only suppress an alert, never raise one). Also the exhaustive FAISS
flat index for reference.
"""

from __future__ import annotations

import time

import numpy as np

DIM = 512


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def _mated(
    rng: np.random.Generator, gallery: np.ndarray, n: int, cosine: float = 0.7
) -> tuple[np.ndarray, np.ndarray]:
    idx = rng.choice(len(gallery), n, replace=False)
    noise = _unit(rng, n)
    p = cosine * gallery[idx] + np.sqrt(1 - cosine**2) * noise
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    return p.astype(np.float32), idx


def _time(fn, probes: np.ndarray) -> tuple[float, float, list[int]]:  # type: ignore[no-untyped-def]
    out, ts = [], []
    for q in probes:
        t0 = time.perf_counter()
        out.append(fn(q))
        ts.append(time.perf_counter() - t0)
    ms = np.array(ts[5:] if len(ts) > 10 else ts) * 1e3
    return float(np.median(ms)), float(np.percentile(ms, 95)), out


def small(n_probes: int) -> dict[str, object]:
    """A 1,000-template watchlist (the size the default threshold is calibrated for): exact."""
    from vigil.identification.gallery import Gallery, GalleryEntry

    rng = np.random.default_rng(1)
    vecs = _unit(rng, 1000)
    gallery = Gallery([GalleryEntry(str(i), str(i), "w") for i in range(1000)], vecs)
    probes, _ = _mated(rng, vecs, n_probes)
    g_med, g_p95, _ = _time(lambda q: gallery.search(q).best, probes)
    np_med, np_p95, _ = _time(lambda q: int(np.argmax(vecs @ q)), probes)
    return {
        "gallery_1k_median_ms": round(g_med, 3),
        "gallery_1k_p95_ms": round(g_p95, 3),
        "numpy_exact_1k_median_ms": round(np_med, 3),
        "numpy_exact_1k_p95_ms": round(np_p95, 3),
        "numpy_1k_over_gallery_ratio": round(np_med / g_med, 2),
    }


def run(quick: bool) -> dict[str, object]:
    from vigil.identification.gallery import Gallery, GalleryEntry

    n = 100_000
    n_probes = 100 if quick else 500
    rng = np.random.default_rng(0)
    vecs = _unit(rng, n)
    entries = [GalleryEntry(str(i), str(i), "w") for i in range(n)]
    t0 = time.perf_counter()
    gallery = Gallery(entries, vecs)  # n > exact_limit: compressed scan + exact re-score
    build_s = time.perf_counter() - t0
    flat = Gallery(entries, vecs, exact_limit=n)
    mated, truth = _mated(rng, vecs, n_probes)
    nonmated = _unit(rng, n_probes)

    def exact(q: np.ndarray) -> int:
        return int(np.argmax(vecs @ q))

    approx_scores: list[float] = []

    def approx(q: np.ndarray) -> int:
        best = gallery.search(q).best
        approx_scores.append(-1.0 if best is None else best.score)
        return -1 if best is None else int(best.entry.subject_id)

    def flat_search(q: np.ndarray) -> int:
        best = flat.search(q).best
        return -1 if best is None else int(best.entry.subject_id)

    np_med, np_p95, np_top = _time(exact, np.vstack([mated, nonmated]))
    g_med, g_p95, g_top = _time(approx, np.vstack([mated, nonmated]))
    f_med, f_p95, _ = _time(flat_search, mated[:50])
    k = n_probes
    # Mates at cosine ~0.5: below the default threshold (0.54), the hardest case still worth
    # finding (a lower threshold, or a poor photo), to show the shortlist does not lose them.
    weak, weak_truth = _mated(rng, vecs, n_probes, cosine=0.5)
    weak_found = [approx(q) for q in weak]
    del approx_scores[2 * k :]
    exact_best = (vecs @ nonmated.T).max(axis=0)
    shortfall = exact_best - np.array(approx_scores[k:])
    return {
        "templates": n,
        "dim": DIM,
        "probes": 2 * k,
        "index": "faiss PQ64x4 fast-scan + exact re-score (rerank 8) via Gallery",
        "index_build_s": round(build_s, 2),
        "gallery_median_ms": round(g_med, 3),
        "gallery_p95_ms": round(g_p95, 3),
        "numpy_exact_median_ms": round(np_med, 3),
        "numpy_exact_p95_ms": round(np_p95, 3),
        "numpy_over_gallery_ratio": round(np_med / g_med, 1),
        "faiss_flat_median_ms": round(f_med, 3),
        "faiss_flat_p95_ms": round(f_p95, 3),
        "mated_recall_at_1": float(np.mean(np.array(g_top[:k]) == truth)),
        "exact_mated_recall_at_1": float(np.mean(np.array(np_top[:k]) == truth)),
        "weak_mated_recall_at_1_cos050": float(np.mean(np.array(weak_found) == weak_truth)),
        "nonmated_top1_agreement": float(np.mean(np.array(g_top[k:]) == np.array(np_top[k:]))),
        "nonmated_best_score_shortfall_max": round(float(shortfall.max()), 4),
        "nonmated_exact_best_score_max": round(float(exact_best.max()), 4),
        "target_ms": 2.0,
        # The median is the latency a probe sees; the p95 on this shared 2-core machine mostly
        # measures the other processes (load1 is reported beside it).
        "meets_target_median": bool(g_med <= 2.0),
        "meets_target_p95": bool(g_p95 <= 2.0),
        "load1_at_end": round(__import__("os").getloadavg()[0], 2),
        **small(n_probes),
    }
