"""The in-memory 1:N index of one deployment's watchlist templates (FAISS, inner product).

Templates are L2-normalised, so inner product is cosine similarity. Up to ``exact_limit``
templates the index is exhaustive (``IndexFlatIP``: no missed candidate, well under a millisecond
for the watchlist sizes a calibrated threshold allows). Above it an ``IndexHNSWFlat`` graph answers
in a fraction of a millisecond at 100,000 templates; its scores are exact inner products of the
candidates it visits, so a reported score is never approximate, only the candidate set is (the
benchmark reports its recall against exhaustive search). ``ef_search`` trades recall for time.

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
        hnsw_m, ef_search: graph degree and search breadth above ``exact_limit``.
    """

    def __init__(
        self,
        entries: Sequence[GalleryEntry],
        vectors: npt.ArrayLike,
        *,
        exact_limit: int = 20_000,
        hnsw_m: int = 32,
        ef_search: int = 128,
    ) -> None:
        import faiss

        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        if vecs.ndim != 2 or len(vecs) != len(entries):
            raise ValidationError(f"gallery needs ({len(entries)}, D) vectors, got {vecs.shape}")
        if len(vecs):
            norms = np.linalg.norm(vecs, axis=1)
            if not np.allclose(norms, 1.0, atol=1e-3):
                raise ValidationError("gallery vectors must be L2-normalised")
        self.entries = list(entries)
        self.dim = int(vecs.shape[1]) if vecs.ndim == 2 else 0
        self.subjects = len({e.subject_id for e in self.entries})
        self.index: faiss.Index
        if len(vecs) <= exact_limit:
            self.index = faiss.IndexFlatIP(self.dim)
            self.exact = True
        else:
            hnsw = faiss.IndexHNSWFlat(self.dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
            hnsw.hnsw.efConstruction = 80
            hnsw.hnsw.efSearch = ef_search
            self.index = hnsw
            self.exact = False
        if len(vecs):
            self.index.add(vecs)
        log.info(
            "gallery: %d templates, %d subjects, exact=%s", len(vecs), self.subjects, self.exact
        )

    def __len__(self) -> int:
        return len(self.entries)

    def search(self, probe: npt.ArrayLike, k: int = 2, fetch: int = 32) -> SearchResult:
        """The best ``k`` subjects for one L2-normalised probe (``fetch`` templates examined)."""
        q = np.ascontiguousarray(probe, dtype=np.float32).reshape(1, -1)
        if q.shape[1] != self.dim:
            raise ValidationError(f"probe has dim {q.shape[1]}, gallery {self.dim}")
        if not self.entries:
            return SearchResult(())
        scores, ids = self.index.search(q, min(fetch, len(self.entries)))
        best: dict[str, Candidate] = {}
        for score, idx in zip(scores[0], ids[0], strict=True):
            if idx < 0:
                continue
            entry = self.entries[int(idx)]
            if entry.subject_id not in best or score > best[entry.subject_id].score:
                best[entry.subject_id] = Candidate(entry, float(score))
        ranked = sorted(best.values(), key=lambda c: -c.score)[:k]
        return SearchResult(tuple(ranked))
