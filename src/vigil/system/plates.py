"""The live plate stage of one camera: vehicle tracks -> per-frame plate reads -> one fused read
per vehicle pass.

It runs behind the people stage (:class:`~vigil.system.people.PeopleStage`), which owns the
detector and the tracker: each analysed frame's tracker output comes here with the frame, so the
data flows one way (detect -> track -> read -> fuse -> sink) and a vehicle is tracked once for
counting and plates alike. For each confirmed vehicle track in the frame (the largest
``max_vehicles_per_frame`` boxes) the reader looks for a plate inside the vehicle box; the read
goes to the track's :class:`~vigil.perception.plates.fusion.PlateFuser` state. When the tracker
closes the track (the vehicle left, or the stream ended) the fuser votes one
:class:`~vigil.core.records.PlateRead` out of the pass and hands it to the sink (the hotlist
checker and the system of record, see :class:`vigil.governance.hotlists.PlateHitChecker`).

Per-frame reads are never stored: a car that stays in view for a minute is one record.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from vigil.config.plates import PlatesConfig
from vigil.core import FrameRef, TrackState
from vigil.core.keys import record_key
from vigil.core.records import PlateRead
from vigil.perception.plates.fusion import FrameRead, FusedPlate, PlateFuser
from vigil.perception.plates.passes import PlatePasses
from vigil.perception.plates.profiles import RegionProfile, get_profile
from vigil.perception.plates.reader import PlateReading
from vigil.perception.plates.vehicles import VEHICLES, vehicle_rows
from vigil.tracking.bytetrack import TrackerOutput, TrackEvent

if TYPE_CHECKING:
    from vigil.perception.plates.reader import PlateReader

log = logging.getLogger(__name__)

#: Receives each fused plate read (one per vehicle pass) with its idempotency key.
PlateSink = Callable[[PlateRead, str], object]
__all__ = [
    "VEHICLES",
    "PlateSink",
    "PlateStage",
    "plate_reader_from_config",
    "profile_from_config",
    "vehicle_rows",
]


def profile_from_config(config: PlatesConfig, name: str | None = None) -> RegionProfile:
    """The region profile ``name`` names (``None``: ``plates.region``), built-in or defined
    under ``profiles``; ValueError naming the known ones for an unknown name."""
    extra = {
        p.name: RegionProfile(
            name=p.name,
            min_len=p.min_len,
            max_len=p.max_len,
            fold=dict(p.fold),
            patterns=tuple(p.patterns),
        )
        for p in config.profiles
    }
    return get_profile(config.region if name is None else name, extra)


def plate_reader_from_config(
    config: PlatesConfig, model_dir: Path | None, profile: RegionProfile | None = None
) -> PlateReader:
    """The configured plate reader (recogniser, fusion weight, extra stretches) over the
    installed models, with ``profile`` or the configured region's. One place turns ``plates:``
    into a reader, so the embedded, cluster and footage paths read plates alike."""
    from vigil.perception.plates import PlateReader

    return PlateReader.from_models(
        profile or profile_from_config(config),
        model_dir,
        recogniser=config.recogniser,
        fusion_weight=config.fusion_weight,
        extra_stretches=config.extra_stretches,
    )


class PlateStage:
    """One camera's plate reading and fusion over vehicle tracks (see the module docstring)."""

    def __init__(
        self,
        camera_id: str,
        reader: PlateReading,
        config: PlatesConfig,
        *,
        sink: PlateSink | None = None,
        whole_frame: bool = False,
    ) -> None:
        self.camera_id = camera_id
        self.reader = reader
        self.config = config
        self.profile = reader.profile
        self.fuser = PlateFuser(
            self.profile,
            max_reads=config.max_reads_per_track,
            min_reads=config.pass_min_reads if whole_frame else config.min_reads,
            min_confidence=config.min_confidence,
        )
        # A dedicated plate camera (`plate_search: whole_frame`) reads the whole frame and
        # groups reads into passes by text and time instead of by vehicle track.
        self.passes = PlatePasses(self.fuser, gap_s=config.pass_gap_s) if whole_frame else None
        self.sink = sink
        self.frame_reads = 0
        self.fused_reads = 0
        self._epoch = ""  # the stream epoch of the latest frame (see vigil.core.keys)
        #: This frame's plate reads (box and text) for the live tiles; replaced every frame.
        self.last_reads: list[FrameRead] = []

    def process(
        self, image: npt.NDArray[np.uint8], frame: FrameRef, out: TrackerOutput
    ) -> list[PlateRead]:
        """Read plates of this frame's vehicle tracks (or of the whole frame on a dedicated
        plate camera); returns fused reads of the passes that ended."""
        self._epoch = frame.epoch
        self.last_reads = []
        if self.passes is not None:
            return self._whole_frame(image, frame.captured_at)
        dets = out.detections
        confirmed = {t.track_id for t in out.tracks if t.state is TrackState.CONFIRMED}
        if dets.tracker_id is not None and len(dets):
            for i in vehicle_rows(dets, self.config.max_vehicles_per_frame, confirmed):
                box = tuple(float(v) for v in dets.xyxy[i])
                best = self.reader.best(image, [(box[0], box[1], box[2], box[3])])
                if best is None:
                    continue
                self.frame_reads += 1
                read = FrameRead(best.text, best.confidence, frame.captured_at, best.xyxy)
                self.last_reads.append(read)
                evicted = self.fuser.observe(int(dets.tracker_id[i]), read)
                if evicted is not None:
                    self._emit(evicted)
        return self.close(out.events)

    def _whole_frame(self, image: npt.NDArray[np.uint8], at: datetime) -> list[PlateRead]:
        assert self.passes is not None
        ended = self.passes.expire(at)
        reads = [
            c for c in self.reader.read(image) if c.confidence >= self.config.min_read_confidence
        ]
        for cand in reads[: self.config.max_vehicles_per_frame]:
            self.frame_reads += 1
            read = FrameRead(cand.text, cand.confidence, at, cand.xyxy)
            self.last_reads.append(read)
            ended += self.passes.observe(read)
        return [self._emit(fused) for fused in ended]

    def finish(self, events: Sequence[TrackEvent]) -> list[PlateRead]:
        """End of stream or shutdown: fuse every pass still open."""
        emitted = self.close(events)
        pending = self.passes.close_all() if self.passes is not None else self.fuser.close_all()
        return emitted + [self._emit(fused) for fused in pending]

    def close(self, events: Sequence[TrackEvent]) -> list[PlateRead]:
        """Fuse the tracks these events close; returns (and sinks) their plate reads."""
        if self.passes is not None:
            return []  # passes end by time (see PlatePasses), not with vehicle tracks
        emitted = []
        for event in events:
            if event.kind == TrackState.CLOSED:
                fused = self.fuser.close(event.track.track_id)
                if fused is not None:
                    emitted.append(self._emit(fused))
        return emitted

    def _emit(self, fused: FusedPlate) -> PlateRead:
        read = PlateRead(
            camera_id=self.camera_id,
            read_at=fused.first_at,
            text=fused.text,
            confidence=fused.confidence,
            region=self.profile.name,
            xyxy=fused.xyxy,
            track_id=fused.track_id if self.passes is None else None,  # a pass is no track
        )
        self.fused_reads += 1
        log.info(
            "camera %s: plate read of track %d from %d frame reads (%d agreeing), conf %.2f",
            self.camera_id,
            fused.track_id,
            fused.reads,
            fused.agreeing,
            fused.confidence,
        )
        if self.sink is not None:
            # The pass's position in the stream: its vehicle track, or (a dedicated plate
            # camera) its rank among this stage's passes; both replay identically from a file.
            position = f"t{read.track_id}" if read.track_id is not None else f"p{self.fused_reads}"
            self.sink(read, record_key(self.camera_id, self._epoch, position, "plate"))
        return read
