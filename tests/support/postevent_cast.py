"""A multi-person recording for the post-event face search's recall evaluation (issue 19 target).

Real pedestrians (OpenCV's ``vtest.avi``) with real LFW face photos composited at known seconds
over two cameras, as :mod:`tests.support.postevent` does for one person:

* **enrolled** people: each has a *probe* photo (never on screen; it is what the investigator
  searches with) and three *other* photos, each on screen once for two seconds;
* **non-enrolled** people: two appearances each, never searched for.

One face is on screen at a time, so a hit (the frame's best score) names exactly one person:
a hit inside an appearance of the searched person counts towards recall, inside another
enrolled person's appearance it is a *wrong-person* report, inside a non-enrolled person's it
is a *non-enrolled* report, and outside every appearance it is *unexplained* (a face of the
footage itself, or a ghost).

The people are fixed by name (well-photographed LFW identities, chosen before any search was
run); their photos are the first ones in name order on which the face detector finds exactly
one face (so the pasted face is the labelled person); no photo is picked for how well it
scores. LFW is also what the shipped calibration was measured on (the impostor curve counts
these people's pairs), so the threshold is not independent of this cast; an evaluation on
another population needs its own calibration.

The evaluation (:func:`evaluate`) records both clips through the real recorder into encrypted,
hashed segments, and runs one real :class:`vigil.governance.postevent.PostEventSearch` job per
enrolled person over both cameras; ``bench/eval_postevent.py`` writes its JSON report and
``tests/integration/test_postevent_recall.py`` gates a smaller cast.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from tests.support.data import shared_data
from tests.support.evidence import face_pipeline
from tests.support.postevent import _paste
from vigil.perception.faces.pipeline import FacePipeline
from vigil.perception.image import load_image
from vigil.system.demo import face_patch

ENROLLED = ("Colin_Powell", "Serena_Williams", "Vladimir_Putin", "Laura_Bush")
OTHERS = (
    "Hugo_Chavez",
    "Junichiro_Koizumi",
    "Jean_Chretien",
    "John_Ashcroft",
    "Gloria_Macapagal_Arroyo",
    "Jacques_Chirac",
)
CAMERAS = ("cam-1", "cam-2")
ON_S, GAP_S = 2, 1  # each appearance: 2 s on screen, then 1 s without a face
FPS = 10
# vtest.avi has 795 frames: camera 2 replays its second half (other pedestrians)
FOOTAGE_OFFSET = {"cam-1": 0, "cam-2": 400}
SLACK_S = 0.05  # a hit this close to an appearance's edge belongs to it (frame timing)


@dataclass(frozen=True, slots=True)
class Appearance:
    """One person on one camera from ``start`` to ``end`` (exclusive) clip seconds."""

    person: str
    photo: Path
    camera: str
    start: int
    end: int
    x: float  # horizontal centre, as a share of the frame width
    enrolled: bool

    def holds(self, camera: str, t: float) -> bool:
        return camera == self.camera and self.start - SLACK_S <= t < self.end + SLACK_S


@dataclass(frozen=True)
class Cast:
    """Who is searched for (probe photos) and who is on screen when and where."""

    probes: dict[str, Path]
    appearances: tuple[Appearance, ...]
    seconds: int  # length of each camera's clip

    def at(self, camera: str, t: float) -> Appearance | None:
        return next((a for a in self.appearances if a.holds(camera, t)), None)


def _usable(folder: Path, det: FacePipeline, n: int) -> list[Path]:
    """The first ``n`` photos (name order) on which the detector finds exactly one face.

    One, not "at least one": an LFW photo may hold a second, larger face (``Laura_Bush_0002``
    shows George W. Bush beside her), and the largest face is what is pasted and what a probe
    is made of, so a two-face photo would put the wrong person in the ground truth."""
    out: list[Path] = []
    for photo in sorted(folder.glob("*.jpg")):
        if len(det.detector.detect(load_image(photo))) == 1:
            out.append(photo)
        if len(out) == n:
            return out
    raise AssertionError(f"{folder.name} has fewer than {n} photos with a detectable face")


def build_cast(enrolled: int = len(ENROLLED), others: int = len(OTHERS)) -> Cast:
    """The first ``enrolled`` of :data:`ENROLLED` (3 appearances each, probe = another photo)
    and the first ``others`` of :data:`OTHERS` (2 appearances each), interleaved and spread
    over the two cameras in turn."""
    if not (1 <= enrolled <= len(ENROLLED) and 0 <= others <= len(OTHERS)):
        raise ValueError(
            f"need 1-{len(ENROLLED)} enrolled and 0-{len(OTHERS)} other people, "
            f"got {enrolled} and {others}"
        )
    lfw = shared_data("lfw", "lfw-deepfunneled")
    pipe = face_pipeline()
    probes: dict[str, Path] = {}
    shown: list[list[tuple[str, Path, bool]]] = [[], []]
    for name in ENROLLED[:enrolled]:
        probe, *photos = _usable(lfw / name, pipe, 4)
        probes[name] = probe
        shown[0] += [(name, p, True) for p in photos]
    for name in OTHERS[:others]:
        shown[1] += [(name, p, False) for p in _usable(lfw / name, pipe, 2)]
    # round-robin over people inside each group, then alternate the groups
    order = [sorted(g, key=lambda s: (s[1].name[-8:], s[0])) for g in shown]
    merged: list[tuple[str, Path, bool]] = []
    for i in range(max(len(order[0]), len(order[1]))):
        merged += [g[i] for g in order if i < len(g)]
    apps = []
    for i, (name, photo, is_enrolled) in enumerate(merged):
        start = 1 + (i // len(CAMERAS)) * (ON_S + GAP_S)
        x = 0.2 + 0.6 * ((i * 7) % 10) / 10
        apps.append(Appearance(name, photo, CAMERAS[i % 2], start, start + ON_S, x, is_enrolled))
    seconds = max(a.end for a in apps) + 2
    return Cast(probes, tuple(apps), seconds)


def cast_clip(folder: Path, cast: Cast, camera: str) -> Path:
    """``camera``'s clip: its part of vtest with its appearances pasted in."""
    out = folder / f"cast-{camera}-{len(cast.appearances)}.mp4"
    if not out.exists():
        mine = [a for a in cast.appearances if a.camera == camera]
        composite_clip(out, mine, cast.seconds, FOOTAGE_OFFSET[camera])
    return out


