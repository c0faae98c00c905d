"""The live people stage of one camera: persons and vehicles → tracks → counts → crowd series.

Runs on every analysed frame of a camera whose analytics include ``persons``, ``vehicles`` or
``crowd``. It detects people and vehicles (NanoDet, shared by all cameras: an ONNX Runtime
session is thread-safe), tracks them per camera (ByteTrack-class, bounded state), and every
``crowd.sample_every_s`` seconds of *capture* time turns the mean person count of the frames in
that interval into one :class:`~vigil.core.records.CrowdSample`. The sample goes to the
:class:`~vigil.analytics.crowd.CrowdMonitor` (which may raise overcrowding, surge or dispersal
alerts) and, when storage is attached, to the database — from where the API serves the series and
the event watcher publishes it over WebSocket and MQTT.

What it never does: look at faces or keep images. Person tracks here carry boxes and ids only;
faces are the identification path's business (and only inside a deployment), so this stage adds
no biometric data to the system.

Counting boxes undercounts dense, distant crowds (see docs/people-and-vehicles.md: box counting
is far from the density method on ShanghaiTech); it is the live method because it is cheap and
its failure is visible (boxes on the live view), and the samples are labelled ``boxes``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from vigil.analytics.crowd import CrowdAlert, CrowdMonitor, CrowdThresholds, Heatmap
from vigil.analytics.zones import CountLine, Zone, ZoneAnalytics, anchors
from vigil.config.analytics import PeopleConfig
from vigil.core import Detections, FrameRef, ObjectClass, TrackState
from vigil.core.records import Alert, AlertKind, CrowdSample
from vigil.perception.objects.detector import ObjectDetector
from vigil.tracking.bytetrack import ByteTracker

if TYPE_CHECKING:
    from vigil.config.settings import CameraConfig
    from vigil.system.plates import PlateStage

log = logging.getLogger(__name__)

#: Receives each stored crowd sample and the crowd alerts it raised (the storage/notify side).
CrowdSink = Callable[[CrowdSample, list[Alert]], None]


def thresholds(config: PeopleConfig) -> CrowdThresholds:
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


def zone_analytics(camera: CameraConfig) -> ZoneAnalytics | None:
    """The camera's configured zones and lines, or ``None`` when it has neither."""
    if not camera.zones and not camera.lines:
        return None
    zones = [Zone(z.name, np.array(z.polygon, np.float64)) for z in camera.zones]
    lines = [CountLine(ln.name, ln.a, ln.b) for ln in camera.lines]
    return ZoneAnalytics(zones, lines, zone_loiter_s={z.name: z.loiter_s for z in camera.zones})


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


@dataclass
class PeopleView:
    """What the live view and the API show of one camera's people stage (scalars only)."""

    people_now: int = 0
    vehicles_now: int = 0
    person_tracks_active: int = 0
    person_tracks_total: int = 0
    crowd_samples: int = 0
    crowd_alerts: int = 0
    last_crowd_count: float | None = None
    ms_ewma: float = 0.0
    zone_counts: dict[str, int] = field(default_factory=dict)  # bounded: the camera's zones
    line_crossings: dict[str, int] = field(default_factory=dict)  # "<line>:in|out" -> total
    loitering: int = 0


