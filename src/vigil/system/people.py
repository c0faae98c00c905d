"""The live people stage of one camera: the detector, the pure people step, plates and storage.

Runs on every analysed frame of a camera whose analytics include ``persons``, ``vehicles`` or
``crowd``. It detects people and vehicles (NanoDet, shared by all cameras: an ONNX Runtime
session is thread-safe) and hands the detections to the camera's
:class:`~vigil.analytics.people.PeopleAnalysis`, the pure per-frame step (tracking, counts, zones,
heatmap, crowd samples) that ``vigil eval tracking`` and the benchmark run too. Around that step
this stage does what needs the image or the outside world: the plate stage reads plates on the
vehicle tracks, each completed crowd sample and its alerts go to the storage sink (from where the
API serves the series and the event watcher publishes it over WebSocket and MQTT), and the live
view is updated from the step's :class:`~vigil.analytics.people.PeopleFrame`.

What it never does: look at faces or keep images. Person tracks here carry boxes and ids only;
faces are the identification path's business (and only inside a deployment), so this stage adds
no biometric data to the system.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from vigil.analytics.attributes import AttributeCollector, TrackAttributes
from vigil.analytics.crossings import bucket_crossings
from vigil.analytics.crowd import CrowdAlert, CrowdMonitor
from vigil.analytics.people import PeopleAnalysis, PeopleFrame
from vigil.analytics.zones import CountLine, Zone, ZoneAnalytics
from vigil.config.analytics import PeopleConfig
from vigil.core import FrameRef
from vigil.core.keys import record_key
from vigil.core.records import Alert, CrossingCount, CrowdSample, Sighting
from vigil.perception.objects.detector import ObjectDetector

if TYPE_CHECKING:
    from vigil.config.settings import CameraConfig
    from vigil.system.plates import PlateStage

log = logging.getLogger(__name__)

#: Receives each crowd sample, the crowd alerts it raised and its idempotency key (the
#: storage/notify side).
CrowdSink = Callable[[CrowdSample, list[Alert], str], None]
#: Receives each closed person or vehicle track as a sighting with its descriptors, and its key.
SightingSink = Callable[[Sighting, str], None]
#: Receives one frame's line crossings as bucket counts, and the frame's idempotency key.
CrossingSink = Callable[[tuple[CrossingCount, ...], str], None]


def attribute_sighting(camera_id: str, attrs: TrackAttributes, key: str) -> Sighting:
    """The stored form of a closed track's descriptors; the id derives from the idempotency key,
    so a replayed frame writes the same row."""
    return Sighting(
        id="att-" + hashlib.sha256(key.encode()).hexdigest()[:28],
        camera_id=camera_id,
        object_class=attrs.object_class,
        started_at=attrs.first_seen,
        ended_at=max(attrs.last_seen, attrs.first_seen),
        best_quality=attrs.score,
        upper_colour=attrs.upper.value if attrs.upper else None,
        lower_colour=attrs.lower.value if attrs.lower else None,
        body_colour=attrs.body.value if attrs.body else None,
        colour_score=attrs.score,
        height_frac=min(1.0, attrs.height_frac),
        direction=attrs.direction.value,
    )


def zone_analytics(camera: CameraConfig) -> ZoneAnalytics | None:
    """The camera's configured zones and lines, or ``None`` when it has neither."""
    if not camera.zones and not camera.lines:
        return None
    zones = [Zone(z.name, np.array(z.polygon, np.float64)) for z in camera.zones]
    lines = [CountLine(ln.name, ln.a, ln.b) for ln in camera.lines]
    return ZoneAnalytics(zones, lines, zone_loiter_s={z.name: z.loiter_s for z in camera.zones})


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

    def apply(self, result: PeopleFrame) -> None:
        """Fold one frame's result into the running view."""
        self.people_now = result.people_now
        self.vehicles_now = result.vehicles_now
        self.person_tracks_active = result.person_tracks_active
        self.person_tracks_total += result.new_person_tracks
        self.zone_counts = dict(result.zone_counts)  # empty when the camera has no zones
        for crossing in result.crossings:
            key = f"{crossing.line}:{crossing.direction}"
            self.line_crossings[key] = self.line_crossings.get(key, 0) + 1
        self.loitering += len(result.loitering)
        for reading in result.crowd:
            self.crowd_samples += 1
            self.crowd_alerts += len(reading.alerts)
        if result.crowd:
            self.last_crowd_count = result.crowd[0].sample.count


