"""Run the face evaluations end to end: images → product pipeline → protocol → report.

This is the glue behind ``vigil eval verification``, ``vigil eval identification`` and
``vigil calibrate``. It builds the configured face pipeline (or a variant named on the command
line), extracts templates with :mod:`vigil.eval.embed`, scores with a failure-aware cosine scorer
and hands the scores to :mod:`vigil.eval.protocols` / :mod:`vigil.eval.metrics` /
:mod:`vigil.eval.report`.

A face the detector does not find is a *failure to acquire*: it scores −1 against everything, so a
mated search with no face counts as a miss (FNIR includes failures, as in NIST FRTE) and a
non-mated one can never raise a false alert. Failures are counted in every report.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.config.settings import FacesConfig
from vigil.errors import ValidationError
from vigil.eval import metrics, protocols, report
from vigil.eval.clustered import nonmated_curve
from vigil.eval.embed import FaceSet, embed_faces, extract_faces
from vigil.identification.calibration import FalseAlertModel, curve_from_scores
from vigil.perception.faces.detectors import make_detector
from vigil.perception.faces.embedders import l2_normalise, make_embedder

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], Callable[[int], None]]
Int64 = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.floating]


@dataclass(frozen=True)
class ModelChoice:
    """Which embedder(s) to evaluate: one model, or a weighted fusion of several."""

    members: tuple[str, ...]
    weights: tuple[float, ...]
    flip: bool = False

    @property
    def name(self) -> str:
        base = (
            self.members[0]
            if len(self.members) == 1
            else "fusion("
            + "+".join(f"{m}*{w:g}" for m, w in zip(self.members, self.weights, strict=True))
            + ")"
        )
        return base + ("+flip" if self.flip else "")

    @classmethod
    def from_config(cls, config: FacesConfig) -> ModelChoice:
        emb = config.embedder
        if emb.backend == "fusion":
            weights = tuple(emb.fusion_weights) or (1.0,) * len(emb.fusion_members)
            return cls(tuple(emb.fusion_members), weights, emb.flip)
        return cls((emb.backend,), (1.0,), emb.flip)

    @classmethod
    def parse(cls, text: str, flip: bool = False) -> ModelChoice:
        """``fr_feature`` or ``fr_feature=2,mobilefacenet=1`` (a weighted fusion)."""
        members, weights = [], []
        for part in text.split(","):
            name, _, w = part.strip().partition("=")
            members.append(name)
            try:
                weights.append(float(w) if w else 1.0)
            except ValueError:
                raise ValidationError(f"bad weight {w!r} in model spec {text!r}") from None
        if any(w <= 0 for w in weights):
            raise ValidationError(f"weights must be positive in {text!r}")
        return cls(tuple(members), tuple(weights), flip)


class AcquisitionAwareScorer:
    """Cosine similarity where any image without a face scores −1 against everything."""

    def __init__(self, embeddings: npt.NDArray[np.float32], found: npt.NDArray[np.bool_]) -> None:
        self.embeddings = embeddings
        self.found = found

    def matrix(self, probes: Int64, gallery: Int64) -> FloatArray:
        s = self.embeddings[probes] @ self.embeddings[gallery].T
        s[~self.found[probes]] = -1.0
        s[:, ~self.found[gallery]] = -1.0
        out: FloatArray = s
        return out

    def pairs(self, a: Int64, b: Int64) -> FloatArray:
        s = np.einsum("ij,ij->i", self.embeddings[a], self.embeddings[b])
        s[~(self.found[a] & self.found[b])] = -1.0
        out: FloatArray = s
        return out


@dataclass
class Templates:
    """Templates of an image set for one model choice, plus acquisition facts."""

    images: protocols.ImageSet
    faces: FaceSet
    embeddings: npt.NDArray[np.float32]
    model: str
    detector: str
    extra: dict[str, report.JsonValue] = field(default_factory=dict)
    #: Scores searches instead of plain cosine (the cascade, :mod:`vigil.eval.cascade`).
    override: protocols.Scorer | None = None

    @property
    def scorer(self) -> protocols.Scorer:
        if self.override is not None:
            return self.override
        return AcquisitionAwareScorer(self.embeddings, self.faces.found)


def compute_templates(
    lfw_dir: Path,
    config: FacesConfig,
    choice: ModelChoice,
    model_dir: Path | None = None,
    progress: Progress | None = None,
) -> Templates:
    """Scan the folder, detect/align once (cached), embed with each member (cached), fuse."""
    images = protocols.scan_lfw_dir(lfw_dir.resolve())
    paths = [str(images.root / p) for p in images.paths]
    detector = make_detector(config.detector, model_dir)
    tick = progress("detecting and aligning", len(paths), 0) if progress else None
    faces = extract_faces(
        paths, detector, settings=config.detector.model_dump_json(), progress=tick
    )
    parts = []
    for member, weight in zip(choice.members, choice.weights, strict=True):
        embedder = make_embedder(
            member, model_dir, batch_size=config.embedder.batch_size, flip=choice.flip
        )
        tick = progress(f"embedding with {member}", len(paths), 0) if progress else None
        emb = embed_faces(faces, embedder, tag=f"flip={choice.flip}", progress=tick)
        parts.append(emb * np.float32(np.sqrt(weight / sum(choice.weights))))
    fused = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
    fused = l2_normalise(fused)
    fused[~faces.found] = 0.0
    extra: dict[str, report.JsonValue] = {
        "images": len(paths),
        "failures_to_acquire": faces.failures,
        "quality_mean": float(faces.quality[faces.found].mean()) if faces.found.any() else None,
    }
    return Templates(images, faces, fused, choice.name, detector.name, extra)


def run_verification(
    templates: Templates, pairs_file: Path, out: Path, aliases: protocols.Aliases | None = None
) -> report.ReportFiles:
    """LFW 10-fold verification on a pairs file; writes the report files."""
    pairs = protocols.read_pairs(pairs_file)
    if aliases is not None:
        pairs = protocols.apply_aliases_to_pairs(pairs, aliases)
    scores = protocols.pair_scores(pairs, templates.images, templates.scorer)
    a, b = pairs.indices(templates.images)
    missing = int((~(templates.faces.found[a] & templates.faces.found[b])).sum())
    result = metrics.evaluate_verification(scores, pairs.same, pairs.fold)
    extra = {
        **templates.extra,
        "pairs": len(scores),
        "pairs_with_a_failure_to_acquire": missing,
        "pairs_file": str(pairs_file),
    }
    return report.write_verification_report(
        out, result, model=templates.model, detector=templates.detector, extra=extra
    )


@dataclass(frozen=True)
class IdentificationRequest:
    """Arguments of one open-set identification run."""

    watchlist_size: int | None = 1000
    watchlist_names: Sequence[str] | None = None
    seed: int = 0
    threshold: float | None = None
    images_per_identity: int = 1
    aliases: protocols.Aliases | None = None
    cohorts: dict[str, str] | None = None
    calibrate: bool = True


def run_identification(
    templates: Templates, req: IdentificationRequest, out: Path
) -> report.ReportFiles:
    """Open-set 1:N run (with and without the alias list) plus held-out calibration."""
    ids = templates.images.identities
    scorer = templates.scorer
    proto = protocols.build_open_set(
        ids,
        watchlist_size=None if req.watchlist_names else req.watchlist_size,
        watchlist_names=req.watchlist_names,
        seed=req.seed,
        images_per_identity=req.images_per_identity,
        # The population is always "people with >= 2 images" (the protocol); with k = 2
        # enrolment photos a person with exactly 2 is enrolled but has no mated search.
        min_images=max(2, req.images_per_identity),
        aliases=req.aliases,
    )
    results = protocols.search(proto, scorer)
    # The cascade's counts of the main search, before the held-out calibration reuses it.
    cascade_report = getattr(scorer, "report", None)
    cascade = cascade_report() if callable(cascade_report) else None
    cohort = protocols.search_cohorts(results, ids, req.cohorts) if req.cohorts else None
    result = metrics.evaluate_identification(
        results, default_threshold=req.threshold, cohort=cohort
    )
    without = None
    if req.aliases is not None:
        plain = protocols.search(
            protocols.without_aliases(proto, ids), scorer, collect_impostors=False
        )
        without = metrics.evaluate_identification(plain, default_threshold=req.threshold)
    calibration: list[metrics.Calibration] = []
    if req.calibrate and req.watchlist_size and not req.watchlist_names:
        calibration = protocols.calibration_holdout(
            ids,
            scorer,
            watchlist_size=req.watchlist_size,
            seed=req.seed,
            aliases=req.aliases,
            min_images=req.images_per_identity,
            images_per_identity=req.images_per_identity,
        )
    extra = {
        **templates.extra,
        "seed": req.seed,
        "images_per_identity": req.images_per_identity,
        "watchlist": "named" if req.watchlist_names else "random",
    }
    if cascade is not None:
        extra["cascade"] = cascade
    paths = [str(templates.images.root / p) for p in templates.images.paths]
    return report.write_identification_report(
        out,
        result,
        model=templates.model,
        detector=templates.detector,
        paths=paths,
        aliases=req.aliases,
        without_aliases=without,
        calibration=calibration,
        results=results,
        extra=extra,
    )


@dataclass(frozen=True)
class CalibrationOutcome:
    """A threshold for a target FPIR at a watchlist size, with what to expect from it."""

    threshold: float
    target_fpir: float
    watchlist_size: int
    expected_tpir: float
    fpir_on_fit: float
    holdout: list[metrics.Calibration]
    fmr_curve: dict[str, object]
    person_curves: list[dict[str, object]] = field(default_factory=list)
    validation: dict[str, report.JsonValue] | None = None
    forced_reason: str | None = None


def fmr_curve(
    impostor_scores: npt.NDArray[np.float32], points: int = 400, templates_per_person: int = 1
) -> dict[str, object]:
    """Impostor counts at a grid of scores: what the alert code needs to bound the rate."""
    return curve_from_scores(impostor_scores, points, templates_per_person).to_json()


def run_calibration(
    templates: Templates,
    target_fpir: float,
    watchlist_size: int,
    *,
    seed: int = 0,
    aliases: protocols.Aliases | None = None,
) -> CalibrationOutcome:
    """Fit the threshold on all identities; check it fit-on-half/test-on-other-half.

    The threshold is the higher of the empirical one (FPIR on the fit searches at the target)
    and the lowest score whose 95% upper bound of FPIR for ``watchlist_size`` people meets the
    target (:meth:`FalseAlertModel.threshold_for`), so the rate alerts display at the threshold
    never exceeds the target.

    The fit uses the identification protocol's population (people with >= 2 images, so every
    enrolled person has mated searches and the expected TPIR is meaningful). The held-out check
    must split people in two halves, each too small for N people with >= 2 images, so it also
    enrols people with one image (they serve FPIR only); see docs/evaluation.md.
    """
    ids = templates.images.identities
    proto = protocols.build_open_set(
        ids, watchlist_size=watchlist_size, seed=seed, aliases=aliases, min_images=2
    )
    results = protocols.search(proto, templates.scorer)
    cal = metrics.calibrate(results, target_fpir)
    # The threshold must keep the *bound* within the target, not only what the fit searches
    # showed: the higher of the empirical threshold and the curve's bounded one. The curve is a
    # per-comparison rate, which does not depend on N: measure it on at least CURVE_WATCHLIST
    # people where the data has them, since the clustered bound needs every comparison.
    # Only the non-mated searches' comparisons: the population FPIR is defined on
    # (protocols.nonmated_only; docs/false-alert-rates.md, section 2a).
    curve_proto = proto
    if watchlist_size < CURVE_WATCHLIST:
        try:
            curve_proto = protocols.build_open_set(
                ids, watchlist_size=CURVE_WATCHLIST, seed=seed, aliases=aliases, min_images=2
            )
        except ValidationError:  # too few people: the fit searches' own comparisons
            curve_proto = proto
    curve = nonmated_curve(curve_proto, ids, templates.scorer)
    bounded = FalseAlertModel((curve,)).threshold_for(target_fpir, watchlist_size)
    threshold = max(float(cal.threshold), bounded)
    point = metrics.open_set_point(results, threshold)
    holdout = protocols.calibration_holdout(
        ids,
        templates.scorer,
        watchlist_size=watchlist_size,
        target_fpirs=(target_fpir,),
        seed=seed,
        aliases=aliases,
        min_images=1,
    )
    return CalibrationOutcome(
        person_curves=person_curves(templates, watchlist_size, seed=seed, aliases=aliases),
        threshold=threshold,
        target_fpir=target_fpir,
        watchlist_size=watchlist_size,
        expected_tpir=float(point.tpir.value),
        fpir_on_fit=float(point.fpir.value),
        holdout=holdout,
        fmr_curve=curve.to_json(),
    )


PERSON_CURVE_PHOTOS = (2, 3)
CURVE_WATCHLIST = 1000


def person_curves(
    templates: Templates,
    watchlist_size: int,
    *,
    seed: int = 0,
    aliases: protocols.Aliases | None = None,
) -> list[dict[str, object]]:
    """Per-person FMR curves for 2 and 3 photos per person (score = max over their photos).

    Measured with at most 500 people enrolled (LFW has too few with 3+ photos for more); the
    per-comparison rate does not depend on how many are enrolled.
    """
    out = []
    for k in PERSON_CURVE_PHOTOS:
        proto = protocols.build_open_set(
            templates.images.identities, watchlist_size=min(watchlist_size, 500), seed=seed,
            aliases=aliases, images_per_identity=k, min_images=k,
        )  # fmt: skip
        out.append(nonmated_curve(proto, templates.images.identities, templates.scorer).to_json())
    return out


def write_calibration(
    outcome: CalibrationOutcome,
    path: Path,
    model: str,
    cascade: dict[str, Any] | None = None,
) -> None:
    """Write the calibration file the alert code reads (threshold, curve, provenance, and the
    cascade band when one was measured)."""
    doc: dict[str, object] = {
        "model": model,
        "threshold": outcome.threshold,
        "target_fpir": outcome.target_fpir,
        "watchlist_size": outcome.watchlist_size,
        "expected_tpir": outcome.expected_tpir,
        "fpir_on_fit": outcome.fpir_on_fit,
        "holdout": [report.calibration_json(c) for c in outcome.holdout],
        "fmr_curve": outcome.fmr_curve,
        "person_curves": outcome.person_curves,
        "validation": outcome.validation,
        "forced_reason": outcome.forced_reason,
    }
    if cascade is not None:
        doc["cascade"] = cascade
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2))
