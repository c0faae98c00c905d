"""Scoring the plate reader on the OpenALPR benchmark layout, with what went wrong per image.

The headline (``exact_accuracy``) is strict: the reader's single best read of the image must be
the annotated plate, character for character. Two further numbers say where the misses are,
because they call for different fixes and mean different things to a user:

- ``exact_accuracy_at_plate``: the most confident read *located on the annotated plate* (its
  character row's centre inside the truth box) is exact. Some images show several cars and the
  benchmark annotates one; the reader returns every plate it reads, so a miss here that is a hit
  at the plate is a ranking question, not a reading error.
- ``confusable_accuracy``: the best read equals the truth after folding the region's
  confusable pairs (0/O/Q/D, 1/I, 8/B, 5/S). Hotlist matching and plate search fold these, so
  such a read still hits the hotlist entry; it is not an exact read and is not counted as one.

Each image gets one ``outcome``: ``exact``, ``confusable``, ``one_edit`` (one character
dropped, added or changed), ``other_text`` (the best read lies off the annotated plate: another
car, a sign, an overlay), ``wrong`` (on the plate, two or more edits) or ``no_read``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vigil.eval.report import Json, JsonValue
from vigil.perception.plates.benchmark import XYXY, char_accuracy, edit_distance, iou
from vigil.perception.plates.profiles import RegionProfile
from vigil.perception.plates.reader import PlateCandidate

OUTCOMES = ("exact", "confusable", "one_edit", "other_text", "wrong", "no_read")


def _centre_inside(box: XYXY, truth: XYXY) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return truth[0] <= cx <= truth[2] and truth[1] <= cy <= truth[3]


@dataclass(frozen=True, slots=True)
class ImageScore:
    """How the reader did on one benchmark image."""

    image: str
    truth: str
    read: str
    confidence: float | None
    iou: float
    at_plate: str
    outcome: str
    chars: float

    def row(self) -> Json:
        return {
            "image": self.image,
            "truth": self.truth,
            "read": self.read,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "iou": round(self.iou, 4),
            "read_at_plate": self.at_plate,
            "outcome": self.outcome,
        }


def score_image(
    image: str,
    truth_text: str,
    truth_box: XYXY,
    reads: Sequence[PlateCandidate],
    profile: RegionProfile,
) -> ImageScore:
    """Score one image's reads (best first, as :meth:`PlateReader.read` returns them)."""
    best = reads[0] if reads else None
    text = best.text if best else ""
    located = [r for r in reads if _centre_inside(r.text_xyxy, truth_box)]
    at_plate = max(located, key=lambda r: r.confidence).text if located else ""
    if best is None:
        outcome = "no_read"
    elif text == truth_text:
        outcome = "exact"
    elif profile.same_plate(text, truth_text):
        outcome = "confusable"
    elif not _centre_inside(best.text_xyxy, truth_box):
        outcome = "other_text"
    elif edit_distance(text, truth_text) == 1:
        outcome = "one_edit"
    else:
        outcome = "wrong"
    return ImageScore(
        image=image,
        truth=truth_text,
        read=text,
        confidence=best.confidence if best else None,
        iou=iou(best.xyxy, truth_box) if best else 0.0,
        at_plate=at_plate,
        outcome=outcome,
        chars=char_accuracy(text, truth_text),
    )


def summary(scores: Sequence[ImageScore], unreadable: Sequence[Json] = ()) -> Json:
    """The report's metrics over ``scores``; unreadable files count as misses and are listed."""
    n = len(scores) + len(unreadable)
    if n == 0:
        raise ValueError("no images scored")
    counts = Counter(s.outcome for s in scores)
    counts["no_read"] += len(unreadable)
    outcomes: Json = {k: counts[k] for k in OUTCOMES}
    rows: list[JsonValue] = [s.row() for s in scores]
    return {
        "images": n,
        "detection_recall": sum(s.iou >= 0.5 for s in scores) / n,
        "exact_accuracy": counts["exact"] / n,
        "exact_accuracy_at_plate": sum(s.at_plate == s.truth for s in scores) / n,
        "confusable_accuracy": (counts["exact"] + counts["confusable"]) / n,
        "char_accuracy": sum(s.chars for s in scores) / n,
        "outcomes": outcomes,
        "unreadable": list(unreadable),
        "per_image": rows,
    }


def plot_outcomes(scores: Sequence[ImageScore], path: Path, unreadable: int = 0) -> Path:
    """Bar chart of the outcomes, and the confidence of exact and of wrong best reads."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    counts = Counter(s.outcome for s in scores)
    counts["no_read"] += unreadable
    fig = Figure(figsize=(11, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    names = list(OUTCOMES)[::-1]
    left.barh(names, [counts[k] for k in names], color="tab:blue")
    for y, k in enumerate(names):
        left.text(counts[k], y, f" {counts[k]}", va="center")
    left.set_xlabel("images")
    left.set_title(f"Outcome of the best read ({len(scores) + unreadable} images)")
    exact = [s.confidence for s in scores if s.outcome == "exact" and s.confidence is not None]
    wrong = [s.confidence for s in scores if s.outcome != "exact" and s.confidence is not None]
    bins = [i / 20 for i in range(21)]
    right.hist(exact, bins=bins, alpha=0.6, label=f"exact ({len(exact)})")
    right.hist(wrong, bins=bins, alpha=0.6, label=f"not exact ({len(wrong)})")
    right.set_xlabel("confidence of the best read")
    right.set_ylabel("images")
    right.set_title("Where a confidence threshold would cut")
    right.legend(loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
