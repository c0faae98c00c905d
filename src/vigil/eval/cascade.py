"""The face cascade in the evaluations: its band measured on LFW, its accuracy and its savings.

``vigil calibrate`` fits the band (:func:`vigil.perception.faces.cascade.fit_band`) on the same
templates it calibrates the threshold on and stores it in the calibration JSON; it also checks it
the honest way, fitted on half the people and applied to the other half's pairs
(:func:`held_out_check`). ``vigil eval identification --cascade`` scores every search as the live
cascade decides it (:class:`CascadeScorer`): a probe whose best cheap score against the gallery
is below the band's edge counts as "no candidate" (score -1, so a mate is a miss and a non-mate
no false alarm); every other probe keeps its fused scores. FNIR/FPIR are then computed exactly as
for the full fusion, and the report adds the fraction of probes that needed the fusion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.config.settings import FacesConfig
from vigil.errors import ValidationError
from vigil.eval.embed import embed_faces
from vigil.eval.faces import ModelChoice, Templates
from vigil.perception.faces.cascade import CascadeBand, fit_band
from vigil.perception.faces.embedders import l2_normalise, make_embedder

Int64 = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.floating]
Float32 = npt.NDArray[np.float32]
BAND_GRID = np.round(np.arange(0.30, 0.9001, 0.005), 3)
"""Fused thresholds the band is measured at (covers every operating point in use)."""


def cheap_templates(
    templates: Templates,
    config: FacesConfig,
    choice: ModelChoice,
    member: str,
    model_dir: Path | None = None,
) -> Float32:
    """The cheap member's templates of the same faces (from the eval cache when there)."""
    if member not in choice.members:
        raise ValidationError(f"cascade member {member!r} is not in {choice.name}")
    embedder = make_embedder(
        member, model_dir, batch_size=config.embedder.batch_size, flip=choice.flip
    )
    emb = embed_faces(templates.faces, embedder, tag=f"flip={choice.flip}")
    out = l2_normalise(emb)
    out[~templates.faces.found] = 0.0
    return out


def band_for(templates: Templates, cheap: Float32, member: str) -> CascadeBand:
    """The band measured over every pair of distinct images of the set."""
    return fit_band(
        cheap, templates.embeddings, templates.faces.found, BAND_GRID, cheap_member=member
    )


def held_out_check(
    templates: Templates,
    cheap: Float32,
    member: str,
    *,
    threshold: float,
    margin: float,
    seed: int,
) -> dict[str, Any]:
    """Fit on the images of half the people; count the other half's pairs the band would cut.

    A cut pair is one with fused score >= ``threshold`` but cheap score below the edge: a
    comparison the fusion would have passed and the cascade never makes.
    """
    ids = np.asarray(templates.images.identities)
    people = np.unique(ids)
    rng = np.random.default_rng(seed)
    half = set(rng.choice(people, size=len(people) // 2, replace=False).tolist())
    in_a = np.array([i in half for i in ids])
    found = templates.faces.found
    band = fit_band(
        cheap, templates.embeddings, found & in_a, BAND_GRID, cheap_member=member
    ).with_margin(margin)
    edge = band.lower_for(threshold)
    b = np.nonzero(found & ~in_a)[0]
    fused, cs = templates.embeddings[b], cheap[b]
    passing = cut = 0
    for start in range(0, len(b), 1024):
        f = fused[start : start + 1024] @ fused.T
        np.fill_diagonal(f[:, start : start + 1024], -np.inf)
        keep = f >= threshold
        c = cs[start : start + 1024] @ cs.T
        passing += int(keep.sum())
        cut += int((keep & (c < edge)).sum())
    return {
        "threshold": threshold,
        "margin": margin,
        "edge_fitted_on_half": round(edge, 4),
        "pairs_passing_fusion_other_half": passing,
        "pairs_cut_by_cascade_other_half": cut,
    }


class CascadeScorer:
    """Fused cosine scores as the cascade decides them (see the module docstring).

    ``edge`` is the band's lower edge at ``threshold``; :meth:`report` gives the counts.
    """

    def __init__(
        self,
        fused: Float32,
        cheap: Float32,
        found: npt.NDArray[np.bool_],
        band: CascadeBand,
        threshold: float,
    ) -> None:
        if fused.shape[0] != cheap.shape[0] or found.shape != (fused.shape[0],):
            raise ValidationError(f"{fused.shape}, {cheap.shape}, {found.shape} do not match")
        self.fused, self.cheap, self.found = fused, cheap, found
        self.band, self.threshold = band, threshold
        self.edge = band.lower_for(threshold)
        self.probes = 0
        self.fused_probes = 0

    def _base(self, s: FloatArray, probes: Int64, gallery: Int64) -> FloatArray:
        s[~self.found[probes]] = -1.0
        s[:, ~self.found[gallery]] = -1.0
        return s

    def matrix(self, probes: Int64, gallery: Int64) -> FloatArray:
        s = self._base(self.fused[probes] @ self.fused[gallery].T, probes, gallery)
        c = self._base(self.cheap[probes] @ self.cheap[gallery].T, probes, gallery)
        need = c.max(axis=1, initial=-1.0) >= self.edge
        s[~need] = -1.0
        self.probes += len(probes)
        self.fused_probes += int(need.sum())
        return s

    def pairs(self, a: Int64, b: Int64) -> FloatArray:
        s: FloatArray = np.einsum("ij,ij->i", self.fused[a], self.fused[b])
        c = np.einsum("ij,ij->i", self.cheap[a], self.cheap[b])
        need = self.found[a] & self.found[b] & (c >= self.edge)
        s[~need] = -1.0
        self.probes += len(a)
        self.fused_probes += int(need.sum())
        return s

    def report(self) -> dict[str, Any]:
        """What the cascade did so far: its band, edge and the share of probes fused."""
        return {
            "cheap_member": self.band.cheap_member,
            "band_threshold": self.threshold,
            "margin": self.band.margin,
            "edge": round(self.edge, 4),
            "band_pairs": self.band.pairs,
            "probes": self.probes,
            "probes_fused": self.fused_probes,
            "fused_fraction": round(self.fused_probes / self.probes, 4) if self.probes else None,
        }


def measure(
    templates: Templates,
    config: FacesConfig,
    choice: ModelChoice,
    *,
    threshold: float,
    seed: int,
    model_dir: Path | None = None,
) -> dict[str, Any]:
    """The band to store with a calibration, with its held-out check (``cascade`` in the JSON)."""
    member = config.cascade.cheap_member
    cheap = cheap_templates(templates, config, choice, member, model_dir)
    band = band_for(templates, cheap, member)
    check = held_out_check(
        templates, cheap, member, threshold=threshold, margin=config.cascade.margin, seed=seed
    )
    return {**band.to_json(), "held_out": check}
