"""Faces to person tracks: the geometric rule that ties a face box to the person it belongs to.

A face belongs to a person track when the face box's centre lies inside the upper
``head_fraction`` of the person box (horizontally within it; a margin of 5 % of the person's
height above the box allows for a detector that cuts the top of the head) and the face is
narrower than the person. Among several candidate people (a crowd), the one whose head region
centre is closest wins, and each person takes at most one face (greedy by distance).

This is a geometric rule, not a learned one: it fails for people bending over or lying down, and
in dense crowds where a neighbour's head sits in the top of another's box; such faces stay
unassociated (``-1``) rather than being attached to the wrong track. It is used by
:func:`vigil.identification.person_links.link_face_tracks` to give face tracks the id of their
person track, so faces and people on one camera share one family of track ids.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vigil.core import Detections
from vigil.errors import ValidationError


def associate_faces(
    persons: Detections, face_boxes: npt.ArrayLike, *, head_fraction: float = 0.35
) -> npt.NDArray[np.int64]:
    """Track id (from ``persons.tracker_id``) for each ``(N, 4)`` face box, ``-1`` when none fits.

    Persons whose ``tracker_id`` is negative (boxes the tracker did not assign) are never chosen.
    """
    if not 0.0 < head_fraction <= 1.0:
        raise ValidationError(f"head_fraction must be in (0, 1], got {head_fraction}")
    f = np.asarray(face_boxes, np.float32).reshape(-1, 4)
    out = np.full(len(f), -1, np.int64)
    if len(f) == 0 or len(persons) == 0 or persons.tracker_id is None:
        return out
    p = persons.xyxy
    fcx = (f[:, 0] + f[:, 2]) / 2
    fcy = (f[:, 1] + f[:, 3]) / 2
    fw = f[:, 2] - f[:, 0]
    ph = p[:, 3] - p[:, 1]
    pw = p[:, 2] - p[:, 0]
    head_bottom = p[:, 1] + head_fraction * ph
    inside = (
        (fcx[:, None] >= p[None, :, 0])
        & (fcx[:, None] <= p[None, :, 2])
        & (fcy[:, None] >= p[None, :, 1] - 0.05 * ph[None, :])
        & (fcy[:, None] <= head_bottom[None, :])
        & (fw[:, None] <= pw[None, :])
        & (persons.tracker_id[None, :] >= 0)
    )
    hx = (p[:, 0] + p[:, 2]) / 2
    hy = p[:, 1] + head_fraction * ph / 2
    dist = np.hypot(fcx[:, None] - hx[None, :], fcy[:, None] - hy[None, :]) / np.maximum(ph, 1)
    dist = np.where(inside, dist, np.inf)
    taken: set[int] = set()
    for flat in np.argsort(dist, axis=None, kind="stable"):
        i, j = divmod(int(flat), len(persons))
        if not np.isfinite(dist[i, j]):
            break
        if out[i] >= 0 or j in taken:
            continue
        out[i] = persons.tracker_id[j]
        taken.add(j)
    return out
