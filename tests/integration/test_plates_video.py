"""One fused plate read per vehicle pass, on a video made from real OpenALPR photos.

No video of vehicles ships in ../shared/data, so the test builds one: two real car photos of the
OpenALPR US benchmark (from the end of the set, outside the 60 images the reader was tuned on),
each shown for ten frames by a virtual camera that pans and zooms across the photo with jitter,
a blur and a brightness/contrast change per frame, then a few empty frames between the two cars.
The **motion is synthetic; the imagery (cars, plates, lighting, backgrounds) is real**. The clip
is encoded with PyAV (H.264) to a temporary file and read back through the normal camera source
(:class:`~vigil.sources.av_source.AVSource`), then through the real NanoDet detector, ByteTrack,
the PP-OCRv4 plate reader and the fuser, as ``vigil run`` does for a `plates` camera.

The assertions: the per-frame reads of each pass disagree (blur and zoom make the reader drop or
change characters), yet each pass yields exactly one fused read and it is the labelled plate.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from tests.support.data import shared_data
from tests.support.plate_clips import SIZE, camera_pass, write_clip
from vigil.config import VigilConfig
from vigil.config.analytics import PeopleConfig
from vigil.core import FrameRef
from vigil.core.records import PlateRead
from vigil.perception.objects import NanoDetDetector
from vigil.perception.plates import PlateReader
from vigil.sources.av_source import AVSource
from vigil.sources.base import SourceSpec
from vigil.system.people import PeopleStage
from vigil.system.plates import PlateStage

pytestmark = pytest.mark.models
US_DIR = ("openalpr_benchmarks_endtoend", "endtoend", "us")
CARS = ("wts-lg-000196", "wts-lg-000041")  # DH7X317, 5LTA600
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)

Image = npt.NDArray[np.uint8]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    data = shared_data(*US_DIR)
    frames: list[Image] = []
    labels = []
    for seed, name in enumerate(CARS):
        parts = (data / f"{name}.txt").read_text().split()
        x, y, w, h = (int(v) for v in parts[1:5])
        labels.append(parts[5])
        frames += camera_pass(cv2.imread(str(data / f"{name}.jpg")), (x, y, w, h), 10, seed)
        frames += [np.full((SIZE[1], SIZE[0], 3), 40, np.uint8)] * 4  # the road, empty
    path = tmp_path_factory.mktemp("plates") / "two-cars.mp4"
    write_clip(path, frames)
    return path, labels


def test_one_fused_read_per_vehicle_pass(clip: tuple[Path, list[str]]) -> None:
    path, labels = clip
    cfg = VigilConfig()
    detector = NanoDetDetector(cfg.models.dir, score_threshold=0.1)
    reader = PlateReader.from_models(threads=2)
    fused: list[PlateRead] = []
    # A short track buffer: the four empty frames between the cars end the first pass.
    people = PeopleStage("gate", detector, PeopleConfig(track_buffer=2))
    plates = PlateStage("gate", reader, cfg.plates, sink=lambda r, k: fused.append(r))
    people.plates = plates
    per_frame: dict[int, list[str | None]] = defaultdict(list)
    original = reader.best

    def spy(image: Image, regions: list[tuple[float, float, float, float]]) -> object:
        best = original(image, regions)
        per_frame[len(fused)].append(None if best is None else best.text)
        return best

    reader.best = spy  # type: ignore[method-assign]
    source = AVSource(
        SourceSpec("gate", str(path), "file", fps=4.0, decode_mode="all", realtime=False)
    )
    n = 0
    for n, raw in enumerate(source.frames(threading.Event())):
        h, w = raw.image.shape[:2]
        at = T0 + timedelta(seconds=raw.media_time or n / 4)
        people.process(raw.image, FrameRef("gate", at, n, w, h))
    people.finish()

    assert n + 1 == 28, "every frame of the clip came through the camera source"
    assert [r.text for r in fused] == labels, (fused, dict(per_frame))
    assert plates.fused_reads == 2 and plates.frame_reads >= 10
    for i, read in enumerate(fused):
        frame_texts = per_frame[i]
        assert len(set(frame_texts)) > 1, f"pass {i}: per-frame reads all agree: {frame_texts}"
        assert 0 < read.confidence < 1 and read.region == "us" and read.track_id is not None
    assert len(plates.fuser) == 0, "closed tracks leave no fusion state behind"


def test_a_dedicated_plate_camera_reads_the_whole_frame_one_read_per_pass(
    clip: tuple[Path, list[str]],
) -> None:
    """`plate_search: whole_frame`: no vehicle tracks needed; passes end by time and text."""
    path, labels = clip
    cfg = VigilConfig()
    fused: list[PlateRead] = []
    people = PeopleStage(
        "lane", NanoDetDetector(cfg.models.dir, score_threshold=0.1), PeopleConfig()
    )
    # the clip runs at 4 fps with 1 s of empty road between the cars: a 0.75 s gap ends a pass
    plates_cfg = cfg.plates.model_copy(update={"pass_gap_s": 0.75})
    plates = PlateStage(
        "lane",
        PlateReader.from_models(threads=2),
        plates_cfg,
        sink=lambda r, k: fused.append(r),
        whole_frame=True,
    )
    people.plates = plates
    source = AVSource(
        SourceSpec("lane", str(path), "file", fps=4.0, decode_mode="all", realtime=False)
    )
    ended_at: list[int] = []  # frame index at which each pass's read came out
    for n, raw in enumerate(source.frames(threading.Event())):
        h, w = raw.image.shape[:2]
        at = T0 + timedelta(seconds=raw.media_time or n / 4)
        people.process(raw.image, FrameRef("lane", at, n, w, h))
        ended_at += [n] * (len(fused) - len(ended_at))
    # frames 0-9 show the first car, 10-13 the empty road, 14-23 the second car: the first
    # pass ends by time on the empty road, before the second car's reads begin
    assert ended_at and 10 <= ended_at[0] < 14, ended_at
    people.finish()
    assert [r.text for r in fused] == labels
    assert all(r.track_id is None for r in fused)  # a pass is not a vehicle track
    assert plates.frame_reads > len(fused)  # many frame reads, one stored read per pass
    assert plates.passes is not None and len(plates.passes) == 0 and len(plates.fuser) == 0


def test_no_vehicle_and_blank_frames_give_no_read() -> None:
    cfg = VigilConfig()
    detector = NanoDetDetector(cfg.models.dir, score_threshold=0.1)
    fused: list[PlateRead] = []
    people = PeopleStage("gate", detector, PeopleConfig(track_buffer=1))
    people.plates = PlateStage(
        "gate", PlateReader.from_models(threads=2), cfg.plates, sink=lambda r, k: fused.append(r)
    )
    blank = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    for i in range(4):
        people.process(blank, FrameRef("gate", T0 + timedelta(seconds=i), i, *SIZE))
    people.finish()
    assert fused == [] and people.plates.frame_reads == 0


def test_a_whole_frame_camera_on_blank_frames_gives_no_read() -> None:
    cfg = VigilConfig()
    fused: list[PlateRead] = []
    stage = PlateStage(
        "lane",
        PlateReader.from_models(threads=2),
        cfg.plates,
        sink=lambda r, k: fused.append(r),
        whole_frame=True,
    )
    people = PeopleStage("lane", NanoDetDetector(cfg.models.dir), PeopleConfig(), plates=stage)
    blank = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    for i in range(4):
        people.process(blank, FrameRef("lane", T0 + timedelta(seconds=i), i, *SIZE))
    people.finish()
    assert fused == [] and stage.frame_reads == 0 and len(stage.fuser) == 0
