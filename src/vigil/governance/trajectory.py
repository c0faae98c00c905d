"""Cross-camera trajectories: where else the same vehicle was read, in order, each hop checked
against the travel time between the cameras.

An investigator starts from one stored plate read (the anchor) and asks for the reads of the
same plate (the same folded canonical text, :func:`vigil.core.plates.fold_confusables`, so a
``0``/``O`` slip of the reader does not split a trajectory) on the cameras they may see, within a
window around the anchor. Consecutive reads on one camera become one *visit* (first and last
time seen there); between two visits is a *hop*, checked against the straight-line distance
between the cameras divided by the configured speed limit
(:class:`vigil.config.investigation.InvestigationConfig`):

* ``plausible``: the gap is at least the minimum travel time;
* ``implausible``: faster than possible - a misread plate, a cloned plate or two vehicles; the
  hop is **flagged, never dropped**, because hiding it would hide exactly the evidence that the
  trajectory is not one vehicle;
* ``unknown``: one camera has no position, or the two use different frames (lat/lon against a
  site plan), so no distance can be computed.

The check is pure (:func:`visits_and_hops`), so it is property-tested without a database; the
service around it reads the store, bounds the request and writes one ``search.run`` entry
(kind ``trajectory``) per request, before the answer is returned.

Face trajectories (:meth:`TrajectoryService.for_face`) start from a sighting whose face
template is lawfully stored (a sighting that matched nothing has none: its template was deleted
at once). They go through :class:`vigil.governance.search.ArchiveSearch`, so they need an
approved post-event authorisation and stay inside its cameras and window, and that search writes
its own ``search.run`` entry (kind ``archive_face``); hits at or above ``min_score`` become the
observations, checked against the walking speed.

A face trajectory is only as good as its matches, so it carries their meaning: ``min_score``
defaults to the calibrated threshold of the face model in use (the calibration file's, else the
configured ``faces.identification.threshold``), and each visit (its best score) and each hop (the
weaker of its two ends) carries the calibrated false-match rate of one comparison at that score,
point and 95% upper bound (:meth:`FalseAlertModel.fpir` with one person), as an alert and a
footage-search hit do. A caller may still ask for a lower ``min_score`` (more hops, more of them
false); the rates then show it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from vigil.core.domain import CameraRow, Role
from vigil.core.plates import fold_confusables
from vigil.errors import NotFoundError, ValidationError
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditAction, AuditLog, utc_now
from vigil.governance.search import ArchiveSearch
from vigil.identification.calibration import FalseAlertModel, RateEstimate
from vigil.storage import Repository
from vigil.storage.plates import PlateStore, ReadMatch, ReadPosition

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG); the straight-line error is far below a street


@dataclass(frozen=True, slots=True)
class Position:
    """Where a camera is: WGS84 degrees (``frame="geo"``) or site-plan metres (``"plan"``)."""

    frame: str
    a: float  # lat or x
    b: float  # lon or y

    def __post_init__(self) -> None:
        if self.frame not in ("geo", "plan"):
            raise ValidationError(f"position frame must be geo or plan, got {self.frame!r}")
        if not (math.isfinite(self.a) and math.isfinite(self.b)):
            raise ValidationError("a position needs finite coordinates")
        if self.frame == "geo" and not (-90 <= self.a <= 90 and -180 <= self.b <= 180):
            raise ValidationError(f"lat/lon out of range: {self.a}, {self.b}")


def position_of(cam: CameraRow) -> Position | None:
    """A camera's position: lat/lon when surveyed, else its site-plan point, else ``None``."""
    if cam.lat is not None and cam.lon is not None:
        return Position("geo", cam.lat, cam.lon)
    if cam.plan_x is not None and cam.plan_y is not None:
        return Position("plan", cam.plan_x, cam.plan_y)
    return None