def composite_clip(out: Path, apps: Sequence[Appearance], seconds: int, first: int = 0) -> Path:
    """``seconds`` of vtest from frame ``first`` with each appearance's face pasted in while it
    is on screen (MPEG-4, 10 fps, 1 s GOP, as :func:`tests.support.postevent.scheduled_clip`)."""
    import av

    det = face_pipeline().detector
    patches = {a.photo: face_patch(load_image(a.photo), det) for a in apps}
    vtest = shared_data("opencv_vtest", "vtest.avi")
    frames, n = seconds * FPS, -1
    with av.open(str(vtest)) as src, av.open(str(out), "w") as dst:
        vin = src.streams.video[0]
        stream = dst.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height = vin.codec_context.width, vin.codec_context.height
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = 2_000_000
        stream.codec_context.gop_size = FPS
        for i, frame in enumerate(src.decode(vin)):
            if i < first:
                continue
            n = i - first
            if n >= frames:
                break
            img = np.asarray(frame.to_ndarray(format="bgr24"), np.uint8)
            for a in apps:
                if a.start <= n / FPS < a.end:
                    _paste(img, patches[a.photo], int(img.shape[1] * a.x), int(img.shape[1] * 0.16))
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    if n + 1 < frames:
        raise AssertionError(f"vtest.avi ran out after {n + 1} of {frames} frames")
    return out


def photos_of(person: str, n: int) -> list[Path]:
    """The first ``n`` LFW photos of ``person`` with exactly one detectable face."""
    return _usable(shared_data("lfw", "lfw-deepfunneled", person), face_pipeline(), n)


@dataclass
class Tally:
    """What the jobs reported, judged against the cast, at one threshold."""

    threshold: float
    known: int = 0  # appearances of the searched people
    found: int = 0  # ... with at least one hit
    hits: int = 0  # hit frames on the searched person
    wrong_person_hits: int = 0  # hit frames on another enrolled person
    wrong_person_appearances: set[tuple[str, str, int]] = field(default_factory=set)
    non_enrolled_hits: int = 0
    non_enrolled_people: set[str] = field(default_factory=set)
    unexplained_hits: int = 0
    missed: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.known if self.known else math.nan

    def as_json(self) -> dict[str, object]:
        return {
            "threshold": round(self.threshold, 6),
            "appearances_known": self.known,
            "appearances_found": self.found,
            "recall": round(self.recall, 4),
            "hits_on_searched_person": self.hits,
            "wrong_person_hits": self.wrong_person_hits,
            "wrong_person_appearances": len(self.wrong_person_appearances),
            "non_enrolled_hits": self.non_enrolled_hits,
            "non_enrolled_people_reported": len(self.non_enrolled_people),
            "unexplained_hits": self.unexplained_hits,
            "missed": self.missed,
        }


@dataclass(frozen=True, slots=True)
class Hit:
    """One stored result of a job, in clip seconds of its camera."""

    searched: str
    camera: str
    t: float
    score: float


def tally(
    cast: Cast, hits: list[Hit], threshold: float, searched: Sequence[str] | None = None
) -> Tally:
    """Judge ``hits`` at or above ``threshold`` against the cast (see the module docstring);
    recall counts the appearances of the ``searched`` people (default: every enrolled one)."""
    out = Tally(threshold)
    found: set[tuple[str, Appearance]] = set()
    for h in hits:
        if h.score < threshold:
            continue
        a = cast.at(h.camera, h.t)
        if a is None:
            out.unexplained_hits += 1
        elif a.person == h.searched:
            out.hits += 1
            found.add((h.searched, a))
        elif a.enrolled:
            out.wrong_person_hits += 1
            out.wrong_person_appearances.add((h.searched, a.camera, a.start))
        else:
            out.non_enrolled_hits += 1
            out.non_enrolled_people.add(a.person)
    for person in cast.probes if searched is None else searched:
        for a in cast.appearances:
            if a.person != person:
                continue
            out.known += 1
            if (person, a) in found:
                out.found += 1
            else:
                out.missed.append(f"{person} {a.camera} {a.start}-{a.end}s ({a.photo.name})")
    return out


