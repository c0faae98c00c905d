"""The live people stage: counts, track totals, crowd samples and crowd alerts.

The detector here is a scripted fake (a unit test of one class); the real NanoDet on real video
runs through the same stage in tests/integration/test_people_live.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from vigil.analytics.people import crowd_alert_record
from vigil.config.analytics import CrowdConfig, PeopleConfig
from vigil.core import CLASS_IDS, Detections, FrameRef, ObjectClass
from vigil.core.records import Alert, AlertKind, CrowdSample
from vigil.system.people import PeopleStage

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PERSON = CLASS_IDS[ObjectClass.PERSON]
CAR = CLASS_IDS[ObjectClass.CAR]


class ScriptedDetector:
    """Returns ``people`` walking persons (score 0.9), one faint box (0.2) and one car."""

    name = "scripted"

    def __init__(self) -> None:
        self.people = 0
        self.frame = 0

    def detect(self, image: np.ndarray) -> Detections:
        self.frame += 1
        boxes = [[20 + 60 * k + self.frame, 50, 60 + 60 * k + self.frame, 150] for k in range(50)]
        boxes = [*boxes[: self.people], [600, 300, 640, 380], [400, 400, 500, 460]]
        scores = [0.9] * self.people + [0.2, 0.9]
        classes = [PERSON] * self.people + [PERSON, CAR]
        return Detections(
            np.array(boxes, np.float32), np.array(scores, np.float32), np.array(classes, np.int64)
        )


def run(stage: PeopleStage, det: ScriptedDetector, counts: list[int], fps: float = 2.0) -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    for i, n in enumerate(counts):
        det.people = n
        stage.process(image, FrameRef("cam", T0 + timedelta(seconds=i / fps), i, 640, 480))


def test_counts_people_above_the_score_and_each_track_once() -> None:
    det = ScriptedDetector()
    stage = PeopleStage("cam", det, PeopleConfig())
    run(stage, det, [3] * 10)
    assert stage.view.people_now == 3  # the 0.2 box is tracked but not counted
    assert stage.view.vehicles_now == 1
    assert stage.view.person_tracks_active == 3
    assert stage.view.person_tracks_total == 3  # confirmed once each, not once per frame


def test_crowd_samples_average_each_interval_and_reach_the_sink() -> None:
    got: list[tuple[CrowdSample, list[Alert]]] = []
    config = PeopleConfig(crowd=CrowdConfig(sample_every_s=5.0))
    det = ScriptedDetector()
    stage = PeopleStage("cam", det, config, sink=lambda s, a, k: got.append((s, a)))
    run(stage, det, [2] * 10 + [4] * 10 + [4])  # 2 fps: 10 frames = 5 s
    assert [s.count for s, _ in got] == [pytest.approx(24 / 11, abs=0.005), 4.0]
    assert all(s.method == "boxes" and s.camera_id == "cam" for s, _ in got)
    assert stage.view.crowd_samples == 2 and stage.view.last_crowd_count == pytest.approx(4.0)


def test_a_sudden_crowd_raises_one_surge_and_one_overcrowding_alert() -> None:
    got: list[Alert] = []
    config = PeopleConfig(crowd=CrowdConfig(sample_every_s=1.0, overcrowd=10, sustain=2))
    det = ScriptedDetector()
    stage = PeopleStage("cam", det, config, sink=lambda s, a, k: got.extend(a))
    run(stage, det, [1] * 6 + [12] * 12)  # 1 person for 3 s, then 12 for 6 s
    assert sorted(a.detail.split(" ")[0] for a in got) == ["overcrowding", "surge"]
    assert stage.view.crowd_alerts == 2  # cooldown and re-arming: not one per sample
    for alert in got:
        assert alert.kind is AlertKind.CROWD and alert.camera_id == "cam"
        assert alert.score == pytest.approx(12.0)
        assert alert.deployment_id is None and alert.subject_id is None  # nobody identified


def test_crowd_alert_id_is_stable_for_a_retried_write() -> None:
    from vigil.analytics.crowd import CrowdAlert, CrowdAlertKind

    a = CrowdAlert(CrowdAlertKind.SURGE, "cam", None, T0, 30.0, 10.0, 20.0)
    b = CrowdAlert(CrowdAlertKind.SURGE, "cam", None, T0 + timedelta(seconds=1), 30.0, 10.0, 20.0)
    assert crowd_alert_record(a).id == crowd_alert_record(a).id
    assert crowd_alert_record(a).id != crowd_alert_record(b).id


def test_bad_people_config_is_refused() -> None:
    from pydantic import ValidationError

    for bad in ({"tile_grids": [0]}, {"tile_grids": [2, 2]}, {"score_threshold": 2}):
        with pytest.raises(ValidationError):
            PeopleConfig.model_validate(bad)
    with pytest.raises(ValidationError):
        CrowdConfig.model_validate({"surge_factor": 1.0})


def test_a_failing_detector_is_contained_counted_and_reported() -> None:
    from types import SimpleNamespace

    from vigil.sources.frames import DecodedFrame
    from vigil.system.analysis import AnalysisPool

    class Broken(ScriptedDetector):
        def detect(self, image: np.ndarray) -> Detections:
            raise RuntimeError("model file truncated")

    pool = AnalysisPool([SimpleNamespace(camera_id="cam")], None, frozenset())  # type: ignore[list-item]
    pool.people["cam"] = PeopleStage("cam", Broken(), PeopleConfig())
    ref = FrameRef("cam", T0, 0, 640, 480)
    frame = DecodedFrame(ref, np.zeros((480, 640, 3), np.uint8))
    for _ in range(3):
        pool.analyse("cam", frame)  # never raises
    stats = pool.stats["cam"]
    assert stats.failures == 3 and stats.frames == 3
    assert stats.last_error == "RuntimeError: model file truncated"


def test_zones_lines_and_loitering_from_the_camera_config() -> None:
    from vigil.config.settings import CameraConfig
    from vigil.system.people import zone_analytics

    cam = CameraConfig.model_validate(
        {
            "id": "cam",
            "url": "/x.mp4",
            # the walkers' feet are at y=150; persons 0..2 start at x=21, 81, 141 and move right
            "zones": [
                {
                    "name": "left",
                    "polygon": [[0, 0], [120, 0], [120, 300], [0, 300]],
                    "loiter_s": 2.0,
                }
            ],
            "lines": [{"name": "gate", "a": [200.5, 0], "b": [200.5, 300]}],
        }
    )
    got: list[CrowdSample] = []
    det = ScriptedDetector()
    config = PeopleConfig(crowd=CrowdConfig(sample_every_s=2.0))
    stage = PeopleStage(
        "cam", det, config, zones=zone_analytics(cam), sink=lambda s, a, k: got.append(s)
    )
    run(stage, det, [3] * 41)  # 20 s at 2 fps, 1 px a frame to the right
    view = stage.view
    # person 0's feet (x 41..81) stay left of x=120 throughout; person 1 leaves after ~20 frames
    assert view.zone_counts == {"left": 1}
    assert view.loitering == 2  # persons 0 and 1 each stayed past 2 s (one event per visit)
    # person 2's feet cross x=200.5 going right between frames 40 and 41: to the left of the
    # line as drawn (a->b points down the image), which is "in"
    assert view.line_crossings == {"gate:in": 1}
    zone_series = [s for s in got if s.zone == "left"]
    assert zone_series and all(s.camera_id == "cam" for s in zone_series)
    assert zone_series[0].count == pytest.approx(2.0)  # persons 0 and 1 in the first 2 s


def test_zone_config_errors_are_refused() -> None:
    from pydantic import ValidationError

    from vigil.config.settings import CameraConfig

    base = {"id": "cam", "url": "/x.mp4"}
    for bad in (
        {"zones": [{"name": "z", "polygon": [[0, 0], [1, 1]]}]},  # two points
        {"lines": [{"name": "l", "a": [1, 1], "b": [1, 1]}]},  # no length
        {
            "zones": [{"name": "z", "polygon": [[0, 0], [1, 0], [1, 1]]}],
            "lines": [{"name": "z", "a": [0, 0], "b": [1, 1]}],
        },  # same name
        {"zones": [{"name": "Bad Name", "polygon": [[0, 0], [1, 0], [1, 1]]}]},
    ):
        with pytest.raises(ValidationError):
            CameraConfig.model_validate({**base, **bad})


def test_the_live_stage_is_the_pure_step_plus_detection_and_the_sink() -> None:
    """`vigil run`, `vigil eval tracking` and the benchmark share PeopleAnalysis.step: the stage
    adds only the detector, the plate stage, the view and the sink around it."""
    import pickle

    from vigil.analytics.people import PeopleAnalysis

    config = PeopleConfig(crowd=CrowdConfig(sample_every_s=1.0, overcrowd=10, sustain=2))
    stored: list[tuple[CrowdSample, list[Alert]]] = []
    live_det, step_det = ScriptedDetector(), ScriptedDetector()
    stage = PeopleStage("cam", live_det, config, sink=lambda s, a, k: stored.append((s, a)))
    step = PeopleAnalysis("cam", config)
    image = np.zeros((480, 640, 3), np.uint8)
    results = []
    for i, n in enumerate([1] * 6 + [12] * 12):
        live_det.people = step_det.people = n
        frame = FrameRef("cam", T0 + timedelta(seconds=i / 2), i, 640, 480)
        stage.process(image, frame)
        result = step.step(frame, step_det.detect(image))  # no image: boxes and a frame ref
        results.append(result)
        assert (stage.view.people_now, stage.view.vehicles_now) == (n, 1)
        assert (result.people_now, result.vehicles_now) == (n, 1)
        assert stage.view.person_tracks_active == result.person_tracks_active
    assert stage.view.person_tracks_total == sum(r.new_person_tracks for r in results) == 12
    readings = [c for r in results for c in r.crowd]
    assert [s for s, _ in stored] == [c.sample for c in readings]
    assert [a for _, a in stored] == [c.alert_records() for c in readings]
    assert sum(len(r.alerts) for r in results) == stage.view.crowd_alerts == 2
    # the result crosses a process boundary as it is (cluster mode runs the step elsewhere)
    back = pickle.loads(pickle.dumps(results[-1]))
    assert back.people_now == 12 and back.frame == results[-1].frame
    assert np.array_equal(back.persons.xyxy, results[-1].persons.xyxy)


def test_closed_tracks_become_sightings_with_colours_keyed_for_replay() -> None:
    from vigil.core.records import Sighting
    from vigil.system.decisions import SightingRecord, decode, encode

    det = ScriptedDetector()
    got: list[tuple[Sighting, str]] = []
    stage = PeopleStage("cam", det, PeopleConfig(), sightings=lambda s, k: got.append((s, k)))
    image = np.zeros((480, 640, 3), np.uint8)
    image[:, :, 2] = 220  # a red world: every band is red
    for i in range(12):
        det.people = 2
        stage.process(image, FrameRef("cam", T0 + timedelta(seconds=i / 2), i, 640, 480))
    assert not got  # tracks still open
    stage.finish()
    persons = [s for s, _ in got if s.object_class is ObjectClass.PERSON]
    cars = [s for s, _ in got if s.object_class is ObjectClass.CAR]
    assert len(persons) == 2 and len(cars) == 1
    assert {(s.upper_colour, s.lower_colour, s.direction) for s in persons} == {
        ("red", "red", "still")
    }  # 11 px < 5 % of 480
    assert cars[0].body_colour == "red" and cars[0].upper_colour is None
    assert len({k for _, k in got}) == 3  # one key per track
    record = SightingRecord(got[0][1], got[0][0])
    assert decode(encode(record)) == record  # survives the outbox's spool
