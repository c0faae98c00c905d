"""A real watchlist for the face benchmark, so the cascade is measured as it decides.

The cascade's cost depends on how many probes reach its band, which depends on the gallery: so
``bench_faces`` searches every usable face of a frame against the fused templates of
``$VIGIL_BENCH_GALLERY`` (default 1,000, the issue's N) real LFW people, none of whom is pasted into
the frames (every probe is a non-mate, as nearly every face a city camera sees is). Detection and
embedding of the gallery go through ``vigil eval``'s caches (``~/.cache/vigil/eval``): the first
run embeds the 1,000 photos once with each member (a few minutes on one core), later runs read them.

Per frame, two ways, on the same pipeline object:

* ``cascade=True`` (the default pipeline): faces embedded by the cheap member; each one's best cheap
  score against the gallery's cheap part; the fusion completed and searched only for faces at or
  above the band's edge at the configured threshold (the packaged calibration's band);
* ``cascade=False``: every face embedded by the full fusion and searched.

Each face is treated as a track's best shot (a pessimistic reading: live, only one face per track
is searched, but all faces are embedded by the cheap member either way).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.config.settings import FacesConfig
from vigil.core import FrameRef
from vigil.eval.embed import embed_faces, extract_faces
from vigil.eval.faces import ModelChoice
from vigil.perception.faces.cascade import CascadeBand
from vigil.perception.faces.detectors import make_detector
from vigil.perception.faces.embedders import l2_normalise, make_embedder
from vigil.perception.faces.pipeline import FacePipeline

LFW = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lfw" / "lfw-deepfunneled"


def gallery_templates(config: FacesConfig, people: list[Path]) -> npt.NDArray[np.float32]:
    """Fused templates of each person's first photo (rows without a face left out)."""
    paths = [sorted(p.glob("*.jpg"))[0] for p in people]
    detector = make_detector(config.detector)
    faces = extract_faces(paths, detector, settings=config.detector.model_dump_json())
    choice = ModelChoice.from_config(config)
    parts = []
    for member, weight in zip(choice.members, choice.weights, strict=True):
        emb = embed_faces(faces, make_embedder(member), tag=f"flip={choice.flip}")
        parts.append(emb * np.float32(np.sqrt(weight / sum(choice.weights))))
    return l2_normalise(np.concatenate(parts, axis=1))[faces.found]


@dataclass
class WatchlistSearch:
    """The benchmark's 1:N step, with or without the cascade (see the module docstring)."""

    pipeline: FacePipeline
    fused: npt.NDArray[np.float32]
    cheap: npt.NDArray[np.float32] | None
    edge: float
    probes: int = 0
    probes_fused: int = 0

    @property
    def cascade_on(self) -> bool:
        return self.cheap is not None

    @classmethod
    def build(cls, pipeline: FacePipeline, config: FacesConfig, exclude: list[Path]) -> Any:
        import os

        n = int(os.environ.get("VIGIL_BENCH_GALLERY", "1000"))
        skip = {p.name for p in exclude}
        people = [p for p in sorted(LFW.iterdir()) if p.is_dir() and p.name not in skip]
        pick = np.random.default_rng(7).choice(len(people), size=min(n, len(people)), replace=False)
        fused = gallery_templates(config, [people[int(i)] for i in sorted(pick)])
        path = config.identification.calibration_file
        band = None if path is None else CascadeBand.from_calibration(path, config.cascade.margin)
        if pipeline.cascade is None or band is None:
            return cls(pipeline, fused, None, float("-inf"))
        edge = band.lower_for(config.identification.threshold)
        return cls(pipeline, fused, pipeline.cascade.cheap_part(fused), edge)

    def frame(self, image: npt.NDArray[np.uint8], ref: FrameRef, *, cascade: bool) -> int:
        """Analyse one frame and search its usable faces; returns how many were searched."""
        use = cascade and self.cheap is not None and self.pipeline.cascade is not None
        found = self.pipeline.analyse(image, ref, cheap=use)
        searched = 0
        for obs, crop in zip(found.observations, found.crops, strict=True):
            if obs.embedding is None:
                continue
            searched += 1
            probe = obs.embedding
            if use:
                assert self.cheap is not None and self.pipeline.cascade is not None
                self.probes += 1
                if float((self.cheap @ probe).max()) < self.edge:
                    continue
                self.probes_fused += 1
                probe = self.pipeline.cascade.complete(crop[None], probe[None])[0]
            float((self.fused @ probe).max())
        return searched

    def summary(self) -> dict[str, object]:
        return {
            "gallery_size": len(self.fused),
            "cascade": self.cascade_on,
            "cascade_edge": round(self.edge, 4) if self.cascade_on else None,
            "cascade_probes": self.probes,
            "cascade_probes_fused": self.probes_fused,
            "cascade_fused_fraction": round(self.probes_fused / self.probes, 3)
            if self.probes
            else None,
        }
