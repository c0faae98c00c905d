"""Camera scope and case visibility: who may read or change which record, decided in one place.

A person may be assigned to some cameras (``users.cameras``) and an API key may carry
``camera:<id>`` scopes; :attr:`Principal.cameras` is what the two allow together (``None``: every
camera). This module is the only place that turns that into decisions about records:

* **Records named in the path.** :func:`enforce` runs inside every authenticated route (it is
  called by :func:`vigil.api.deps.access` right after the role check, so a route cannot skip it).
  It looks at the route's path parameters: each one named in :data:`PATH_RECORDS` is resolved to
  the cameras its record belongs to, and ``case_id`` to the case's readers. The test suite reads
  the OpenAPI spec and fails when a route has a path parameter that is neither there nor in
  :data:`NOT_CAMERA_BOUND`, so a new route cannot add an unchecked id.
* **Records named in a body** (a case link's target, a deployment's cameras, a search's
  authorisation): the route calls :func:`require` or :func:`require_cameras`.
* **Listings** pass :attr:`Principal.cameras` to the query (alerts, sightings) or filter with
  :func:`sees` (deployments, cameras).

A record outside the caller's cameras is answered exactly as a record that does not exist (the
same 404 and message), so ids cannot be probed to learn what other districts hold; the attempt is
written to the audit chain as ``access.refused`` (code ``out_of_scope``) for the auditors.
Reading needs one of the record's cameras (a deployment over cameras A and B is visible from B);
changing it needs all of them (approving surveillance of a camera outside one's assignment is not
one's decision: 403, since the record itself is visible). Cases are not camera-bound but
person-bound: their owner, the people the owner shares them with, and auditors (read only) see
them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from fastapi import Request

from vigil.core.domain import Role
from vigil.errors import NotFoundError, PermissionDeniedError, ValidationError
from vigil.governance.accounts import Principal
from vigil.governance.audit import AuditAction
from vigil.storage.plates import PlateStore
from vigil.storage.postevent import PostEventStore
from vigil.storage.recordings import RecordingStore
from vigil.system.services import Services

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

CameraResolver = Callable[[Services, str], "frozenset[str] | None"]


@dataclass(frozen=True, slots=True)
class Bound:
    """A kind of camera-bound record: its name in messages and how to find its cameras.

    ``cameras`` returns ``None`` when no such record exists (so absent and out of scope can be
    answered alike).
    """

    noun: str
    cameras: CameraResolver


def _alert(svc: Services, alert_id: str) -> frozenset[str] | None:
    try:
        return frozenset({svc.repo.get_alert(alert_id).camera_id})
    except NotFoundError:
        return None


def _sighting(svc: Services, sighting_id: str) -> frozenset[str] | None:
    try:
        return frozenset({svc.repo.get_sighting(sighting_id).camera_id})
    except NotFoundError:
        return None


def _plate_read(svc: Services, key: str) -> frozenset[str] | None:
    camera = PlateStore(svc.repo.db).read_camera(key)
    return None if camera is None else frozenset({camera})


def _segment(svc: Services, segment_id: str) -> frozenset[str] | None:
    row = RecordingStore(svc.repo.db).get(segment_id)
    return None if row is None else frozenset({row.camera_id})


def _deployment(svc: Services, deployment_id: str) -> frozenset[str] | None:
    try:
        return svc.deployments.cameras_of(svc.repo.get_deployment(deployment_id))
    except NotFoundError:
        return None


def _camera(svc: Services, camera_id: str) -> frozenset[str] | None:
    try:
        svc.repo.get_camera(camera_id)
    except NotFoundError:
        return None
    return frozenset({camera_id})


def _postevent_job(svc: Services, job_id: str) -> frozenset[str] | None:
    try:
        return frozenset(PostEventStore(svc.repo.db).get_job(job_id).camera_ids)
    except NotFoundError:
        return None


RECORDS: dict[str, Bound] = {
    "alert": Bound("alert", _alert),
    "sighting": Bound("sighting", _sighting),
    "plate_read": Bound("plate read", _plate_read),
    "segment": Bound("recorded segment", _segment),
    "deployment": Bound("deployment", _deployment),
    "camera": Bound("camera", _camera),
    "postevent_job": Bound("post-event search job", _postevent_job),
}
# Path parameters that name a camera-bound record, and which kind.
PATH_RECORDS: dict[str, str] = {
    "alert_id": "alert",
    "sighting_id": "sighting",
    "deployment_id": "deployment",
    "camera_id": "camera",
    "job_id": "postevent_job",
}
CASE_PARAM = "case_id"
# Path parameters that name no camera-bound record, and why (checked by the tests against the
# OpenAPI spec: a new parameter must be added to PATH_RECORDS or here, on purpose).
NOT_CAMERA_BOUND: dict[str, str] = {
    "user_id": "an account; only admins manage accounts, city-wide",
    "key_id": "one of the caller's own API keys",
    "watchlist_id": "a watchlist names people sought, not cameras",
    "subject_id": "a person enrolled on a watchlist",
    "hotlist_id": "a plate hotlist applies to every camera",
    "entry_id": "an entry of a plate hotlist",
    "name": "a static file of the web console",
}


def camera_allowed(principal: Principal, camera_id: str) -> bool:
    """True when the caller may see this camera."""
    cams = principal.cameras
    return cams is None or camera_id in cams


def sees(principal: Principal, cameras: Collection[str]) -> bool:
    """True when the caller may read a record of these cameras (any one of them suffices)."""
    allowed = principal.cameras
    return allowed is None or not allowed.isdisjoint(cameras)


def may_change(principal: Principal, cameras: Collection[str]) -> bool:
    """True when the caller may change a record of these cameras (all must be theirs)."""
    allowed = principal.cameras
    return allowed is None or (bool(cameras) and allowed.issuperset(cameras))


def require(
    svc: Services,
    principal: Principal,
    kind: str,
    record_id: str,
    *,
    write: bool,
    must_exist: bool = True,
) -> None:
    """Raise unless the record exists and is within the caller's cameras.

    :class:`NotFoundError` when the record is absent or the caller sees none of its cameras:
    the two give the same error, so the answer says nothing about records the caller may not
    see. :class:`PermissionDeniedError` (403, audited by the error handler) when ``write`` and
    the caller sees the record but not all of its cameras (a deployment over two districts).
    ``must_exist=False`` skips the lookup for a caller who sees every camera (the route's own
    lookup then reports a missing record, in its own words).
    """
    if principal.cameras is None and not must_exist:
        return
    bound = RECORDS[kind]
    missing = NotFoundError(f"no {bound.noun} {record_id!r}")
    if not _ID.match(record_id):
        raise missing
    cameras = bound.cameras(svc, record_id)
    if cameras is None:
        raise missing
    if not sees(principal, cameras):
        _record_refusal(svc, principal, f"{kind}:{record_id}", write)
        raise missing
    if write and not may_change(principal, cameras):
        raise PermissionDeniedError(
            f"{bound.noun} {record_id} also covers cameras outside your assignment"
        )


def require_case(svc: Services, principal: Principal, case_id: str, *, write: bool) -> None:
    """Raise :class:`NotFoundError` unless the caller may see (``write``: add to) the case.

    A case is visible to the person who opened it, the people they shared it with, and
    auditors; only the first two may add to it. Everyone else gets the answer a missing case
    gets.
    """
    missing = NotFoundError(f"no case {case_id!r}")
    if not _ID.match(case_id):
        raise missing
    try:
        case = svc.repo.get_case(case_id)
    except NotFoundError:
        raise missing from None
    uid = principal.user.id
    if uid == case.opened_by or (not write and Role.AUDITOR in principal.roles):
        return
    if uid in svc.repo.case_sharers(case_id):
        return
    _record_refusal(svc, principal, f"case:{case_id}", write)
    raise missing


def require_cameras(
    svc: Services, principal: Principal, camera_ids: Collection[str], zone: str | None = None
) -> None:
    """Raise :class:`ValidationError` unless every named camera exists and is the caller's
    (for requests that name cameras); for a caller limited to some cameras, a ``zone`` must
    also have cameras, all of them the caller's.

    An unknown camera and one outside the caller's assignment read the same.
    """
    known = {c.id: c.zone for c in svc.repo.list_cameras()}
    for cam in camera_ids:
        if cam not in known or not camera_allowed(principal, cam):
            raise ValidationError(f"unknown camera {cam!r}")
    if zone is not None and principal.cameras is not None:
        in_zone = [c for c, z in known.items() if z == zone]
        if not in_zone or not may_change(principal, in_zone):
            raise ValidationError(f"unknown zone {zone!r} (or it has no camera of yours)")


def link_visible(svc: Services, principal: Principal, kind: str, target_id: str) -> bool:
    """True when a case link may be shown: its record is of the caller's cameras, is gone
    (purged: the id alone shows nothing), or is not camera-bound."""
    bound = RECORDS.get(kind)
    if bound is None or principal.cameras is None:
        return True
    cameras = bound.cameras(svc, target_id)
    return cameras is None or sees(principal, cameras)


def enforce(request: Request, principal: Principal) -> None:
    """Check every record the route's path names against the caller's cameras and cases.

    Called for every authenticated route by :func:`vigil.api.deps.access`, after the role
    check. Malformed ids are left to the route's validation (422). A caller who sees every
    camera costs no lookup here (the route's own read answers a missing record), except for
    cases, whose visibility does not depend on cameras.
    """
    svc: Services = request.app.state.services
    write = request.method not in SAFE_METHODS
    for name, value in request.path_params.items():
        if not isinstance(value, str) or not _ID.match(value):
            continue
        if name == CASE_PARAM:
            require_case(svc, principal, value, write=write)
        elif name in PATH_RECORDS and principal.cameras is not None:
            require(svc, principal, PATH_RECORDS[name], value, write=write)


def _record_refusal(svc: Services, principal: Principal, target: str, write: bool) -> None:
    """Write the out-of-scope attempt to the audit chain (the caller only sees a 404)."""
    try:
        svc.audit.append(
            principal.user.id,
            AuditAction.ACCESS_REFUSED,
            target[:200],
            "outside the caller's cameras or cases",
            [("code", "out_of_scope"), ("write", str(write).lower()), ("via", principal.via)],
        )
    except Exception:  # the refusal stands even if the chain cannot be written
        log.exception("could not record an out-of-scope refusal in the audit chain")
