"""The face cascade: embed with the cheap fusion member first, complete the fusion only if needed.

The default embedder is a score-level fusion (SFace ×2 + fr_feature + MobileFaceNet) whose fused
vector is the members' templates, each scaled by ``sqrt(w_i)``, concatenated. Most of its cost is
in the members other than SFace, and most faces a city camera sees belong to nobody on a
watchlist: their scores are far below the threshold whatever model computes them. So:

1. every face is embedded with the cheap member only (:meth:`CascadeEmbedder.embed_cheap`);
2. a probe (a track's best shot) is scored against the gallery's cheap part (the cheap member's
   slice of each fused template, renormalised);
3. only a probe whose best cheap score reaches the band's lower edge for the threshold in force
   is embedded by the other members (:meth:`CascadeEmbedder.complete`, reusing the cheap template)
   and matched with the fused template, exactly as without the cascade.

The band is **measured, not assumed** (:func:`fit_band`): over every pair of distinct images of a
labelled set (LFW, by ``vigil calibrate``) whose fused score is at least ``t``, the lowest cheap
score is ``lower(t)``. A probe whose best cheap score is below ``lower(t) - margin`` had, on that
data, no comparison that would have passed the fused threshold ``t``. The curve is stored with the
calibration (``cascade`` in its JSON), so it always belongs to the model it was measured on.

Trade-off: a lower edge is only as good as the data behind it; a pair harder than any in the
calibration set could be cut by the cascade. ``margin`` widens the band (more probes fused, less
speed) against that; ``vigil eval identification --cascade`` measures the accuracy lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.errors import ConfigError, ModelError, ValidationError
from vigil.perception.faces.embedders import (
    FaceEmbedder,
    Faces,
    Float32,
    FusionEmbedder,
    l2_normalise,
)

log = logging.getLogger(__name__)
Float64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class CascadeBand:
    """``lower[i]``: the lowest cheap score of any measured pair whose fused score was at least
    ``thresholds[i]``; :meth:`lower_for` reads it (minus ``margin``) for a threshold in force.

    Attributes:
        thresholds: ascending fused-score grid.
        lower: lower edge per grid threshold (non-decreasing with the threshold).
        cheap_member: the member the cheap scores come from.
        pairs: comparisons the curve was measured on.
        margin: subtracted from the lower edge when read.
    """

    thresholds: Float64
    lower: Float64
    cheap_member: str
    pairs: int
    margin: float = 0.0

    def __post_init__(self) -> None:
        t = np.asarray(self.thresholds, np.float64)
        lo = np.asarray(self.lower, np.float64)
        if t.ndim != 1 or t.shape != lo.shape or len(t) < 1:
            raise ValidationError(f"cascade band needs matching 1-D arrays: {t.shape}, {lo.shape}")
        if not np.all(np.diff(t) > 0):
            raise ValidationError("cascade band thresholds must ascend strictly")
        if not 0 <= self.margin <= 1:
            raise ValidationError(f"cascade margin must be in [0, 1], got {self.margin}")
        object.__setattr__(self, "thresholds", t)
        # A threshold no measured pair reached has no edge of its own: it takes the edge of the
        # highest threshold below it that has one (or fuses everything, -inf, when none has).
        finite = np.isfinite(lo)
        if not finite.any():
            lo = np.full_like(lo, -np.inf)
        else:
            last = np.maximum.accumulate(np.where(finite, np.arange(len(lo)), -1))
            lo = np.where(last >= 0, lo[np.maximum(last, 0)], -np.inf)
        # Cautious reading: the edge at a threshold is never above any higher threshold's.
        object.__setattr__(self, "lower", np.minimum.accumulate(lo[::-1])[::-1])

    def lower_for(self, threshold: float) -> float:
        """Cheap-score edge below which a probe skips the fusion at ``threshold``.

        Read at the grid threshold at or below ``threshold`` (the cautious side); below the grid
        the edge is -inf: every probe is fused.
        """
        i = int(np.searchsorted(self.thresholds, threshold, side="right")) - 1
        if i < 0:
            return float("-inf")
        return float(self.lower[i]) - self.margin

    def with_margin(self, margin: float) -> CascadeBand:
        return CascadeBand(self.thresholds, self.lower, self.cheap_member, self.pairs, margin)

    def to_json(self) -> dict[str, Any]:
        return {
            "cheap_member": self.cheap_member,
            "pairs": self.pairs,
            "threshold": [round(float(x), 6) for x in self.thresholds],
            "lower": [round(float(x), 6) for x in self.lower],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any], margin: float = 0.0) -> CascadeBand:
        try:
            return cls(
                np.asarray(doc["threshold"], np.float64),
                np.asarray(doc["lower"], np.float64),
                str(doc["cheap_member"]),
                int(doc["pairs"]),
                margin,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"cascade band is unusable: {exc}") from exc

    @classmethod
    def from_calibration(cls, path: Path, margin: float = 0.0) -> CascadeBand | None:
        """The band stored in a calibration file, or ``None`` when it has none."""
        import json

        try:
            doc = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"calibration file {path} is unusable: {exc}") from exc
        band = doc.get("cascade") if isinstance(doc, dict) else None
        return None if band is None else cls.from_json(band, margin)


def fit_band(
    cheap: Float32,
    fused: Float32,
    found: npt.NDArray[np.bool_],
    thresholds: npt.ArrayLike,
    *,
    cheap_member: str = "sface",
    block: int = 1024,
) -> CascadeBand:
    """Measure the band over every pair of distinct images (both L2-normalised template sets).

    Only pairs whose fused score reaches the lowest grid threshold are kept (mates and the
    hardest impostors), then for each threshold the lowest cheap score among pairs at or above
    it. Images without a face (``found`` False) take no part.
    """
    grid = np.asarray(thresholds, np.float64)
    if grid.ndim != 1 or len(grid) == 0 or not np.all(np.diff(grid) > 0):
        raise ValidationError("thresholds must be a non-empty ascending grid")
    if cheap.shape[0] != fused.shape[0] or found.shape != (cheap.shape[0],):
        raise ValidationError(f"{cheap.shape}, {fused.shape} and {found.shape} do not match")
    idx = np.nonzero(found)[0]
    c, f = cheap[idx], fused[idx]
    n = len(idx)
    fs: list[Float32] = []
    cs: list[Float32] = []
    for start in range(0, n, block):
        rows = slice(start, min(n, start + block))
        fb = f[rows] @ f.T
        np.fill_diagonal(fb[:, start : rows.stop], -np.inf)  # an image against itself
        keep = fb >= grid[0]
        if keep.any():
            cb = c[rows] @ c.T
            fs.append(fb[keep])
            cs.append(cb[keep])
    pairs = n * (n - 1)
    if not fs:
        return CascadeBand(grid, np.full(len(grid), np.inf), cheap_member, pairs)
    fv = np.concatenate(fs).astype(np.float64)
    cv = np.concatenate(cs).astype(np.float64)
    order = np.argsort(-fv)
    fv, running = fv[order], np.minimum.accumulate(cv[order])
    # lower(t) = min cheap score over pairs with fused >= t: the running minimum up to the last
    # pair (in descending fused order) still at or above t; +inf when no pair reaches t.
    upto = np.searchsorted(-fv, -grid, side="right")
    lower = np.where(upto > 0, running[np.maximum(upto - 1, 0)], np.inf)
    return CascadeBand(grid, lower, cheap_member, pairs)


class CascadeEmbedder:
    """A fusion embedder split into its cheap member and the completion of the fused template.

    ``embed`` is the plain fusion (enrolment and anything that needs the full template);
    ``embed_cheap`` and ``complete`` are the cascade's two steps; ``complete`` gives exactly the
    template ``embed`` gives (the cheap member's part is reused, not recomputed).
    """

    def __init__(self, fusion: FusionEmbedder, cheap_member: str) -> None:
        names = [m.name for m in fusion.members]
        if cheap_member not in names:
            raise ModelError(f"cascade member {cheap_member!r} is not in the fusion {names}")
        self.fusion = fusion
        self.index = names.index(cheap_member)
        self.cheap: FaceEmbedder = fusion.members[self.index]
        self.offset = sum(m.dim for m in fusion.members[: self.index])
        self.name, self.dim = fusion.name, fusion.dim

    def embed(self, faces: Faces) -> Float32:
        return self.fusion.embed(faces)

    def embed_cheap(self, faces: Faces) -> Float32:
        return self.cheap.embed(faces)

    def complete(self, faces: Faces, cheap: Float32) -> Float32:
        """Fused templates of ``faces`` whose cheap templates are ``cheap`` already."""
        if len(cheap) != len(faces):
            raise ValidationError(f"{len(cheap)} cheap templates for {len(faces)} faces")
        parts = [
            (cheap if i == self.index else m.embed(faces)) * s
            for i, (m, s) in enumerate(zip(self.fusion.members, self.fusion.scales, strict=True))
        ]
        return l2_normalise(np.concatenate(parts, axis=1))

    def cheap_part(self, fused: npt.ArrayLike) -> Float32:
        """The cheap member's templates inside fused ones (the gallery side of step 2)."""
        arr = np.asarray(fused, np.float32).reshape(-1, self.dim)
        return l2_normalise(arr[:, self.offset : self.offset + self.cheap.dim])


def make_cascade(embedder: FaceEmbedder, cheap_member: str) -> CascadeEmbedder | None:
    """A cascade around ``embedder`` when it is a fusion holding ``cheap_member``, else ``None``."""
    if not isinstance(embedder, FusionEmbedder):
        return None
    if cheap_member not in [m.name for m in embedder.members]:
        log.warning("face cascade off: %s is not a member of %s", cheap_member, embedder.name)
        return None
    return CascadeEmbedder(embedder, cheap_member)