class PeopleStage:
    """One camera's detector, people step, plate stage and crowd sink (see the module docstring).

    ``sink`` receives each crowd sample with its alerts in stored form; ``plates`` (cameras with
    the ``plates`` analytic) reads plates on the vehicle tracks made here; ``monitor`` and
    ``zones`` are passed to the :class:`~vigil.analytics.people.PeopleAnalysis` step.
    ``sightings`` receives each closed person or vehicle track as a sighting with its clothing
    or body colour, size and direction (:class:`~vigil.analytics.attributes.AttributeCollector`,
    which samples the frame image, so it runs here and not in the image-free step).
    ``crossings`` receives each frame's line crossings as per-minute bucket counts (stored and
    charted over time; the view keeps only the totals since start).
    """

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
        sightings: SightingSink | None = None,
        attributes: AttributeCollector | None = None,
        crossings: CrossingSink | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.crossings = crossings
        self.sightings = sightings
        self.attributes = attributes or (AttributeCollector() if sightings is not None else None)
        self.detector = detector
        self.config = config
        self.analysis = PeopleAnalysis(camera_id, config, monitor=monitor, zones=zones)
        self.sink = sink
        self.plates = plates
        self.view = PeopleView()
        # The latest frame's result: its person tracks are what face tracks of the same camera
        # are linked to (vigil.identification.person_links); replaced every frame, so bounded.
        self.last: PeopleFrame | None = None

    def process(self, image: npt.NDArray[np.uint8], frame: FrameRef) -> list[CrowdAlert]:
        """Detect, track and count one frame; returns crowd alerts raised by a completed sample."""
        # The detector keeps low-score boxes (~0.1) for the tracker's second association pass;
        # only boxes at the configured score count as people or vehicles (inside the step).
        result = self.analysis.step(frame, self.detector.detect(image))
        self.last = result
        if self.plates is not None:
            self.plates.process(image, frame, result.tracked)
        if self.attributes is not None:
            self.attributes.observe(image, frame, result.tracked.detections)
            self._store(self.attributes.close(result.tracked.events, frame.height), frame)
        self.view.apply(result)
        for event in result.loitering:
            log.info(
                "camera %s: a tracked person has stayed %.0f s in zone %s",
                self.camera_id,
                event.dwell_s,
                event.zone,
            )
        if self.crossings is not None and result.crossings:
            key = record_key(self.camera_id, frame.epoch, str(frame.index), "crossings")
            self.crossings(bucket_crossings(self.camera_id, result.crossings), key)
        if self.sink is not None:
            for i, reading in enumerate(result.crowd):  # position: the frame, then the zone
                key = record_key(self.camera_id, frame.epoch, f"{frame.index}.{i}", "crowd")
                self.sink(reading.sample, reading.alert_records(), key)
        return result.alerts

    def heatmap_png(self) -> bytes | None:
        """The occupancy heatmap as a PNG (colours only); ``None`` before the first frame."""
        return self.analysis.heatmap_png()

    def finish(self) -> None:
        """Close every open track (end of stream, shutdown): pending plate passes are fused."""
        events = self.analysis.finish()
        if self.plates is not None:
            self.plates.finish(events)
        if self.attributes is not None and self.last is not None:
            self._store(
                self.attributes.close(events, self.last.frame.height), self.last.frame, "end"
            )

    def _store(self, closed: list[TrackAttributes], frame: FrameRef, tag: str = "") -> None:
        if self.sightings is None:
            return
        for attrs in closed:
            key = record_key(
                self.camera_id, frame.epoch, f"{frame.index}{tag}.t{attrs.track_id}", "sighting"
            )
            self.sightings(attribute_sighting(self.camera_id, attrs, key), key)
