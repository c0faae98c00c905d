"""Live identification on one camera, as a pure step: faces → tracks → best shot → decisions.

:class:`FaceIdentifier` does no I/O. Each sampled frame comes with an :class:`Authorisation`, the
snapshot of what this camera may do now (the matchers of the live deployments in force on it,
built from their pinned watchlists, and the windows of approved post-event search authorisations
covering it), which the caller refreshes. With no authorisation, faces are detected and tracked
but **not embedded**: no template is made, so nothing could be compared. With one, quality-gated
faces are embedded, each track keeps its best shot, and when the track closes that one template
is searched against each live deployment's gallery (the matcher re-checks its deployment handle
before every comparison).

A closed track yields at most one :class:`TrackDecision`, a typed, picklable record:

* a match: the probe crop (JPEG bytes) and one :class:`FaceHit` per deployment that matched, with
  the score, the calibrated false-alert rate at that score for the gallery size and the rank-2
  margin; :class:`vigil.governance.recorder.IdentificationRecorder` turns it into a sighting,
  alerts and audit entries in one transaction;
* no match, inside an approved post-event authorisation's window: the crop and the template, to
  be archived for the authorised search;
* no match otherwise: **nothing**; the crop and template are dropped there and then, so non-match
  biometrics never leave this object's memory (the property cluster mode relies on when this
  step runs on another machine than the recorder).

The scan counts per deployment (faces compared, alerts) are kept here and handed out by
:meth:`FaceIdentifier.take_counts` for the ``deployment.scan_summary`` audit entries.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import cv2
import numpy as np
import numpy.typing as npt

from vigil.analytics.people import PeopleFrame
from vigil.core.records import FrameRef
from vigil.identification.calibration import RateEstimate
from vigil.identification.matcher import MatchDecision, WatchlistMatcher
from vigil.identification.person_links import link_face_tracks
from vigil.identification.tracks import FaceTrack, FaceTracker
from vigil.perception.faces.cascade import CascadeBand
from vigil.perception.faces.pipeline import FacePipeline

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Authorisation:
    """What one camera may do now: live deployments' matchers and post-event windows.

    Attributes:
        matchers: one per live deployment in force on the camera (each re-checks its handle).
        post_event: ``(start, end)`` of approved post-event search authorisations covering the
            camera; a non-matching track wholly inside one is archived for that search.
    """

    matchers: tuple[WatchlistMatcher, ...] = ()
    post_event: tuple[tuple[datetime, datetime], ...] = ()

    def embeds(self, camera_id: str, at: datetime) -> bool:
        """Whether faces seen at ``at`` may be embedded (a deployment or a post-event window)."""
        return bool(self.live(camera_id, at)) or any(s <= at <= e for s, e in self.post_event)

    def live(self, camera_id: str, at: datetime) -> list[WatchlistMatcher]:
        """The matchers whose deployment covers ``camera_id`` at ``at`` (not stopped)."""
        return [m for m in self.matchers if m.deployment.covers(camera_id, at)]

    def archives(self, first: datetime, last: datetime) -> bool:
        return any(s <= first and last <= e for s, e in self.post_event)


NONE = Authorisation()


@dataclass(frozen=True, slots=True)
class FaceHit:
    """One deployment's match for a closed track (what an alert records)."""

    deployment_id: str
    subject_id: str
    watchlist_id: str
    template_id: str
    enrolled_key: str | None
    score: float
    false_alert: RateEstimate
    rank2_margin: float | None
    gallery_size: int

    @property
    def false_alert_rate(self) -> float:
        """The rate that is shown and acted on: the 95% upper bound."""
        return self.false_alert.upper


@dataclass(frozen=True)
class TrackDecision:
    """What a closed face track leaves behind: hits (alerts) or an archived template."""

    camera_id: str
    first_seen: datetime
    last_seen: datetime
    best_quality: float
    probe_jpeg: bytes = field(repr=False)
    hits: tuple[FaceHit, ...] = ()
    embedding: npt.NDArray[np.float32] | None = field(default=None, repr=False)
    model: str = "face"

    @property
    def is_match(self) -> bool:
        return bool(self.hits)