def distance_m(p: Position, q: Position) -> float | None:
    """Straight-line metres between two positions (haversine on the sphere for lat/lon), or
    ``None`` when they are in different frames and so not comparable."""
    if p.frame != q.frame:
        return None
    if p.frame == "plan":
        return math.hypot(p.a - q.a, p.b - q.b)
    la1, la2 = math.radians(p.a), math.radians(q.a)
    dla, dlo = la2 - la1, math.radians(q.b - p.b)
    h = math.sin(dla / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin(dlo / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


class HopCheck(StrEnum):
    PLAUSIBLE = "plausible"
    IMPLAUSIBLE = "implausible"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Sighted:
    """One observation of the followed vehicle or person: a camera, a time, the record's id."""

    camera_id: str
    at: datetime
    ref: str


@dataclass(frozen=True, slots=True)
class Visit:
    """Consecutive observations on one camera: first and last seen, and the records."""

    camera_id: str
    first: datetime
    last: datetime
    refs: tuple[str, ...]
    #: Face trajectories: the best score of the visit's sightings other than the anchor, and
    #: the calibrated false-match rate at it (``None``: plates, or the anchor's visit alone).
    score: float | None = None
    rate: RateEstimate | None = None


@dataclass(frozen=True, slots=True)
class Hop:
    """The move from visit ``index`` to ``index + 1``: the gap, the distance, the travel time
    the speed limit needs, and the verdict."""

    index: int
    from_camera: str
    to_camera: str
    seconds: float
    distance_m: float | None
    min_seconds: float | None
    check: HopCheck
    #: Face trajectories: the weaker end's score and its false-match rate (see :class:`Visit`).
    score: float | None = None
    rate: RateEstimate | None = None


def visits_and_hops(
    seen: Sequence[Sighted],
    positions: Mapping[str, Position | None],
    max_speed_mps: float,
) -> tuple[list[Visit], list[Hop]]:
    """Group time-ordered observations into visits and check each hop between visits.

    A hop's gap runs from the last time at one camera to the first at the next (the most time
    the subject could have spent travelling). It is implausible when that gap is shorter than
    ``distance / max_speed_mps``. Observations are sorted by time (then camera and id, so equal
    times give one stable order).
    """
    if not max_speed_mps > 0:
        raise ValidationError("max_speed_mps must be positive")
    ordered = sorted(seen, key=lambda s: (s.at, s.camera_id, s.ref))
    visits: list[Visit] = []
    for s in ordered:
        if visits and visits[-1].camera_id == s.camera_id:
            v = visits[-1]
            visits[-1] = Visit(v.camera_id, v.first, s.at, (*v.refs, s.ref))
        else:
            visits.append(Visit(s.camera_id, s.at, s.at, (s.ref,)))
    hops: list[Hop] = []
    for i, (a, b) in enumerate(itertools.pairwise(visits)):
        gap = (b.first - a.last).total_seconds()
        pa, pb = positions.get(a.camera_id), positions.get(b.camera_id)
        dist = None if pa is None or pb is None else distance_m(pa, pb)
        if dist is None:
            hops.append(Hop(i, a.camera_id, b.camera_id, gap, None, None, HopCheck.UNKNOWN))
            continue
        need = dist / max_speed_mps
        check = HopCheck.PLAUSIBLE if gap >= need else HopCheck.IMPLAUSIBLE
        hops.append(Hop(i, a.camera_id, b.camera_id, gap, dist, need, check))
    return visits, hops


def with_rates(
    visits: Sequence[Visit],
    hops: Sequence[Hop],
    scores: Mapping[str, float],
    anchor: str,
    rates: FalseAlertModel | None,
) -> tuple[list[Visit], list[Hop]]:
    """Visits with their best score (the anchor's own sighting left out: it is the reference,
    not a match) and hops with the weaker end's; each with the one-comparison false-match rate
    at that score when ``rates`` is given."""

    def rate(score: float | None) -> RateEstimate | None:
        return None if score is None or rates is None else rates.fpir(score, 1)

    out_visits = []
    for v in visits:
        matched = [scores[r] for r in v.refs if r != anchor and r in scores]
        best = max(matched) if matched else None
        out_visits.append(replace(v, score=best, rate=rate(best)))
    out_hops = []
    for h in hops:
        ends = [out_visits[i].score for i in (h.index, h.index + 1)]
        known = [e for e in ends if e is not None]
        weaker = min(known) if known else None
        out_hops.append(replace(h, score=weaker, rate=rate(weaker)))
    return out_visits, out_hops


@dataclass(frozen=True, slots=True)
class Trajectory:
    """The answer: the anchor, the plate followed, visits and hops in time order, the camera
    positions used, and whether the read bound cut the window short."""

    anchor: str
    plate: str
    since: datetime
    until: datetime
    visits: list[Visit]
    hops: list[Hop]
    positions: dict[str, Position | None]
    truncated: bool
    #: Face trajectories: each sighting's similarity to the anchor's template (anchor: 1.0).
    scores: dict[str, float] = field(default_factory=dict)
    #: Face trajectories: the score a sighting needed (the calibrated threshold by default).
    min_score: float | None = None

    @property
    def flagged(self) -> int:
        return sum(h.check is HopCheck.IMPLAUSIBLE for h in self.hops)


class TrajectoryService:
    """Builds audited plate trajectories (see the module docstring).

    Args:
        cameras: the camera rows (positions) at request time; injected so the API and tests
            read the same table the config filled.
        face_rates: loads the face model's calibration (called once, at the first face
            trajectory; ``None`` or a loader answering ``None``: no rates on the hops).
        face_threshold: the configured match threshold, the default ``min_score`` when the
            calibration names none.
        driving_speed_mps: the vehicle speed limit of the hop check.
        max_window_s: the widest window either side of the anchor a request may ask for.
        max_points: reads gathered per request; past it the trajectory is marked truncated.
    """

    def __init__(
        self,
        store: PlateStore,
        audit: AuditLog,
        cameras: Callable[[], Sequence[CameraRow]],
        *,
        driving_speed_mps: float,
        max_window_s: float,
        max_points: int,
        walking_speed_mps: float = 3.0,
        faces: tuple[Repository, ArchiveSearch] | None = None,
        face_rates: Callable[[], FalseAlertModel | None] | None = None,
        face_threshold: float | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self._face_rates = face_rates
        self._rates: list[FalseAlertModel | None] = []  # loaded once, on first use
        self.face_threshold = face_threshold
        self.walking_speed_mps = walking_speed_mps
        self.faces = faces
        self.audit = audit
        self.cameras = cameras
        self.driving_speed_mps = driving_speed_mps
        self.max_window_s = max_window_s
        self.max_points = max_points
        self.clock = clock

    def for_plate(
        self,
        actor: Actor,
        read_key: str,
        *,
        reason: str,
        window_s: float,
        allowed: Collection[str] | None = None,
    ) -> Trajectory:
        """The trajectory of the vehicle of stored read ``read_key`` within ``window_s``
        seconds either side of it, over the cameras in ``allowed`` (``None``: all).

        :class:`NotFoundError` when the read is absent or on a camera outside ``allowed``
        (the same answer, so keys cannot be probed).
        """
        actor.require(Role.INVESTIGATOR, action="building a trajectory")
        if not reason.strip():
            raise ValidationError("a trajectory needs a reason")
        if not 0 < window_s <= self.max_window_s:
            raise ValidationError(f"window_s must be in (0, {self.max_window_s:g}]")
        anchor = self.store.get_read(read_key)
        if anchor is None or (allowed is not None and anchor.read.camera_id not in allowed):
            raise NotFoundError(f"no plate read {read_key!r}")
        plate = fold_confusables(anchor.read.text)
        if not plate:
            raise ValidationError("the anchor read has no plate text to follow")
        span = timedelta(seconds=window_s)
        since, until = anchor.read.read_at - span, anchor.read.read_at + span
        seen, truncated = self._gather(plate, since, until, allowed)
        positions = {c.id: position_of(c) for c in self.cameras()}
        used = {s.camera_id: positions.get(s.camera_id) for s in seen}
        visits, hops = visits_and_hops(seen, used, self.driving_speed_mps)
        result = Trajectory(read_key, plate, since, until, visits, hops, used, truncated)
        self.audit.append(
            actor.id,
            AuditAction.SEARCH,
            "plate_reads",
            reason.strip()[:2000],
            [
                ("kind", "trajectory"),
                ("anchor", read_key),
                ("pattern", plate),
                ("cameras", "*" if allowed is None else ",".join(sorted(allowed))[:200]),
                ("from", since.isoformat()),
                ("to", until.isoformat()),
                ("results", str(len(seen))),
                ("flagged_hops", str(result.flagged)),
                ("truncated", str(truncated).lower()),
            ],
        )
        return result

    def for_face(
        self,
        actor: Actor,
        sighting_id: str,
        *,
        authorisation_id: str,
        reason: str,
        min_score: float | None = None,
        k: int = 100,
        allowed: Collection[str] | None = None,
    ) -> Trajectory:
        """The visits of the person of stored sighting ``sighting_id``: archive hits at or above
        ``min_score`` (default: :meth:`default_min_score`) under the post-event authorisation,
        plus the sighting itself; visits and hops carry their false-match rates.

        :class:`NotFoundError` when the sighting is absent, outside ``allowed`` or has no stored
        template (it matched nothing and its template was deleted, or it was purged).
        """
        if self.faces is None:
            raise ValidationError("face trajectories need the sighting archive")
        repo, archive = self.faces
        rates = self.face_rates()
        if min_score is None:
            min_score = self.default_min_score()
        if not 0.0 < min_score <= 1.0:
            raise ValidationError("min_score must be in (0, 1]")
        try:
            anchor = repo.get_sighting(sighting_id)
        except NotFoundError:
            anchor = None
        stored = repo.embeddings_of(sighting_id) if anchor is not None else []
        if anchor is None or (allowed is not None and anchor.camera_id not in allowed):
            raise NotFoundError(f"no sighting {sighting_id!r}")
        if not stored:
            raise NotFoundError(f"sighting {sighting_id} has no stored face template to follow")
        hits = archive.search(
            actor, authorisation_id, stored[0].vector, reason=reason, k=k, allowed=allowed
        )
        seen = {
            h.sighting_id: Sighted(h.camera_id, h.started_at, h.sighting_id)
            for h in hits
            if h.score >= min_score
        }
        seen[anchor.id] = Sighted(anchor.camera_id, anchor.started_at, anchor.id)
        positions = {c.id: position_of(c) for c in self.cameras()}
        used = {s.camera_id: positions.get(s.camera_id) for s in seen.values()}
        visits, hops = visits_and_hops(list(seen.values()), used, self.walking_speed_mps)
        first = min(s.at for s in seen.values())
        last = max(s.at for s in seen.values())
        scores = {h.sighting_id: h.score for h in hits if h.sighting_id in seen}
        scores[anchor.id] = 1.0
        visits, hops = with_rates(visits, hops, scores, anchor.id, rates)
        truncated = len(hits) >= k
        return Trajectory(
            sighting_id, "", first, last, visits, hops, used, truncated, scores, min_score
        )

    def face_rates(self) -> FalseAlertModel | None:
        """The face model's calibration (loaded at the first call), or ``None``."""
        if not self._rates:
            self._rates.append(None if self._face_rates is None else self._face_rates())
        return self._rates[0]

    def default_min_score(self) -> float:
        """The calibrated threshold of the face model in use: the calibration file's, else the
        configured one.

        Raises:
            ValidationError: neither is known, so the caller must say how similar is enough.
        """
        rates = self.face_rates()
        if rates is not None and rates.threshold is not None:
            return float(rates.threshold)
        if self.face_threshold is not None:
            return self.face_threshold
        raise ValidationError(
            "min_score is needed: no face calibration is configured",
            hint="pass min_score, or set faces.identification.calibration_file",
        )

    def _gather(
        self,
        plate: str,
        since: datetime,
        until: datetime,
        allowed: Collection[str] | None,
    ) -> tuple[list[Sighted], bool]:
        """Reads of ``plate`` in ``[since, until]``, newest first by keyset pages, up to the
        bound; ``True`` when the bound stopped the walk before the window's oldest read."""
        cams = None if allowed is None else sorted(allowed)
        if cams is not None and not cams:
            return [], False
        out: list[Sighted] = []
        before: ReadPosition | None = None
        page = min(500, self.max_points + 1)
        while True:
            rows = self.store.search_reads(
                ReadMatch(plate),
                cameras=cams,
                since=since,
                until=until + timedelta(microseconds=1),  # the window's end is inclusive
                before=before,
                limit=page,
                timeout_s=5.0,
            )
            for r in rows:
                if len(out) == self.max_points:
                    return out, True
                out.append(Sighted(r.read.camera_id, r.read.read_at, r.key))
                before = ReadPosition(r.read.read_at, r.key)
            if len(rows) < page:
                return out, False
