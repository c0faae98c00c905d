"""Face tracks linked to person tracks: one family of track ids per camera.

Faces are tracked by :class:`~vigil.identification.tracks.FaceTracker` (greedy IoU on face boxes,
best shot per track) and people by ByteTrack inside the people step
(:class:`~vigil.analytics.people.PeopleAnalysis`). On a camera that runs both, this module ties
them together: after the face tracker has taken a frame's faces, :func:`link_face_tracks` gives
each face track *seen in that frame* the id of the person track whose head region holds its face
box, as ``FaceTrack.person_track_id``. The geometric rule is
:func:`vigil.tracking.association.associate_faces` (face centre in the top 35 % of the person box,
one face per person, nearest head first).

Rules, and why:

* Only tracks seen in this frame (``missed == 0``) are linked: a track that was not seen keeps its
  last box, which no longer says where the face is.
* A face seen outside every person box keeps its previous link: the person detector misses people
  for a frame or two (occlusion, motion blur) more often than faces jump between people.
* A face seen inside a different person's head region takes that person's id (the latest
  evidence wins): after a person-track id switch, the face follows the new id.

The link is an id, not biometric data: it survives ``FaceTrack.forget_biometrics`` so an alert
raised on a face track can name the person track (and its path through zones) it belongs to.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from vigil.analytics.people import PeopleFrame
from vigil.errors import ValidationError
from vigil.identification.tracks import FaceTrack
from vigil.tracking.association import associate_faces


def link_face_tracks(
    tracks: Iterable[FaceTrack], people: PeopleFrame, *, head_fraction: float = 0.35
) -> int:
    """Set ``person_track_id`` on the face tracks seen in ``people``'s frame; returns how many
    tracks were linked in this frame.

    Call it after ``FaceTracker.update`` and ``PeopleAnalysis.step`` of the same frame of the same
    camera. ``head_fraction`` is the upper part of the person box a face centre must lie in:
    larger tolerates people bending forward, smaller avoids taking a neighbour's face in a crowd.

    Raises:
        ValidationError: a face track belongs to another camera than ``people``.
    """
    seen = [t for t in tracks if t.missed == 0]
    camera = people.frame.camera_id
    strangers = sorted({t.camera_id for t in seen if t.camera_id != camera})
    if strangers:
        raise ValidationError(
            f"face tracks of camera(s) {strangers} cannot be linked to people of camera {camera!r}"
        )
    if not seen:
        return 0
    boxes = np.stack([t.last_box for t in seen])
    ids = associate_faces(people.persons, boxes, head_fraction=head_fraction)
    linked = 0
    for track, person in zip(seen, ids.tolist(), strict=True):
        if person >= 0:
            track.person_track_id = int(person)
            linked += 1
    return linked