class FaceIdentifier:
    """Face tracks and 1:N decisions for one camera; no I/O (see the module docstring).

    Args:
        camera_id: the camera this identifier serves.
        pipeline: detection, quality gate and embedding.
        tracker: the face tracker (a fresh one by default).
        clock: the time source (tracks close on sampled frames' times; matching uses ``clock``).
        band: the calibrated cascade band; with it (and a pipeline with a cascade) faces are
            embedded with the cheap member and the fusion is completed only for best shots
            whose cheap score reaches the band at a matcher's threshold, and for archived
            ones: every hit and archived template is the fused one.
    """

    def __init__(
        self,
        camera_id: str,
        pipeline: FacePipeline,
        *,
        tracker: FaceTracker | None = None,
        clock: Callable[[], datetime] = _utc_now,
        band: CascadeBand | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.pipeline = pipeline
        self.tracker = tracker or FaceTracker(camera_id)
        self.clock = clock
        self.band = band if getattr(pipeline, "cascade", None) is not None else None
        self.scanned: Counter[str] = Counter()
        self.alerted: Counter[str] = Counter()
        self.tracks_closed = 0
        #: The latest frame's index and face boxes (boxes only, never crops or embeddings):
        #: drawn as plain boxes on the console's live tile. Replaced every frame.
        self.last_boxes: tuple[int, npt.NDArray[np.float32]] = (-1, np.zeros((0, 4), np.float32))
        self.cascade_probes = 0  # best shots searched through the cascade
        self.cascade_fused = 0  # of them, those whose fusion was completed

    def process(
        self,
        image: npt.NDArray[np.uint8],
        frame: FrameRef,
        auth: Authorisation,
        people: PeopleFrame | None = None,
    ) -> list[TrackDecision]:
        """Analyse one sampled frame; returns the decisions of tracks that closed on it.

        ``people``: the people step's result for the same frame, if the camera runs one; the
        face tracks seen in it are linked to person tracks (one family of track ids).
        """
        embed = auth.embeds(self.camera_id, self.clock())
        if self.band is not None:  # the cascade: the cheap member's templates per frame
            found = self.pipeline.analyse(image, frame, embed=embed, cheap=True)
        else:
            found = self.pipeline.analyse(image, frame, embed=embed)
        boxes = [np.asarray(o.xyxy, np.float32) for o in found.observations]
        self.last_boxes = (frame.index, np.array(boxes, np.float32).reshape(-1, 4))
        closed = self.tracker.update(found.observations, found.crops)
        if people is not None and people.frame == frame:
            link_face_tracks(self.tracker.open.values(), people)
        return [d for track in closed if (d := self._close(track, auth)) is not None]

    def finish(self, auth: Authorisation) -> list[TrackDecision]:
        """Close every open track (end of stream, shutdown)."""
        closed = self.tracker.close_all()
        return [d for track in closed if (d := self._close(track, auth)) is not None]

    def take_counts(self) -> tuple[Counter[str], Counter[str]]:
        """Faces compared and alerts per deployment since the last call (then reset)."""
        counts = (self.scanned, self.alerted)
        self.scanned, self.alerted = Counter(), Counter()
        return counts

    def _close(self, track: FaceTrack, auth: Authorisation) -> TrackDecision | None:
        self.tracks_closed += 1
        try:
            best = track.best
            if best is None or best.embedding is None or track.best_crop is None:
                return None
            now = self.clock()
            probe = _Probe(self, best.embedding, track.best_crop)
            hits: list[FaceHit] = []
            for matcher in auth.live(self.camera_id, now):
                if track.last_seen < matcher.deployment.row.starts_at:
                    continue
                self.scanned[matcher.deployment.id] += 1
                fused = probe.for_matcher(matcher, now)
                if fused is None:
                    continue  # the cascade: no comparison here could have passed the fusion
                decision = matcher.match(fused, self.camera_id, now)
                if decision.is_match:
                    hits.append(_hit(decision, matcher))
                    self.alerted[matcher.deployment.id] += 1
            if hits:
                return self._decision(track, tuple(hits), None)
            if auth.archives(track.first_seen, track.last_seen):
                return self._decision(track, (), probe.fused().copy())
            return None
        finally:
            track.forget_biometrics()  # non-match biometrics never outlive the track

    def _decision(
        self,
        track: FaceTrack,
        hits: tuple[FaceHit, ...],
        embedding: npt.NDArray[np.float32] | None,
    ) -> TrackDecision:
        assert track.best_crop is not None
        ok, buf = cv2.imencode(".jpg", track.best_crop, [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:
            raise RuntimeError("could not encode the probe crop")
        return TrackDecision(
            self.camera_id,
            track.first_seen,
            track.last_seen,
            track.best_quality,
            buf.tobytes(),
            hits,
            embedding,
            str(getattr(self.pipeline.embedder, "name", "face")),
        )


def _hit(d: MatchDecision, matcher: WatchlistMatcher) -> FaceHit:
    assert d.candidate is not None
    entry = d.candidate.entry
    return FaceHit(
        deployment_id=matcher.deployment.id,
        subject_id=entry.subject_id,
        watchlist_id=entry.watchlist_id,
        template_id=entry.template_id,
        enrolled_key=entry.image_key,
        score=d.score,
        false_alert=d.false_alert,
        rank2_margin=d.rank2_margin,
        gallery_size=d.gallery_size,
    )


class _Probe:
    """A closed track's best shot as the cascade sees it: the template it was embedded with and,
    completed at most once and only when needed, the fused template."""

    def __init__(
        self,
        owner: FaceIdentifier,
        embedding: npt.NDArray[np.float32],
        crop: npt.NDArray[np.uint8],
    ) -> None:
        self.owner = owner
        self.embedding = np.asarray(embedding, np.float32)
        self.crop = crop
        self._fused: npt.NDArray[np.float32] | None = None
        self.counted = False

    def fused(self) -> npt.NDArray[np.float32]:
        cascade = getattr(self.owner.pipeline, "cascade", None)
        if self.owner.band is None or cascade is None:
            return self.embedding  # no cascade: the embedding is the fused template already
        if self._fused is None:
            self._fused = cascade.complete(self.crop[None], self.embedding[None])[0]
            self.owner.cascade_fused += 1
        return self._fused

    def for_matcher(
        self, matcher: WatchlistMatcher, now: datetime
    ) -> npt.NDArray[np.float32] | None:
        """The fused template to match, or ``None`` when the cheap score is below the band."""
        band, cascade = self.owner.band, getattr(self.owner.pipeline, "cascade", None)
        if band is None or cascade is None:
            return self.embedding
        if not self.counted:
            self.owner.cascade_probes += 1
            self.counted = True
        cheap = matcher.cheap_best(self.embedding, cascade, self.owner.camera_id, now)
        if cheap < band.lower_for(matcher.threshold):
            return None
        return self.fused()
