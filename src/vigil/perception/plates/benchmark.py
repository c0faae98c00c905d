"""OpenALPR end-to-end benchmark layout (``<img>.jpg`` + ``<img>.txt``) and its metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

XYXY = tuple[float, float, float, float]
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True, slots=True)
class PlateTruth:
    """Ground truth of one benchmark image: the plate box and its string."""

    image: Path
    xyxy: XYXY
    text: str


def load_benchmark(folder: Path) -> list[PlateTruth]:
    """Every image of ``folder`` with a ``.txt`` of ``file x y w h plate`` (sorted by name)."""
    items: list[PlateTruth] = []
    for txt in sorted(folder.glob("*.txt")):
        parts = txt.read_text().split()
        if len(parts) < 6:
            raise ValueError(f"{txt}: expected 'file x y w h plate', got {' '.join(parts)!r}")
        image = folder / parts[0]
        if not image.exists():
            candidates = [txt.with_suffix(s) for s in IMAGE_SUFFIXES if txt.with_suffix(s).exists()]
            if not candidates:
                raise ValueError(f"{txt}: image {parts[0]} not found")
            image = candidates[0]
        x, y, w, h = (float(v) for v in parts[1:5])
        items.append(PlateTruth(image, (x, y, x + w, y + h), parts[5].upper()))
    return items


def iou(a: XYXY, b: XYXY) -> float:
    """Intersection over union of two boxes (0 when either is empty)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def char_accuracy(pred: str, truth: str) -> float:
    """``1 - edit_distance / len(truth)``, floored at 0 (a missing read scores 0)."""
    if not truth:
        return 1.0 if not pred else 0.0
    return max(0.0, 1.0 - edit_distance(pred, truth) / len(truth))
