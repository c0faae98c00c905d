"""The pure per-frame people step of one camera: detections → tracks → counts, zones, crowd.

:class:`PeopleAnalysis` is the one implementation of what happens to a camera's person and vehicle
detections. ``vigil run`` calls it through :class:`vigil.system.people.PeopleStage` (which owns
the detector, the plate stage and the storage sink), ``vigil eval tracking`` calls it on MOT17
sequences and ``python -m bench --only objects`` times it on vtest, so the accuracy and speed
figures are those of the code that runs live.

What one :meth:`PeopleAnalysis.step` does, in order:

1. **Track** every detection (persons and vehicles, including the weak boxes down to the
   detector's floor, which ByteTrack's second association pass needs).
2. **Count** the persons and vehicles at ``score_threshold`` (raw boxes, not tracks, so a person
   is counted from the first frame) and each person track once, when it is first confirmed.
3. **Zones and lines** (when the camera has them): occupancy, crossings and loitering of the
   tracked persons above the threshold, from :class:`~vigil.analytics.zones.ZoneAnalytics`.
4. **Heatmap**: where the counted persons stand (feet), decaying.
5. **Crowd samples**: every ``crowd.sample_every_s`` seconds of *capture* time the mean person
   count of the frames in that interval becomes one :class:`~vigil.core.records.CrowdSample`
   (and one per zone); the :class:`~vigil.analytics.crowd.CrowdMonitor` may raise alerts on it.

The step takes no image and does no I/O: it needs only the :class:`~vigil.core.FrameRef` (time
and frame size) and the :class:`~vigil.core.Detections`, and returns a :class:`PeopleFrame` of
plain records. Storing the samples and alerts, reading plates on vehicle tracks and updating the
live view are the caller's business; this is the seam where cluster mode can run the step on
another machine than the one that stores its results. The state it keeps between frames (tracker,
zone dwell, counted ids, the open sample window) is bounded per camera.

It never looks at faces and keeps no image: face tracks are linked to the person tracks of a
:class:`PeopleFrame` by :func:`vigil.identification.person_links.link_face_tracks`, inside the
identification path, so no biometric data enters this step.

Counting boxes undercounts dense, distant crowds (see docs/people-and-vehicles.md); it is the live
method because it is cheap and its failure is visible, and the samples are labelled ``boxes``.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from vigil.analytics.crowd import CrowdAlert, CrowdMonitor, CrowdThresholds, Heatmap
from vigil.analytics.zones import LineCrossing, LoiterEvent, ZoneAnalytics, anchors
from vigil.config.analytics import PeopleConfig
from vigil.core import Detections, FrameRef, ObjectClass, TrackState
from vigil.core.records import Alert, AlertKind, CrowdSample
from vigil.tracking.bytetrack import ByteTracker, TrackerOutput, TrackEvent


def thresholds(config: PeopleConfig) -> CrowdThresholds:
    """The crowd monitor's thresholds from the ``people.crowd`` config section."""
    c = config.crowd
    return CrowdThresholds(
        overcrowd=c.overcrowd,
        sustain=c.sustain,
        surge_factor=c.surge_factor,
        dispersal_factor=c.dispersal_factor,
        min_delta=c.min_delta,
        min_baseline=c.min_baseline,
        baseline_s=c.baseline_s,
        cooldown_s=c.cooldown_s,
    )


def crowd_alert_record(alert: CrowdAlert) -> Alert:
    """The stored form of a crowd alert; its id is derived from camera, kind and time, so the
    same alert written twice (a retried write) is one row."""
    key = f"{alert.camera_id}|{alert.zone}|{alert.kind.value}|{alert.at.isoformat()}"
    return Alert(
        id="crowd-" + hashlib.sha256(key.encode()).hexdigest()[:20],
        kind=AlertKind.CROWD,
        camera_id=alert.camera_id,
        raised_at=alert.at,
        score=float(alert.count),
        detail=alert.detail,
    )


@dataclass(frozen=True)
class CrowdReading:
    """One completed crowd sample and the crowd alerts the monitor raised on it."""

    sample: CrowdSample
    alerts: tuple[CrowdAlert, ...] = ()

    def alert_records(self) -> list[Alert]:
        """The alerts in their stored form (what the storage sink writes)."""
        return [crowd_alert_record(a) for a in self.alerts]


@dataclass(frozen=True)
class PeopleFrame:
    """What the people step made of one frame: tracks, counts, zone events and crowd samples.

    Attributes:
        frame: the frame this result is for.
        tracked: the tracker's output (every class; ``tracker_id`` -1 for unassigned boxes) —
            the plate stage reads its vehicle tracks, identification its person tracks.
        counted: the person boxes counted in this frame (score ≥ ``score_threshold``).
        people_now: persons at the score threshold in this frame.
        vehicles_now: vehicles at the score threshold in this frame.
        person_tracks_active: confirmed person tracks after this frame.
        new_person_tracks: person tracks confirmed for the first time in this frame.
        zone_counts: persons per zone (empty when the camera has no zones).
        crossings: line crossings completed in this frame.
        loitering: loitering events raised in this frame.
        crowd: the crowd samples completed by this frame (usually none), with their alerts.
    """

    frame: FrameRef
    tracked: TrackerOutput
    counted: Detections
    people_now: int
    vehicles_now: int
    person_tracks_active: int
    new_person_tracks: int
    zone_counts: dict[str, int] = field(default_factory=dict)
    crossings: list[LineCrossing] = field(default_factory=list)
    loitering: list[LoiterEvent] = field(default_factory=list)
    crowd: list[CrowdReading] = field(default_factory=list)

    @property
    def persons(self) -> Detections:
        """The tracked person boxes with their track ids (for linking face tracks)."""
        return self.tracked.detections.of_class(ObjectClass.PERSON)

    @property
    def alerts(self) -> list[CrowdAlert]:
        """Every crowd alert raised by this frame's samples."""
        return [a for reading in self.crowd for a in reading.alerts]