@dataclass
class EvalRun:
    """The raw outcome of :func:`evaluate`: every stored hit, and the jobs' speed."""

    cast: Cast
    hits: list[Hit]
    threshold: float
    video_s_per_job: float
    wall_s: list[float]
    segments: int


def evaluate(
    folder: Path, cast: Cast, threshold: float, searched: Sequence[str] | None = None
) -> EvalRun:
    """Record the cast's clips through the real recorder (encrypted segments, ``cam-1`` and
    ``cam-2``) and run one post-event job per enrolled person (or per ``searched`` one) over
    both cameras at
    ``threshold``, through :class:`PostEventSearch` (authorisation, case, audit, per-segment
    state, the packaged calibration's rates), as the API's worker does."""
    unknown = set(searched or ()) - set(cast.probes)
    if unknown:
        raise ValueError(f"not enrolled in the cast: {sorted(unknown)}")
    from tests.support.api_env import migrated_db
    from tests.support.governance_world import INVESTIGATOR, OFFICER, make_world, post_event
    from tests.support.recording import index_over, record_file
    from vigil.config.settings import PACKAGED_CALIBRATION
    from vigil.core.domain import CaseRow
    from vigil.governance.postevent import PostEventSearch, probe_template
    from vigil.identification.calibration import FalseAlertModel
    from vigil.storage import Repository
    from vigil.storage.postevent import PostEventStore

    db = migrated_db(folder)
    try:
        repo = Repository(db)
        w = make_world(repo, folder)
        w.clock.now = datetime.now(UTC) - timedelta(minutes=1)
        auth = post_event(w, CAMERAS)
        w.deployments.approve(OFFICER, auth, "warrant checked")
        case = uuid.uuid4().hex
        repo.add_case(CaseRow(case, "robbery", INVESTIGATOR.id, w.clock()))
        index = index_over(db, folder / "rec", key=b"k" * 32)
        for cam in CAMERAS:
            clip = cast_clip(folder, cast, cam)
            record_file(clip, index, frames=cast.seconds - 1, camera_id=cam, segment_s=4.0)
        segs = {c: index.window(c, w.clock(), w.clock() + timedelta(hours=1)) for c in CAMERAS}
        anchors = {c: rows[0].started_at for c, rows in segs.items()}
        end = max(s.ended_at for rows in segs.values() for s in rows)
        pipe = face_pipeline()
        search = PostEventSearch(
            repo, PostEventStore(db), index, w.audit, w.deployments, pipe,
            threshold=threshold, rates=FalseAlertModel.from_file(PACKAGED_CALIBRATION),
        )  # fmt: skip
        hits: list[Hit] = []
        walls: list[float] = []
        for person in cast.probes if searched is None else searched:
            photo = cast.probes[person]
            job = search.start(
                INVESTIGATOR,
                case_id=case,
                authorisation_id=auth,
                cameras=list(CAMERAS),
                start=min(anchors.values()) - timedelta(seconds=1),
                end=end + timedelta(seconds=1),
                reason=f"robbery suspect {person}",
            )
            t0 = time.perf_counter()
            done = search.run(job.id, probe_template(pipe, load_image(photo)))
            walls.append(time.perf_counter() - t0)
            if done.state != "done":
                raise AssertionError(f"job for {person} ended {done.state}")
            for r in search.view_results(INVESTIGATOR, job.id, "evaluation", limit=100_000):
                t = (r.at - anchors[r.camera_id]).total_seconds()
                hits.append(Hit(person, r.camera_id, t, r.score))
        video_s = sum((s.ended_at - s.started_at).total_seconds() for r in segs.values() for s in r)
        count = sum(len(r) for r in segs.values())
        return EvalRun(cast, hits, threshold, video_s, walls, count)
    finally:
        db.dispose()


def score_rows(run: EvalRun) -> list[dict[str, object]]:
    """Every hit as a JSON row (for the report's appendix)."""
    rows = []
    for h in sorted(run.hits, key=lambda h: (h.searched, h.camera, h.t)):
        a = run.cast.at(h.camera, h.t)
        rows.append(
            {
                "searched": h.searched,
                "camera": h.camera,
                "t": round(h.t, 2),
                "score": round(h.score, 4),
                "on_screen": None if a is None else a.person,
            }
        )
    return rows


def best_scores(run: EvalRun) -> dict[str, float]:
    """Per (searched person, on-screen person): the best reported score (how near the wrong
    ones came; only hits are stored, so this is ``>= threshold`` or absent)."""
    best: dict[str, float] = {}
    for h in run.hits:
        a = run.cast.at(h.camera, h.t)
        key = f"{h.searched} -> {'none' if a is None else a.person}"
        best[key] = max(best.get(key, -1.0), round(h.score, 4))
    return best
