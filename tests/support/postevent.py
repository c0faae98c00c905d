"""Footage for the post-event search tests: real pedestrians, real faces at known times.

Like the demo video (:func:`vigil.system.demo.build_demo_video`) this composites the real face
photos packaged as models into OpenCV's real ``vtest.avi``, but each face is on screen only in
known seconds, so a search's recall and its false reports can be counted. The probe person
appears as ``demo-obama2`` and ``demo-obama3``; the bystander is ``demo-biden``; the probe
template is made from a third photo of the probe person (``demo-obama``, as an enrolment).
The video is H.264-free MPEG-4 at 10 fps with a 1 s GOP, so the key-frame pass sees one frame
a second.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from tests.support.api_env import Env, migrated_db
from tests.support.data import shared_data
from tests.support.evidence import face_pipeline
from tests.support.governance_world import INVESTIGATOR, OFFICER, World, make_world, post_event
from tests.support.recording import index_over, record_file
from vigil.config import VigilConfig
from vigil.config.settings import FacesConfig
from vigil.core.domain import CaseRow
from vigil.governance.deployments import DeploymentKind, DeploymentRequest, Purpose
from vigil.governance.postevent import PostEventSearch
from vigil.models.installer import model_path
from vigil.perception.image import load_image
from vigil.recording.index import SegmentIndex
from vigil.storage import Database, Repository
from vigil.storage.postevent import PostEventStore
from vigil.storage.recordings import SegmentRow
from vigil.system.demo import face_patch
from vigil.system.plates import profile_from_config
from vigil.system.postevent import PostEventRunner, plate_frame_reader

SECONDS = 8
# (photo, first second, last second exclusive, x share of the frame)
SCHEDULE = (
    ("demo-obama2", 1, 3, 0.25),
    ("demo-biden", 3, 5, 0.6),
    ("demo-obama3", 5, 7, 0.4),
    ("demo-biden", 6, 8, 0.8),
)
PROBE_PERSON = {"demo-obama2", "demo-obama3"}


def subject_seconds() -> set[int]:
    """Whole seconds of the video in which the probe person is on screen."""
    return {s for name, a, b, _ in SCHEDULE if name in PROBE_PERSON for s in range(a, b)}


def _paste(frame: npt.NDArray[np.uint8], patch: npt.NDArray[np.uint8], cx: int, width: int) -> None:
    small = cv2.resize(patch, None, fx=width / patch.shape[1], fy=width / patch.shape[1])
    h, w = small.shape[:2]
    x0, y0 = max(0, cx - w // 2), max(0, int(frame.shape[0] * 0.35) - h // 2)
    x1, y1 = min(frame.shape[1], x0 + w), min(frame.shape[0], y0 + h)
    frame[y0:y1, x0:x1] = small[: y1 - y0, : x1 - x0]


def scheduled_clip(folder: Path, repeat: int = 1) -> Path:
    """Build (once per folder) the 8 s clip of :data:`SCHEDULE`, ``repeat`` times in a row
    over continuing footage (the benchmark's longer video)."""
    import av

    out = folder / f"postevent-footage-{repeat}.mp4"
    if out.exists():
        return out
    det = face_pipeline().detector
    patches = {n: face_patch(load_image(model_path(n)), det) for n, *_ in SCHEDULE}
    vtest = shared_data("opencv_vtest", "vtest.avi")
    with av.open(str(vtest)) as src, av.open(str(out), "w") as dst:
        vin = src.streams.video[0]
        stream = dst.add_stream("mpeg4", rate=10)
        stream.width, stream.height = vin.codec_context.width, vin.codec_context.height
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 2_000_000
        stream.codec_context.gop_size = 10
        for i, frame in enumerate(src.decode(vin)):
            if i >= SECONDS * 10 * repeat:
                break
            img = np.asarray(frame.to_ndarray(format="bgr24"), np.uint8)
            sec = (i / 10) % SECONDS
            for name, a, b, x in SCHEDULE:
                if a <= sec < b:
                    _paste(img, patches[name], int(img.shape[1] * x), int(img.shape[1] * 0.16))
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    return out


def authorised_runner(
    env: Env, index: SegmentIndex, warrant: str, *, reason: str = "robbery", plates: bool = False
) -> tuple[str, PostEventRunner]:
    """A post-event search authorisation for ``cam-1`` (requested by the investigator, approved
    by the authorising officer, from five minutes ago for an hour) and a job runner over
    ``index`` with the real face pipeline at the shipped threshold (and, with ``plates``, the
    live plate reading: NanoDet vehicle boxes, PP-OCR), set as the API's ``postevent``
    service. Returns the authorisation id and the (not yet started) runner."""
    now = datetime.now(UTC)
    svc = env.svc
    req = DeploymentRequest(
        Purpose.SERIOUS_CRIME_SUSPECT,
        warrant,
        now - timedelta(minutes=5),
        now + timedelta(hours=1),
        camera_ids=("cam-1",),
        reason=reason,
        kind=DeploymentKind.POST_EVENT,
    )
    auth = svc.deployments.request(INVESTIGATOR, req)
    svc.deployments.approve(OFFICER, auth, "warrant checked")
    store = PostEventStore(env.repo.db)
    cfg = VigilConfig()
    plate_args: dict[str, Any] = (
        {
            "plates": lambda profile: plate_frame_reader(cfg, profile),
            "plate_profile": lambda name: profile_from_config(cfg.plates, name),
            "plate_min_confidence": cfg.plates.min_confidence,
        }
        if plates
        else {}
    )
    search = PostEventSearch(
        env.repo,
        store,
        index,
        svc.audit,
        svc.deployments,
        face_pipeline(),
        threshold=FacesConfig().identification.threshold,
        **plate_args,
    )
    runner = PostEventRunner(lambda: search, store)
    svc.postevent = runner
    return auth, runner


@dataclass
class RecordedCase:
    """A recorded clip on ``cam-1``, an approved post-event authorisation over ``cam-1`` and
    ``cam-2`` and an open case of the investigator: what every post-event search test starts
    from."""

    world: World
    db: Database
    index: SegmentIndex
    auth: str
    case: str
    segments: list[SegmentRow]


def recorded_case(
    tmp: Path, clip: Path, *, title: str, frames: int, segment_s: float
) -> RecordedCase:
    """Record ``clip`` (its first ``frames`` seconds' worth, see :func:`record_file`) into
    ``segment_s`` segments under a fresh migrated database, with the authorisation and case."""
    db = migrated_db(tmp)
    w = make_world(Repository(db), tmp)
    w.clock.now = datetime.now(UTC) - timedelta(minutes=1)
    auth = post_event(w, ("cam-1", "cam-2"))
    w.deployments.approve(OFFICER, auth, "warrant checked")
    case = uuid.uuid4().hex
    w.repo.add_case(CaseRow(case, title, INVESTIGATOR.id, w.clock()))
    index = index_over(db, tmp / "rec")
    record_file(clip, index, frames=frames, segment_s=segment_s)
    segs = index.window("cam-1", w.clock(), w.clock() + timedelta(hours=1))
    assert len(segs) >= 3, "the recorder wrote too few segments to test progress"
    return RecordedCase(w, db, index, auth, case, segs)
