"""Evaluation reports: JSON with stable keys, a Markdown summary and PNG plots.

The JSON is the record (a CI gate or the issue's closing note reads it); the Markdown is rendered
*from the JSON document*, so the two cannot disagree; the plots are what a person should look at
first. Stable keys (documented in ``docs/evaluation.md``; values are plain floats so a gate is one
lookup)::

    model, detector
    verification.accuracy                      mean 10-fold accuracy
    verification.tar_at_far["0.01"|"0.001"|"0.0001"]
    identification.fnir_at_fpir["0.01"|"0.001"|"0.00017"|"0.0001"]
    identification.default_threshold, .fpir_at_default_threshold, .fnir_at_default_threshold
    identification.mated_searches, .nonmated_searches

Every rate also appears in a ``*_detail`` sibling as ``{"value", "k", "n", "ci95": [lo, hi]}``.
``NaN``/``inf`` are written as ``null`` (strict JSON). Plots use matplotlib's Agg canvas directly
(no pyplot global state, no display needed) and are imported only when a plot is drawn.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np
import numpy.typing as npt

from vigil.eval.metrics import (
    Calibration,
    CohortRates,
    DetCurve,
    FmrEstimate,
    IdentificationResult,
    OpenSetPoint,
    Rate,
    RocCurve,
    SearchResults,
    VerificationResult,
    rate_key,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from vigil.eval.protocols import Aliases

JsonValue = Union[None, bool, int, float, str, list["JsonValue"], dict[str, "JsonValue"]]  # noqa: UP007
Json = dict[str, JsonValue]

SCHEMA_VERIFICATION = "vigil.eval.verification/1"
SCHEMA_IDENTIFICATION = "vigil.eval.identification/1"
_CURVE_POINTS = 300


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def rate_json(r: Rate) -> Json:
    """``{"value", "k", "n", "ci95": [lo, hi], "ci_method"}`` (value ``null`` when n == 0)."""
    return {
        "value": _num(r.value),
        "k": r.k,
        "n": r.n,
        "ci95": [r.ci95[0], r.ci95[1]],
        "ci_method": r.method,
    }


def _curve(thresholds: npt.NDArray[np.float64], **ys: npt.NDArray[np.float64]) -> Json:
    idx = np.unique(
        np.linspace(0, len(thresholds) - 1, min(len(thresholds), _CURVE_POINTS)).astype(int)
    )
    out: Json = {"thresholds": [_num(float(t)) for t in thresholds[idx]]}
    for name, y in ys.items():
        out[name] = [float(v) for v in y[idx]]
    return out


# --------------------------------------------------------------------------------------------
# JSON documents
# --------------------------------------------------------------------------------------------


def verification_json(
    result: VerificationResult,
    *,
    model: str,
    detector: str,
    extra: Mapping[str, JsonValue] | None = None,
) -> Json:
    """The verification report document (stable keys above, details beside them)."""
    acc = result.accuracy
    v: Json = {
        "accuracy": acc.mean,
        "accuracy_std": acc.std,
        "accuracy_standard_error": acc.standard_error,
        "accuracy_pooled": rate_json(acc.pooled),
        "folds": [
            {"fold": i, "accuracy": rate_json(r), "threshold": t}
            for i, (r, t) in enumerate(zip(acc.per_fold, acc.thresholds, strict=True))
        ],
        "tar_at_far": {rate_key(f): p.tar.value for f, p in result.tar_at_far.items()},
        "tar_at_far_detail": {
            rate_key(f): {
                "threshold": _num(p.threshold),
                "tar": rate_json(p.tar),
                "far": rate_json(p.far),
                "resolvable": p.resolvable,
            }
            for f, p in result.tar_at_far.items()
        },
        "genuine_pairs": result.n_genuine,
        "impostor_pairs": result.n_impostor,
        "smallest_resolvable_far": 1 / result.n_impostor if result.n_impostor else None,
        "roc": _curve(result.roc.thresholds, far=result.roc.far, tar=result.roc.tar),
    }
    return {
        "schema": SCHEMA_VERIFICATION,
        "model": model,
        "detector": detector,
        "verification": v,
        **(extra or {}),
    }


def _point_json(p: OpenSetPoint, fmr: FmrEstimate | None) -> Json:
    out: Json = {
        "threshold": _num(p.threshold),
        "fpir": rate_json(p.fpir),
        "fnir": rate_json(p.fnir),
        "tpir": rate_json(p.tpir),
        "resolvable": p.resolvable,
    }
    if fmr is not None:
        lo, hi = fmr.fpir_ci95
        out["fpir_from_fmr"] = {
            "fmr": rate_json(fmr.fmr),
            "fpir_estimate": _num(fmr.fpir_estimate),
            "fpir_ci95": [_num(lo), _num(hi)],
        }
    return out


def _cohorts_json(c: CohortRates) -> Json:
    return {
        "threshold": _num(c.threshold),
        "fnir": {k: rate_json(r) for k, r in c.fnir.items()},
        "fpir": {k: rate_json(r) for k, r in c.fpir.items()},
        "fpir_max_min_ratio": _num(c.fpir_ratio),
        "fpir_ratio_infinite": math.isinf(c.fpir_ratio),
    }


def calibration_json(c: Calibration) -> Json:
    """One fit-on-half / test-on-other-half calibration result."""
    return {
        "target_fpir": c.target_fpir,
        "method": c.method,
        "n_enrolled": c.n_enrolled,
        "threshold": _num(c.threshold),
        "expected_fpir": rate_json(c.fit_fpir),
        "expected_tpir": rate_json(c.fit_tpir),
        "realised_fpir": rate_json(c.test_fpir) if c.test_fpir else None,
        "realised_tpir": rate_json(c.test_tpir) if c.test_tpir else None,
        "realised_over_target": _num(c.realised_over_target),
    }


def _identification_body(r: IdentificationResult, paths: Sequence[str]) -> Json:
    d = r.default
    body: Json = {
        "watchlist_size": r.n_enrolled,
        "fnir_at_fpir": {rate_key(t): p.fnir.value for t, p in r.fnir_at_fpir.items()},
        "fnir_at_fpir_detail": {
            rate_key(t): _point_json(p, r.fmr_estimates.get(rate_key(t)))
            for t, p in r.fnir_at_fpir.items()
        },
        "default_threshold": _num(d.threshold) if d else None,
        "fpir_at_default_threshold": _num(d.fpir.value) if d else None,
        "fnir_at_default_threshold": _num(d.fnir.value) if d else None,
        "default_threshold_detail": _point_json(d, r.fmr_estimates.get("default")) if d else None,
        "mated_searches": r.mated_searches,
        "nonmated_searches": r.nonmated_searches,
        "excluded_searches": r.excluded_searches,
        "rank1_identification_rate": rate_json(r.rank1),
        "smallest_resolvable_fpir": _num(r.smallest_resolvable_fpir),
        "top_nonmated": [
            {
                "probe": paths[h.probe],
                "enrolled": paths[h.enrolled],
                "score": h.score,
                "margin": _num(h.margin),
            }
            for h in r.top_nonmated
        ],
        "det": _curve(r.det.thresholds, fpir=r.det.fpir, fnir=r.det.fnir),
    }
    if r.cohorts is not None:
        body["cohorts"] = {k: _cohorts_json(c) for k, c in r.cohorts.items()}
    return body


def identification_json(
    result: IdentificationResult,
    *,
    model: str,
    detector: str,
    paths: Sequence[str],
    aliases: Aliases | None = None,
    without_aliases: IdentificationResult | None = None,
    calibration: Sequence[Calibration] = (),
    extra: Mapping[str, JsonValue] | None = None,
) -> Json:
    """The identification report document.

    ``result`` is the headline run (the issue's targets are with the alias list applied);
    ``without_aliases``, when given, is the same protocol without it, nested under
    ``identification.without_aliases`` with the same keys. ``paths[i]`` names image ``i``.
    """
    body = _identification_body(result, paths)
    body["aliases"] = {
        "applied": aliases is not None and len(aliases) > 0,
        "source": aliases.source if aliases is not None else None,
        "pairs": [[a, b, kind] for a, b, kind in aliases.pairs] if aliases is not None else [],
    }
    if without_aliases is not None:
        body["without_aliases"] = _identification_body(without_aliases, paths)
    if calibration:
        body["calibration"] = [calibration_json(c) for c in calibration]
    return {
        "schema": SCHEMA_IDENTIFICATION,
        "model": model,
        "detector": detector,
        "identification": body,
        **(extra or {}),
    }


def write_json(path: Path | str, doc: Json) -> Path:
    """Write ``doc`` as strict, indented JSON (no NaN); parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(doc), indent=2, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def _finite(value: JsonValue) -> JsonValue:
    """Replace every NaN/inf anywhere in a document by ``None`` (undefined rates, e.g. n = 0)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------
# Markdown (rendered from the JSON document)
# --------------------------------------------------------------------------------------------


def _pct(x: JsonValue) -> str:
    return "n/a" if not isinstance(x, int | float) else f"{100 * x:.2f}%"


def _g(x: JsonValue) -> str:
    """Floats for people: 6 significant digits (thresholds: copy them from the JSON)."""
    return f"{x:.6g}" if isinstance(x, float) else str(x)


def _rate_md(r: JsonValue) -> str:
    if not isinstance(r, dict) or not r.get("n"):
        return "n/a (0 trials)"
    ci = r["ci95"]
    assert isinstance(ci, list)
    return f"{_pct(r['value'])} ({r['k']}/{r['n']}; 95% CI {_pct(ci[0])}–{_pct(ci[1])})"


def _obj(x: JsonValue) -> Json:
    return x if isinstance(x, dict) else {}


def verification_markdown(doc: Json, plots: Sequence[str] = ()) -> str:
    """A one-page Markdown summary of a verification document."""
    v = _obj(doc["verification"])
    lines = [
        f"# Verification: {doc['model']} (detector: {doc['detector']})",
        "",
        f"- Accuracy (10-fold, threshold fitted on the other folds): **{_pct(v['accuracy'])}** "
        f"± {_pct(v['accuracy_std'])} (std over folds; pooled {_rate_md(v['accuracy_pooled'])})",
        f"- Pairs: {v['genuine_pairs']} matched, {v['impostor_pairs']} mismatched; the smallest "
        f"resolvable FAR is {_g(v['smallest_resolvable_far'])}.",
        "",
        "| FAR target | threshold | TAR | FAR realised | resolvable |",
        "|---|---|---|---|---|",
    ]
    for key, p in _obj(v["tar_at_far_detail"]).items():
        q = _obj(p)
        lines.append(
            f"| {key} | {_g(q['threshold'])} | {_rate_md(q['tar'])} | {_rate_md(q['far'])} "
            f"| {'yes' if q['resolvable'] else 'no: bound only'} |"
        )
    lines += ["", *[f"![{Path(p).stem}]({Path(p).name})" for p in plots], ""]
    return "\n".join(lines)


def _identification_md(b: Json, title: str) -> list[str]:
    lines = [
        f"## {title}",
        "",
        f"- Watchlist N = {b['watchlist_size']}; searches: {b['mated_searches']} mated, "
        f"{b['nonmated_searches']} non-mated, {b['excluded_searches']} excluded "
        "(twins of the enrolled).",
        f"- Rank-1 identification rate (no threshold): {_rate_md(b['rank1_identification_rate'])}",
        f"- Smallest resolvable FPIR: {_g(b['smallest_resolvable_fpir'])} "
        "(1 / non-mated searches).",
        "",
        "| FPIR target | threshold | FNIR | FPIR realised | FPIR from 1:1 FMR | resolvable |",
        "|---|---|---|---|---|---|",
    ]
    for key, p in _obj(b["fnir_at_fpir_detail"]).items():
        q = _obj(p)
        est = _obj(q.get("fpir_from_fmr"))
        lines.append(
            f"| {key} | {_g(q['threshold'])} | {_rate_md(q['fnir'])} | {_rate_md(q['fpir'])} "
            f"| {_pct(est.get('fpir_estimate'))} | {'yes' if q['resolvable'] else 'no'} |"
        )
    d = _obj(b.get("default_threshold_detail"))
    if d:
        lines += [
            "",
            f"At the shipped threshold {_g(b['default_threshold'])}: FPIR {_rate_md(d['fpir'])}, "
            f"FNIR {_rate_md(d['fnir'])}.",
        ]
    for op, c in _obj(b.get("cohorts")).items():
        cc = _obj(c)
        lines += [
            "",
            f"Cohorts at operating point {op} (threshold {_g(cc['threshold'])}), FPIR max/min "
            f"ratio {_g(cc['fpir_max_min_ratio']) if not cc['fpir_ratio_infinite'] else 'inf'}:",
            "",
            "| cohort | FNIR | FPIR |",
            "|---|---|---|",
        ]
        fnir, fpir = _obj(cc["fnir"]), _obj(cc["fpir"])
        lines += [f"| {name} | {_rate_md(fnir[name])} | {_rate_md(fpir[name])} |" for name in fnir]
    return lines


def identification_markdown(doc: Json, plots: Sequence[str] = ()) -> str:
    """A Markdown summary of an identification document (with/without aliases, calibration)."""
    b = _obj(doc["identification"])
    al = _obj(b["aliases"])
    lines = [
        f"# Open-set identification: {doc['model']} (detector: {doc['detector']})",
        "",
        f"Alias list applied: {'yes, ' + str(al['source']) if al['applied'] else 'no'}.",
        "",
        *[f"![{Path(p).stem}]({Path(p).name})" for p in plots],
        "",
    ]
    lines += _identification_md(b, "With aliases" if al["applied"] else "Results")
    if "without_aliases" in b:
        lines += ["", *_identification_md(_obj(b["without_aliases"]), "Without aliases")]
    if b.get("calibration"):
        lines += [
            "",
            "## Calibration (fit on half the identities, tested on the other half)",
            "",
            "| target FPIR | threshold | expected FPIR | expected TPIR | realised FPIR "
            "| realised/target |",
            "|---|---|---|---|---|---|",
        ]
        for c in b["calibration"]:  # type: ignore[union-attr]
            q = _obj(c)
            lines.append(
                f"| {q['target_fpir']} | {_g(q['threshold'])} | {_rate_md(q['expected_fpir'])} "
                f"| {_rate_md(q['expected_tpir'])} | {_rate_md(q['realised_fpir'])} "
                f"| {_g(q['realised_over_target'])} |"
            )
    lines += [
        "",
        "## Highest-scoring non-mated searches (look at these images)",
        "",
        "| score | margin | probe | best enrolled match |",
        "|---|---|---|---|",
    ]
    for h in b["top_nonmated"]:  # type: ignore[union-attr]
        q = _obj(h)
        lines.append(
            f"| {q['score']:.4f} | {_g(q['margin'])} | `{q['probe']}` | `{q['enrolled']}` |"
        )
    return "\n".join([*lines, ""])


# --------------------------------------------------------------------------------------------
# Plots (Agg canvas, no pyplot state)
# --------------------------------------------------------------------------------------------


def _figure() -> tuple[Figure, Axes]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 5.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.grid(True, which="both", alpha=0.3)
    return fig, ax


def _save(fig: Figure, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_roc(curves: Mapping[str, RocCurve], path: Path | str, *, title: str = "ROC") -> Path:
    """TAR against FAR (log x) for one or more systems on the same pairs."""
    fig, ax = _figure()
    for label, c in curves.items():
        ax.plot(c.far, c.tar, label=label, drawstyle="steps-post")
    ax.set_xscale("log", nonpositive="mask")
    ax.set(xlabel="FAR (false accept rate)", ylabel="TAR (true accept rate)", title=title)
    for far in (1e-4, 1e-3, 1e-2):
        ax.axvline(far, color="grey", linestyle=":", linewidth=0.8)
    ax.legend(loc="lower right")
    return _save(fig, path)


def plot_det(curves: Mapping[str, RocCurve], path: Path | str, *, title: str = "DET") -> Path:
    """Verification DET: FNMR against FMR, both on log axes (lower-left is better)."""
    fig, ax = _figure()
    for label, c in curves.items():
        ax.plot(c.far, c.frr, label=label, drawstyle="steps-post")
    ax.set_xscale("log", nonpositive="mask")
    ax.set_yscale("log", nonpositive="mask")
    ax.set(xlabel="FMR (false match rate)", ylabel="FNMR (false non-match rate)", title=title)
    ax.legend(loc="upper right")
    return _save(fig, path)


def plot_identification_det(
    curves: Mapping[str, DetCurve],
    path: Path | str,
    *,
    points: Mapping[str, OpenSetPoint] | None = None,
    smallest_resolvable_fpir: float | None = None,
    title: str = "Open-set identification DET",
) -> Path:
    """FNIR against FPIR on log axes; the unresolvable FPIR region is shaded, points marked."""
    fig, ax = _figure()
    for label, c in curves.items():
        ax.plot(c.fpir, c.fnir, label=label, drawstyle="steps-post")
    for label, p in (points or {}).items():
        ax.plot([p.fpir.value], [p.fnir.value], "o", label=f"{label}: T={p.threshold:.3f}")
    ax.set_xscale("log", nonpositive="mask")
    ax.set_yscale("log", nonpositive="mask")
    if smallest_resolvable_fpir and math.isfinite(smallest_resolvable_fpir):
        ax.axvspan(
            smallest_resolvable_fpir / 100,
            smallest_resolvable_fpir,
            color="grey",
            alpha=0.2,
            label=f"FPIR < 1/non-mated ({smallest_resolvable_fpir:.1e}): not resolvable",
        )
    for fpir in (1e-4, 1e-3, 1e-2):
        ax.axvline(fpir, color="grey", linestyle=":", linewidth=0.8)
    ax.set(
        xlabel="FPIR (non-mated searches alerting)",
        ylabel="FNIR (mated searches missed)",
        title=title,
    )
    ax.legend(loc="upper right", fontsize="small")
    return _save(fig, path)


def plot_score_histogram(
    results: SearchResults, path: Path | str, *, thresholds: Mapping[str, float] | None = None
) -> Path:
    """Top-1 scores of mated (right / wrong rank 1) and non-mated searches, with thresholds."""
    fig, ax = _figure()
    m, ok = results.mated, results.rank1_correct
    groups = {
        "mated, rank-1 correct": results.top1_score[m & ok],
        "mated, rank-1 wrong": results.top1_score[m & ~ok],
        "non-mated": results.top1_score[~m],
    }
    finite = results.top1_score[np.isfinite(results.top1_score)]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    bins: list[float] = np.linspace(lo, hi, 80).tolist()
    for label, scores in groups.items():
        if len(scores):
            ax.hist(scores, bins=bins, histtype="step", label=f"{label} ({len(scores)})")
    for label, t in (thresholds or {}).items():
        ax.axvline(t, linestyle="--", linewidth=0.8, color="black")
        ax.text(t, 1, f" {label}", rotation=90, va="bottom", fontsize="x-small")
    ax.set_yscale("log", nonpositive="mask")
    ax.set(xlabel="top-1 score", ylabel="searches", title="Top-1 score by kind of search")
    ax.legend(loc="upper left", fontsize="small")
    return _save(fig, path)


# --------------------------------------------------------------------------------------------
# One call per report: JSON + Markdown + plots next to each other
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """The files one report wrote: ``<out>.json``, ``<out>.md`` and ``<out>_*.png``."""

    json: Path
    markdown: Path
    plots: tuple[Path, ...]


def _sibling(out: Path, suffix: str) -> Path:
    return out.with_name(out.stem + suffix)


def write_verification_report(
    out: Path | str,
    result: VerificationResult,
    *,
    model: str,
    detector: str,
    extra: Mapping[str, JsonValue] | None = None,
) -> ReportFiles:
    """Write ``out`` (JSON), the Markdown beside it and ROC/DET plots; returns the paths."""
    out = Path(out)
    label = f"{model} ({100 * result.accuracy.mean:.2f}%)"
    plots = (
        plot_roc({label: result.roc}, _sibling(out, "_roc.png"), title=f"ROC: {model}"),
        plot_det({label: result.roc}, _sibling(out, "_det.png"), title=f"DET: {model}"),
    )
    doc = verification_json(result, model=model, detector=detector, extra=extra)
    write_json(out, doc)
    md = _sibling(out, ".md")
    md.write_text(verification_markdown(doc, [p.name for p in plots]), encoding="utf-8")
    return ReportFiles(out, md, plots)


def write_identification_report(
    out: Path | str,
    result: IdentificationResult,
    *,
    model: str,
    detector: str,
    paths: Sequence[str],
    aliases: Aliases | None = None,
    without_aliases: IdentificationResult | None = None,
    calibration: Sequence[Calibration] = (),
    results: SearchResults | None = None,
    extra: Mapping[str, JsonValue] | None = None,
) -> ReportFiles:
    """Write the identification JSON, Markdown, DET plot and (given ``results``) a histogram."""
    out = Path(out)
    curves = {"with aliases" if aliases else model: result.det}
    if without_aliases is not None:
        curves["without aliases"] = without_aliases.det
    points = {f"FPIR {rate_key(t)}": p for t, p in result.fnir_at_fpir.items() if p.resolvable}
    if result.default is not None:
        points["default"] = result.default
    plots = [
        plot_identification_det(
            curves,
            _sibling(out, "_det.png"),
            points=points,
            smallest_resolvable_fpir=result.smallest_resolvable_fpir,
            title=f"Open-set DET: {model}, N={result.n_enrolled}",
        )
    ]
    if results is not None:
        thr = {k: p.threshold for k, p in points.items()}
        plots.append(plot_score_histogram(results, _sibling(out, "_scores.png"), thresholds=thr))
    doc = identification_json(
        result,
        model=model,
        detector=detector,
        paths=paths,
        aliases=aliases,
        without_aliases=without_aliases,
        calibration=calibration,
        extra=extra,
    )
    write_json(out, doc)
    md = _sibling(out, ".md")
    md.write_text(identification_markdown(doc, [p.name for p in plots]), encoding="utf-8")
    return ReportFiles(out, md, tuple(plots))
