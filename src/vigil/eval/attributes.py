"""Accuracy of the clothing-colour descriptors against the committed hand labels.

The labels (``attribute_labels.csv`` beside this module) name the upper and lower colour of 222
person crops from the shared footage as a person saw them on contact sheets; ``unknown`` marks a
band that could not be judged (occluded, blurred, cut off) and is left out of that band's score.
The descriptor is the product's own (:func:`vigil.analytics.attributes.person_votes` on the same
box), so the numbers are those of what runs live - on a single crop, not a track's tally.

Reported per band: accuracy, the confusion matrix (rows: label, columns: prediction, palette
order) and for five realistic queries the precision of the ten crops that rank highest (rank:
the product of the queried colours' shares, as the search ranks stored sightings by share).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.analytics.attributes import PALETTE, person_votes
from vigil.core.attributes import Colour
from vigil.eval.attribute_crops import CropRef, load_crops

Json = dict[str, Any]

LABELS = Path(__file__).with_name("attribute_labels.csv")
NAMES = [c.value for c in PALETTE]
#: Five queries an investigator might type (upper, lower; ``None``: any).
QUERIES: tuple[tuple[str | None, str | None], ...] = (
    ("black", "blue"),
    ("red", None),
    ("grey", "black"),
    ("white", "black"),
    ("black", "black"),
)


@dataclass(frozen=True, slots=True)
class Labelled:
    """One labelled crop: where it is and the two labels (``unknown`` allowed)."""

    ref: CropRef
    upper: str
    lower: str


def read_labels(path: Path = LABELS) -> list[Labelled]:
    """The committed labels; refuses colours outside the palette."""
    out: list[Labelled] = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            for band in ("upper", "lower"):
                if row[band] != "unknown":
                    Colour(row[band])
            box = (int(row["x1"]), int(row["y1"]), int(row["x2"]), int(row["y2"]))
            out.append(
                Labelled(CropRef(row["source"], int(row["frame"]), box), row["upper"], row["lower"])
            )
    return out


def confusion(truth: Sequence[str], pred: Sequence[str]) -> npt.NDArray[np.int64]:
    """Palette-order confusion matrix (rows: truth, columns: prediction)."""
    m = np.zeros((len(NAMES), len(NAMES)), np.int64)
    for t, p in zip(truth, pred, strict=True):
        m[NAMES.index(t), NAMES.index(p)] += 1
    return m


def evaluate(data: Path, labels: Sequence[Labelled]) -> Json:
    """The report (see the module docstring) for ``labels`` whose crops live under ``data``."""
    crops = load_crops(data, [lab.ref for lab in labels])
    votes = [person_votes(c) for c in crops]
    doc: Json = {"crops": len(labels), "palette": NAMES, "bands": {}, "queries": []}
    for b, band in enumerate(("upper", "lower")):
        keep = [i for i, lab in enumerate(labels) if getattr(lab, band) != "unknown"]
        truth = [getattr(labels[i], band) for i in keep]
        pred = [NAMES[int(np.argmax(votes[i][b]))] for i in keep]
        m = confusion(truth, pred)
        doc["bands"][band] = {
            "labelled": len(keep),
            "accuracy": round(float(np.trace(m)) / max(1, len(keep)), 4),
            "confusion": m.tolist(),
        }
    for upper, lower in QUERIES:
        score = np.ones(len(labels))
        if upper:
            score *= np.array([v[0][NAMES.index(upper)] for v in votes])
        if lower:
            score *= np.array([v[1][NAMES.index(lower)] for v in votes])
        top = np.argsort(-score, kind="stable")[:10]
        hits = [
            (upper is None or labels[i].upper == upper)
            and (lower is None or labels[i].lower == lower)
            for i in top
        ]
        doc["queries"].append(
            {
                "query": f"{upper or 'any'} top, {lower or 'any'} trousers",
                "precision_at_10": sum(hits) / 10,
                "relevant_in_set": sum(
                    (upper is None or lab.upper == upper) and (lower is None or lab.lower == lower)
                    for lab in labels
                ),
            }
        )
    return doc


def markdown(doc: Json) -> str:
    """The report as Markdown: accuracy, both confusion matrices and the query table."""
    lines = ["# Clothing colour accuracy", "", f"{doc['crops']} hand-labelled person crops.", ""]
    for band, r in doc["bands"].items():
        lines += [f"## {band}: accuracy {r['accuracy']:.3f} on {r['labelled']} labelled crops", ""]
        lines += ["| label \\ predicted | " + " | ".join(NAMES) + " |"]
        lines += ["| --- " * (len(NAMES) + 1) + "|"]
        lines += [
            f"| {n} | " + " | ".join(str(v) for v in row) + " |"
            for n, row in zip(NAMES, r["confusion"], strict=True)
        ]
        lines.append("")
    lines += [
        "## Precision of the top 10",
        "",
        "| query | P@10 | relevant crops in the set |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| {q['query']} | {q['precision_at_10']:.1f} | {q['relevant_in_set']} |"
        for q in doc["queries"]
    ]
    return "\n".join(lines) + "\n"


def plot(doc: Json, path: Path) -> Path:
    """Both confusion matrices side by side as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 6))
    for ax, (band, r) in zip(axes, doc["bands"].items(), strict=True):
        m = np.array(r["confusion"])
        ax.imshow(m, cmap="Blues")
        ax.set_xticks(range(len(NAMES)), NAMES, rotation=60)
        ax.set_yticks(range(len(NAMES)), NAMES)
        ax.set_xlabel("predicted")
        ax.set_ylabel("label")
        ax.set_title(f"{band}: accuracy {r['accuracy']:.2f} (n={r['labelled']})")
        for (y, x), v in np.ndenumerate(m):
            if v:
                ax.text(x, y, str(v), ha="center", va="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
