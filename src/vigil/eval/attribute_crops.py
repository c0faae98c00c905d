"""Person crops from the shared real footage, for labelling and scoring clothing colours.

The attribute labels (``src/vigil/eval/attribute_labels.csv``) were made by a person looking at
contact sheets of these crops; the images themselves are never committed - only the source file,
frame number and box, from which :func:`load_crop` cuts the same crop again.

Where the crops come from (deterministic, so the same list is produced on any machine):

* **MOT17-mini** ground truth: one box per pedestrian identity (class 1, consider flag 1), the
  first frame where it is at least ``min_visibility`` visible and ``min_height`` px tall. Ground
  truth boxes, so the colour step is scored apart from the detector.
* **vtest.avi** and the **Intel** sample video: NanoDet person boxes (score >= 0.6, at least
  ``min_height`` px) on every ``every``-th frame, at most ``per_frame`` per frame - the boxes
  the live stage would see.

Run ``python -m vigil.eval.attribute_crops --sheets DIR`` to write numbered contact sheets (20
crops each) for labelling; the sheets are for the labeller's eyes only and stay out of the repo.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt

from vigil.errors import InputError

Image = npt.NDArray[np.uint8]
VIDEOS = ("opencv_vtest/vtest.avi", "intel_sample_videos/one-by-one-person-detection.mp4")


@dataclass(frozen=True, slots=True)
class CropRef:
    """Where one labelled crop comes from: a file under the shared data folder, a frame (1-based
    for MOT images, 0-based decode order for videos) and a box in pixels."""

    source: str
    frame: int
    box: tuple[int, int, int, int]


def mot_refs(data: Path, *, min_visibility: float = 0.4, min_height: int = 60) -> list[CropRef]:
    """One ground-truth box per MOT17-mini pedestrian identity (see the module docstring)."""
    refs: list[CropRef] = []
    for seq in sorted((data / "mot17_mini" / "train").glob("MOT17-*")):
        seen: set[int] = set()
        rows = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",", ndmin=2)
        for row in rows[np.lexsort((rows[:, 1], rows[:, 0]))]:
            frame, pid, x, y, w, h, flag, cls, vis = row[:9]
            if int(pid) in seen or int(flag) != 1 or int(cls) != 1:
                continue
            if vis < min_visibility or h < min_height:
                continue
            seen.add(int(pid))
            box = (max(0, int(x)), max(0, int(y)), int(x + w), int(y + h))
            refs.append(
                CropRef(f"mot17_mini/train/{seq.name}/img1/{int(frame):06d}.jpg", int(frame), box)
            )
    return refs


def video_frames(path: Path, every: int) -> Iterator[tuple[int, Image]]:
    """Every ``every``-th decoded frame of a video as BGR, with its 0-based decode index."""
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % every == 0:
                yield i, np.asarray(frame.to_ndarray(format="bgr24"), np.uint8)


def video_refs(
    data: Path, *, every: int = 25, min_height: int = 80, per_frame: int = 4
) -> list[CropRef]:
    """NanoDet person boxes on sampled frames of the shared videos (see the module docstring)."""
    from vigil.core import ObjectClass
    from vigil.perception.objects.detector import NanoDetDetector

    detector = NanoDetDetector(score_threshold=0.6, threads=1)
    refs: list[CropRef] = []
    for rel in VIDEOS:
        for index, image in video_frames(data / rel, every):
            d = detector.detect(image).of_class(ObjectClass.PERSON)
            d = d[d.confidence >= 0.6]
            boxes = [b for b in d.xyxy.astype(int).tolist() if b[3] - b[1] >= min_height]
            for b in boxes[:per_frame]:
                refs.append(CropRef(rel, index, (b[0], b[1], b[2], b[3])))
    return refs


def read_frame(data: Path, ref: CropRef) -> Image:
    """The whole frame a crop reference points at, BGR."""
    path = data / ref.source
    if not path.is_file():
        raise InputError(f"{path} is missing (the shared data folder is incomplete)")
    if path.suffix == ".jpg":
        image = cv2.imread(str(path))
        if image is None:
            raise InputError(f"{path} could not be decoded")
        return np.asarray(image, np.uint8)
    every = 1
    for index, image in video_frames(path, every):
        if index == ref.frame:
            return image
    raise InputError(f"{path} has no frame {ref.frame}")


def load_crop(data: Path, ref: CropRef) -> Image:
    """The crop of one reference (the box clipped to the frame)."""
    return cut(read_frame(data, ref), ref.box)


def cut(image: Image, box: tuple[int, int, int, int]) -> Image:
    """``image[y1:y2, x1:x2]`` with the box clipped to the image; refuses an empty box."""
    h, w = image.shape[:2]
    x1, y1 = max(0, box[0]), max(0, box[1])
    x2, y2 = min(w, box[2]), min(h, box[3])
    if x2 <= x1 or y2 <= y1:
        raise InputError(f"box {box} is empty inside a {w}x{h} frame")
    return image[y1:y2, x1:x2]


def load_crops(data: Path, refs: Sequence[CropRef]) -> list[Image]:
    """Crops of many references; each video is decoded once (frames in order)."""
    out: dict[int, Image] = {}
    by_video: dict[str, list[int]] = {}
    for i, ref in enumerate(refs):
        if ref.source.endswith(".jpg"):
            out[i] = load_crop(data, ref)
        else:
            by_video.setdefault(ref.source, []).append(i)
    for source, idx in by_video.items():
        wanted = {refs[i].frame for i in idx}
        frames: dict[int, Image] = {}
        with av.open(str(data / source)) as container:
            for n, frame in enumerate(container.decode(video=0)):
                if n in wanted:
                    frames[n] = np.asarray(frame.to_ndarray(format="bgr24"), np.uint8)
                if n >= max(wanted):
                    break
        for i in idx:
            if refs[i].frame not in frames:
                raise InputError(f"{source} has no frame {refs[i].frame}")
            out[i] = cut(frames[refs[i].frame], refs[i].box)
    return [out[i] for i in range(len(refs))]


def contact_sheet(crops: Sequence[Image], first: int, cell: tuple[int, int] = (120, 240)) -> Image:
    """Crops side by side (10 per row), each resized to ``cell`` and numbered from ``first``."""
    cw, ch = cell
    rows = (len(crops) + 9) // 10
    sheet = np.full((rows * (ch + 24), 10 * cw, 3), 255, np.uint8)
    for k, crop in enumerate(crops):
        r, c = divmod(k, 10)
        scale = min(cw / crop.shape[1], ch / crop.shape[0])
        small = cv2.resize(
            crop, (max(1, int(crop.shape[1] * scale)), max(1, int(crop.shape[0] * scale)))
        )
        y0, x0 = r * (ch + 24) + 24, c * cw
        sheet[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
        cv2.putText(
            sheet, str(first + k), (x0 + 4, y0 - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 2
        )
    return sheet


def all_refs(data: Path) -> list[CropRef]:
    """The full candidate list (MOT17 ground truth first, then the video detections)."""
    return mot_refs(data) + video_refs(data)


def main(argv: Sequence[str] | None = None) -> None:
    """Write the candidate list (CSV without labels) and numbered contact sheets."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sheets", type=Path, required=True, help="Folder for the PNG sheets.")
    args = parser.parse_args(argv)
    refs = all_refs(args.data)
    crops = load_crops(args.data, refs)
    args.sheets.mkdir(parents=True, exist_ok=True)
    with (args.sheets / "candidates.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["index", "source", "frame", "x1", "y1", "x2", "y2"])
        for i, ref in enumerate(refs):
            w.writerow([i, ref.source, ref.frame, *ref.box])
    for start in range(0, len(crops), 20):
        sheet = contact_sheet(crops[start : start + 20], start)
        cv2.imwrite(str(args.sheets / f"sheet_{start // 20:03d}.png"), sheet)
    print(f"{len(refs)} crops, {(len(refs) + 19) // 20} sheets in {args.sheets}")


if __name__ == "__main__":
    main()
