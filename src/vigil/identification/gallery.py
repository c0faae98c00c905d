"""The in-memory 1:N index of one deployment's watchlist templates (FAISS, inner product).

Templates are L2-normalised, so inner product is cosine similarity. Up to ``exact_limit``
templates the index is exhaustive (``IndexFlatIP``: no missed candidate, about 1.4 ms for 10,000
512-d templates on one core). Above it the gallery scans *compressed* codes of every template and
re-scores the best of them exactly:

* ``IndexPQFastScan`` holds each template as 4-bit product-quantiser codes (one code per 8
  dimensions: 32 bytes for a 512-d template) and scans all of them with SIMD lookup tables;
* ``IndexRefineFlat`` re-scores the ``fetch × rerank`` best of that scan with the full float
  vectors, so a reported score is always the exact inner product, never an approximation.

Why not a graph index (HNSW), the usual choice: we measured it (``bench/bench_match.py``, 100,000
templates) and the graph walk missed 8% of *mated* probes at efSearch 128 — a person on the
watchlist not found because the walk took a wrong turn. A compressed scan visits every template,
so a mate can only be lost if quantisation error pushes it out of the re-scored shortlist; at
a cosine of ~0.7 against non-mates near 0.2 that did not happen in the benchmark, and it was
faster than the graph (0.2–0.4 ms against 8 ms on the loaded 2-core machine). The trade-off: the
shortlist is ordered by approximate scores, so among *non-mated* candidates (all far below the
threshold) the exact runner-up may be missed and the reported rank-2 margin can then be larger
than the true one; for a probe above the threshold this needs two near-equal top subjects with
quantisation errors larger than their gap. ``rerank`` widens the shortlist at a linear cost.

A search returns the best template per *subject* (several photos of one person are one
candidate), the best two subjects, and the rank-2 margin between them: a small margin means the
probe is about as close to someone else, which the alert shows to the people verifying it.

The index holds biometric data only in memory; it is built per deployment from the pinned
watchlist versions and dropped when the deployment stops.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.errors import ValidationError

log = logging.getLogger(__name__)

Float32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class GalleryEntry:
    """Who a template belongs to (no vector: that lives in the index)."""

    template_id: str
    subject_id: str
    watchlist_id: str
    image_key: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    entry: GalleryEntry
    score: float


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Best candidate per subject, best first (at most ``k`` subjects)."""

    candidates: tuple[Candidate, ...]

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    @property
    def rank2_margin(self) -> float | None:
        """Top score minus the second subject's score (``None`` with one subject)."""
        if len(self.candidates) < 2:
            return None
        return self.candidates[0].score - self.candidates[1].score