class PeopleStage:
    """One camera's detection, tracking and crowd sampling (see the module docstring)."""

    def __init__(
        self,
        camera_id: str,
        detector: ObjectDetector,
        config: PeopleConfig,
        *,
        monitor: CrowdMonitor | None = None,
        sink: CrowdSink | None = None,
        plates: PlateStage | None = None,
        zones: ZoneAnalytics | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.detector = detector
        self.config = config
        self.tracker = ByteTracker(camera_id, track_buffer=config.track_buffer)
        self.monitor = monitor or CrowdMonitor(thresholds(config), max_series=64)
        self.sink = sink
        # Cameras with the `plates` analytic read plates of the vehicle tracks made here.
        self.plates = plates
        # Zones and lines of this camera (people only): occupancy, crossings, loitering.
        self.zones = zones
        self.view = PeopleView()
        self._zone_counts: dict[str, list[int]] = {}
        # Where people stood (feet), decaying: made at the first frame's size. Read from the
        # API thread while this stage writes, hence the lock.
        self.heatmap: Heatmap | None = None
        self._heat_lock = threading.Lock()
        self._counted: set[int] = set()  # live person tracks already counted
        self._window_start: datetime | None = None
        self._window_counts: list[int] = []

    def process(self, image: npt.NDArray[np.uint8], frame: FrameRef) -> list[CrowdAlert]:
        """Detect, track and count one frame; returns crowd alerts raised by a completed sample."""
        # The detector keeps low-score boxes (~0.1) for the tracker's second association pass;
        # only boxes at the configured score count as people or vehicles.
        dets = self.detector.detect(image)
        out = self.tracker.update(dets, frame.captured_at)
        if self.plates is not None:
            self.plates.process(image, frame, out)
        strong = dets[dets.confidence >= self.config.score_threshold]
        persons = strong.of_class(ObjectClass.PERSON)
        self._heat(image, persons, frame.captured_at)
        self.view.people_now = len(persons)
        self.view.vehicles_now = len(strong) - len(persons)
        self.view.person_tracks_active = sum(
            t.object_class is ObjectClass.PERSON and t.state is TrackState.CONFIRMED
            for t in out.tracks
        )
        for event in out.events:  # a person is counted once, when its track is first confirmed
            if event.track.object_class is not ObjectClass.PERSON:
                continue
            tid = event.track.track_id
            if event.kind == TrackState.CONFIRMED and tid not in self._counted:
                self._counted.add(tid)
                self.view.person_tracks_total += 1
            elif event.kind == TrackState.CLOSED:
                self._counted.discard(tid)  # closed tracks never return: the set stays bounded
        if self.zones is not None:
            self._zones(out.detections, frame.captured_at)
        return self._sample(frame.captured_at, len(persons))

    def _heat(self, image: npt.NDArray[np.uint8], persons: Detections, at: datetime) -> None:
        h, w = image.shape[:2]
        with self._heat_lock:
            if self.heatmap is None or (self.heatmap.width, self.heatmap.height) != (w, h):
                self.heatmap = Heatmap(w, h)  # a new resolution starts a new map
            self.heatmap.add(anchors(persons.xyxy), at)

    def heatmap_png(self) -> bytes | None:
        """The occupancy heatmap as a PNG (colours only: no camera image, so no one is shown);
        ``None`` before the first frame."""
        with self._heat_lock:
            if self.heatmap is None:
                return None
            return self.heatmap.png()

    def _zones(self, tracked: Detections, at: datetime) -> None:
        """Zone occupancy, line crossings and loitering of the tracked people in one frame."""
        assert self.zones is not None
        people = tracked.of_class(ObjectClass.PERSON)
        people = people[people.confidence >= self.config.score_threshold]
        update = self.zones.update(people, at)
        view = self.view
        view.zone_counts = dict(update.counts)
        for name, n in update.counts.items():
            self._zone_counts.setdefault(name, []).append(n)
        for crossing in update.crossings:
            key = f"{crossing.line}:{crossing.direction}"
            view.line_crossings[key] = view.line_crossings.get(key, 0) + 1
        for event in update.loitering:
            view.loitering += 1
            log.info(
                "camera %s: a tracked person has stayed %.0f s in zone %s",
                self.camera_id,
                event.dwell_s,
                event.zone,
            )

    def finish(self) -> None:
        """Close every open track (end of stream, shutdown): pending plate passes are fused."""
        events = self.tracker.close_all()
        self._counted.clear()
        if self.plates is not None:
            self.plates.finish(events)

    def _sample(self, at: datetime, count: int) -> list[CrowdAlert]:
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
        raised: list[CrowdAlert] = []
        for sample in samples:
            alerts = self.monitor.observe(sample)
            raised += alerts
            self.view.crowd_samples += 1
            self.view.crowd_alerts += len(alerts)
            if self.sink is not None:
                self.sink(sample, [crowd_alert_record(a) for a in alerts])
        self.view.last_crowd_count = samples[0].count
        return raised
