"""Face tracks take the id of the person track they were seen on (one track family per camera).

Real parts: the real FaceTracker and the real people step (ByteTrack inside
``PeopleAnalysis``) on scripted boxes; no fakes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.analytics.people import PeopleAnalysis, PeopleFrame
from vigil.config.analytics import PeopleConfig
from vigil.core import CLASS_IDS, Detections, FrameRef, ObjectClass
from vigil.core.records import FaceObservation
from vigil.errors import ValidationError
from vigil.identification.person_links import link_face_tracks
from vigil.identification.tracks import FaceTracker
from vigil.tracking.association import associate_faces

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PERSON = CLASS_IDS[ObjectClass.PERSON]


def ref(i: int, camera: str = "cam") -> FrameRef:
    return FrameRef(camera, T0 + timedelta(seconds=i / 5), i, 640, 480)


def persons(boxes: list[list[float]]) -> Detections:
    return Detections(
        np.array(boxes, np.float32).reshape(-1, 4),
        np.full(len(boxes), 0.9, np.float32),
        np.full(len(boxes), PERSON),
    )


def face(box: list[float], frame: FrameRef) -> FaceObservation:
    return FaceObservation(frame, np.array(box, np.float32), 0.9, np.zeros((5, 2), np.float32), 0.8)


def walk(step: PeopleAnalysis, boxes_per_frame: list[list[list[float]]]) -> list[PeopleFrame]:
    return [step.step(ref(i), persons(b)) for i, b in enumerate(boxes_per_frame)]


def two_people(i: int) -> list[list[float]]:
    """Two people 200 px apart walking right 4 px a frame (feet at y=300)."""
    return [[100 + 4 * i, 100, 160 + 4 * i, 300], [300 + 4 * i, 100, 360 + 4 * i, 300]]


def test_face_tracks_take_the_person_track_they_are_seen_on() -> None:
    people = PeopleAnalysis("cam", PeopleConfig())
    faces = FaceTracker("cam")
    frames = walk(people, [two_people(i) for i in range(4)])
    last = frames[-1]
    ids = last.persons.tracker_id
    assert ids is not None and (ids >= 0).all() and len(set(ids.tolist())) == 2
    # the faces of both people (top of each box) and one face on the pavement (no person)
    x = 4 * 3
    seen = [
        face([115 + x, 105, 145 + x, 140], last.frame),
        face([315 + x, 105, 345 + x, 140], last.frame),
        face([500, 400, 530, 435], last.frame),
    ]
    faces.update(seen)
    assert link_face_tracks(faces.open.values(), last) == 2
    by_box = {float(t.last_box[0]): t.person_track_id for t in faces.open.values()}
    boxes, tids = last.persons.xyxy, ids.tolist()
    left = tids[int(np.argmin(boxes[:, 0]))]
    right = tids[int(np.argmax(boxes[:, 0]))]
    assert by_box == {127.0: left, 327.0: right, 500.0: None}


def test_a_face_missed_by_the_person_detector_keeps_its_link_and_a_new_person_replaces_it() -> None:
    people = PeopleAnalysis("cam", PeopleConfig())
    faces = FaceTracker("cam", max_missed=5)
    frames = walk(people, [two_people(i) for i in range(3)])
    faces.update([face([108 + 8, 105, 138 + 8, 140], frames[-1].frame)])
    link_face_tracks(faces.open.values(), frames[-1])
    (track,) = faces.open.values()
    first = track.person_track_id
    assert first is not None
    # the person detector misses everybody for a frame: the face keeps its link
    empty = people.step(ref(3), persons([]))
    faces.update([face([120, 105, 150, 140], empty.frame)])
    assert link_face_tracks(faces.open.values(), empty) == 0
    assert track.person_track_id == first
    # a track not seen in this frame is not relinked, even if a person stands where it was
    stale = people.step(ref(4), persons(two_people(4)))
    faces.update([])
    assert track.missed == 1 and link_face_tracks(faces.open.values(), stale) == 0
    # seen again inside the other person's head region: the latest evidence wins
    other = people.step(ref(5), persons(two_people(5)))
    faces.update([face([322, 105, 352, 140], other.frame)])
    (moved,) = [t for t in faces.open.values() if t.missed == 0]
    link_face_tracks(faces.open.values(), other)
    assert moved.person_track_id is not None and moved.person_track_id != first


def test_the_link_survives_forgetting_the_biometrics() -> None:
    people = PeopleAnalysis("cam", PeopleConfig())
    faces = FaceTracker("cam")
    last = walk(people, [two_people(i) for i in range(3)])[-1]
    faces.update([face([116, 105, 146, 140], last.frame)])
    link_face_tracks(faces.open.values(), last)
    (track,) = faces.close_all()
    track.forget_biometrics()
    assert track.best is None and track.person_track_id is not None


def test_face_tracks_of_another_camera_are_refused() -> None:
    people = PeopleAnalysis("cam", PeopleConfig())
    frame = people.step(ref(0), persons(two_people(0)))
    faces = FaceTracker("door")
    faces.update([face([110, 105, 140, 140], ref(0, "door"))])
    with pytest.raises(ValidationError, match="door"):
        link_face_tracks(faces.open.values(), frame)


def test_bad_head_fraction_is_refused() -> None:
    with pytest.raises(ValidationError, match="head_fraction"):
        associate_faces(persons([[0, 0, 10, 10]]), np.zeros((1, 4)), head_fraction=1.5)


box = st.tuples(st.floats(0, 600), st.floats(0, 400), st.floats(10, 200), st.floats(10, 300)).map(
    lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]]
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(box, min_size=0, max_size=6),
    st.lists(box, min_size=0, max_size=6),
    st.floats(0.1, 1.0),
)
def test_association_gives_each_person_at_most_one_face_from_its_head_region(
    person_boxes: list[list[float]], face_boxes: list[list[float]], head_fraction: float
) -> None:
    tracked = persons(person_boxes)
    tids = np.arange(100, 100 + len(person_boxes))
    tracked = Detections(tracked.xyxy, tracked.confidence, tracked.class_id, tracker_id=tids)
    out = associate_faces(tracked, np.array(face_boxes).reshape(-1, 4), head_fraction=head_fraction)
    assert out.shape == (len(face_boxes),)
    linked = [int(t) for t in out if t >= 0]
    assert len(linked) == len(set(linked))  # one face per person
    for f, tid in zip(face_boxes, out.tolist(), strict=True):
        if tid < 0:
            continue
        p = person_boxes[tid - 100]
        cx, cy, h = (f[0] + f[2]) / 2, (f[1] + f[3]) / 2, p[3] - p[1]
        assert p[0] - 1e-3 <= cx <= p[2] + 1e-3  # horizontally within the person
        assert p[1] - 0.05 * h - 1e-3 <= cy <= p[1] + head_fraction * h + 1e-3  # head region
        assert f[2] - f[0] <= p[2] - p[0] + 1e-3  # narrower than the person