class Gallery:
    """A FAISS inner-product index over templates, searched per subject.

    Args:
        entries: one per template row of ``vectors``.
        vectors: ``(N, D)`` float32, L2-normalised.
        exact_limit: up to this many templates the search is exhaustive.
        rerank: above ``exact_limit``, how many times ``fetch`` candidates of the compressed
            scan are re-scored exactly (wider = fewer missed runners-up, linearly slower).
        threads: OpenMP threads for one search. One probe is too little work to split: on the
            shared 2-core machine two threads made the p95 latency 20-30 times worse (spinning
            workers waiting for a busy core), so parallelism comes from cameras, not from one
            search. OpenMP keeps this setting per calling thread; it is restored afterwards.
    """

    def __init__(
        self,
        entries: Sequence[GalleryEntry],
        vectors: npt.ArrayLike,
        *,
        exact_limit: int = 10_000,
        rerank: int = 8,
        threads: int = 1,
    ) -> None:
        import faiss

        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        if vecs.ndim != 2 or len(vecs) != len(entries):
            raise ValidationError(f"gallery needs ({len(entries)}, D) vectors, got {vecs.shape}")
        if len(vecs):
            norms = np.linalg.norm(vecs, axis=1)
            if not np.allclose(norms, 1.0, atol=1e-3):
                raise ValidationError("gallery vectors must be L2-normalised")
        if rerank < 1 or threads < 1:
            raise ValidationError(f"rerank and threads must be >= 1, got {rerank}, {threads}")
        self.threads = threads
        self.entries = list(entries)
        self.dim = int(vecs.shape[1])
        self.subjects = len({e.subject_id for e in self.entries})
        self.index: faiss.Index
        self.exact = len(vecs) <= exact_limit
        if self.exact:
            self.index = faiss.IndexFlatIP(self.dim)
            self._padded = self.dim
        else:
            self.index, self._padded = _compressed_index(vecs, rerank)
        if len(vecs):
            self.index.add(self._pad(vecs))
        log.info(
            "gallery: %d templates, %d subjects, exact=%s", len(vecs), self.subjects, self.exact
        )

    def _pad(self, vecs: Float32) -> Float32:
        """Zero-pad to the index width (zeros change no inner product)."""
        if vecs.shape[1] == self._padded:
            return vecs
        out = np.zeros((len(vecs), self._padded), np.float32)
        out[:, : vecs.shape[1]] = vecs
        return out

    def __len__(self) -> int:
        return len(self.entries)

    def vectors(self) -> Float32:
        """The stored templates, ``(N, D)`` (exact ones, also behind a compressed index)."""
        import faiss

        if not self.entries:
            return np.zeros((0, self.dim), np.float32)
        refined: Any = self.index
        flat = refined if self.exact else faiss.downcast_index(refined.refine_index)
        out: Float32 = np.asarray(flat.reconstruct_n(0, len(self.entries)), np.float32)
        return out[:, : self.dim]

    def search(self, probe: npt.ArrayLike, k: int = 2, fetch: int = 32) -> SearchResult:
        """The best ``k`` subjects for one L2-normalised probe (``fetch`` templates examined)."""
        q = np.ascontiguousarray(probe, dtype=np.float32).reshape(1, -1)
        if q.shape[1] != self.dim:
            raise ValidationError(f"probe has dim {q.shape[1]}, gallery {self.dim}")
        if not self.entries:
            return SearchResult(())
        import faiss

        before = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(self.threads)
        try:
            scores, ids = self.index.search(self._pad(q), min(fetch, len(self.entries)))
        finally:
            faiss.omp_set_num_threads(before)
        best: dict[str, Candidate] = {}
        for score, idx in zip(scores[0], ids[0], strict=True):
            if idx < 0:
                continue
            entry = self.entries[int(idx)]
            if entry.subject_id not in best or score > best[entry.subject_id].score:
                best[entry.subject_id] = Candidate(entry, float(score))
        ranked = sorted(best.values(), key=lambda c: -c.score)[:k]
        return SearchResult(tuple(ranked))


# Product-quantiser training sample: enough for 16 centroids per sub-space many times over, and
# bounded so that starting a deployment over a very large watchlist stays a matter of seconds.
_TRAIN_MAX = 65_536


def _compressed_index(vecs: Float32, rerank: int) -> tuple[Any, int]:
    """A 4-bit PQ fast-scan index with exact re-scoring, and the (padded) width it expects.

    The width is padded to a multiple of 16 so that each sub-quantiser covers 8 dimensions and
    their number is even (fast-scan packs two 4-bit codes per byte). Training uses a fixed-seed
    sample, so the same watchlist version always gives the same index.
    """
    import faiss

    dim = int(vecs.shape[1])
    padded = -(-dim // 16) * 16
    pq = faiss.IndexPQFastScan(padded, padded // 8, 4, faiss.METRIC_INNER_PRODUCT)
    sample = vecs
    if len(vecs) > _TRAIN_MAX:
        pick = np.random.default_rng(0).choice(len(vecs), _TRAIN_MAX, replace=False)
        sample = vecs[np.sort(pick)]
    train = np.zeros((len(sample), padded), np.float32)
    train[:, :dim] = sample
    pq.train(train)
    index = faiss.IndexRefineFlat(pq)
    index.k_factor = float(rerank)
    return index, padded