class PeopleAnalysis:
    """One camera's people tracking, counting, zones and crowd sampling (see the module doc).

    Args:
        camera_id: the camera (one instance per camera: the tracker and windows are per camera).
        config: the ``people`` section: ``score_threshold`` (what counts as a person or vehicle;
            lower counts more distant people and more false boxes), ``track_buffer`` (frames a
            lost track waits for re-association; longer bridges occlusions, holds ids longer) and
            the crowd sample interval and thresholds.
        monitor: the crowd monitor (default: one built from ``config.crowd``).
        zones: the camera's zones and lines, or ``None`` for none.
    """

    def __init__(
        self,
        camera_id: str,
        config: PeopleConfig,
        *,
        monitor: CrowdMonitor | None = None,
        zones: ZoneAnalytics | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.config = config
        self.tracker = ByteTracker(camera_id, track_buffer=config.track_buffer)
        self.monitor = monitor or CrowdMonitor(thresholds(config), max_series=64)
        self.zones = zones
        # Where people stood (feet), decaying: made at the first frame's size. Read from the
        # API thread while the step writes, hence the lock.
        self.heatmap: Heatmap | None = None
        self._heat_lock = threading.Lock()
        self._counted: set[int] = set()  # live person tracks already counted
        self._zone_counts: dict[str, list[int]] = {}  # bounded: the camera's zones
        self._window_start: datetime | None = None
        self._window_counts: list[int] = []

    def step(self, frame: FrameRef, detections: Detections) -> PeopleFrame:
        """Track, count and sample one frame's detections; no I/O (see the module docstring)."""
        out = self.tracker.update(detections, frame.captured_at)
        strong = detections[detections.confidence >= self.config.score_threshold]
        persons = strong.of_class(ObjectClass.PERSON)
        self._heat(frame, persons)
        new_tracks = 0
        for event in out.events:  # a person is counted once, when its track is first confirmed
            if event.track.object_class is not ObjectClass.PERSON:
                continue
            tid = event.track.track_id
            if event.kind == TrackState.CONFIRMED and tid not in self._counted:
                self._counted.add(tid)
                new_tracks += 1
            elif event.kind == TrackState.CLOSED:
                self._counted.discard(tid)  # closed tracks never return: the set stays bounded
        zone_counts: dict[str, int] = {}
        crossings: list[LineCrossing] = []
        loitering: list[LoiterEvent] = []
        if self.zones is not None:
            people = out.detections.of_class(ObjectClass.PERSON)
            update = self.zones.update(
                people[people.confidence >= self.config.score_threshold], frame.captured_at
            )
            zone_counts, crossings, loitering = (
                dict(update.counts),
                update.crossings,
                update.loitering,
            )
            for name, n in update.counts.items():
                self._zone_counts.setdefault(name, []).append(n)
        return PeopleFrame(
            frame=frame,
            tracked=out,
            counted=persons,
            people_now=len(persons),
            vehicles_now=len(strong) - len(persons),
            person_tracks_active=sum(
                t.object_class is ObjectClass.PERSON and t.state is TrackState.CONFIRMED
                for t in out.tracks
            ),
            new_person_tracks=new_tracks,
            zone_counts=zone_counts,
            crossings=crossings,
            loitering=loitering,
            crowd=self._sample(frame.captured_at, len(persons)),
        )

    def finish(self) -> list[TrackEvent]:
        """Close every open track (end of stream, shutdown); returns the closing events."""
        events = self.tracker.close_all()
        self._counted.clear()
        return events

    def heatmap_png(self) -> bytes | None:
        """The occupancy heatmap as a PNG (colours only: no camera image, so no one is shown);
        ``None`` before the first frame."""
        with self._heat_lock:
            return None if self.heatmap is None else self.heatmap.png()

    def _heat(self, frame: FrameRef, persons: Detections) -> None:
        with self._heat_lock:
            size = (frame.width, frame.height)
            if self.heatmap is None or (self.heatmap.width, self.heatmap.height) != size:
                self.heatmap = Heatmap(*size)  # a new resolution starts a new map
            self.heatmap.add(anchors(persons.xyxy), frame.captured_at)

    def _sample(self, at: datetime, count: int) -> list[CrowdReading]:
        """Close the sample window when ``sample_every_s`` of capture time has passed."""
        if self._window_start is None:
            self._window_start = at
        self._window_counts.append(count)
        if (at - self._window_start).total_seconds() < self.config.crowd.sample_every_s:
            return []
        mean = float(np.mean(self._window_counts))
        self._window_start, self._window_counts = at, []
        samples = [CrowdSample(self.camera_id, at, round(mean, 2), "boxes")]
        samples += [  # each zone's own series (same interval), for zone thresholds and charts
            CrowdSample(self.camera_id, at, round(float(np.mean(c)), 2), "boxes", zone)
            for zone, c in self._zone_counts.items()
            if c
        ]
        self._zone_counts = {}
        return [CrowdReading(s, tuple(self.monitor.observe(s))) for s in samples]
