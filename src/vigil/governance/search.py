"""Retrospective face search over the sighting archive: only under an authorisation, always audited.

The archive index (:mod:`vigil.storage.archive`) answers any query it is given; this service is
the one door to it that the system assembles (:func:`vigil.system.governance.governance_services`).
A search needs

* the investigator role and a reason;
* an **approved post-event authorisation** (a ``post_event`` deployment) that is not refused,
  revoked or expired; results are limited to that authorisation's cameras and time window, so a
  search for one robbery cannot return faces from the rest of the city.

Each search appends one ``search.run`` entry (who, under which authorisation, why, how many
results, the cameras and window searched) before any result is returned; a refused search appends
``search.refused`` with the reason. Entries never hold the probe vector or result scores.

Trade-off: filtering happens after the approximate search, so a query whose nearest neighbours lie
mostly outside the authorised cameras may return fewer than ``k`` hits; the search over-fetches
(``fetch_factor``) to make that rarer, at the cost of re-scoring more candidates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from vigil.core.domain import DeploymentRow, DeploymentState, Role
from vigil.errors import NotFoundError, PolicyViolationError, ValidationError
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditAction, AuditLog, utc_now
from vigil.governance.deployments import DeploymentKind, DeploymentService
from vigil.governance.rates import FACE, SearchRate
from vigil.storage import Repository
from vigil.storage.archive import ArchiveIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ArchiveHit:
    """One sighting found by a retrospective search (metadata only; the crop view is audited
    separately when someone opens it)."""

    sighting_id: str
    camera_id: str
    started_at: datetime
    ended_at: datetime
    score: float


class ArchiveSearch:
    """Audited, authorised search of the sighting archive by a face embedding.

    Args:
        fetch_factor: candidates fetched per wanted hit before the authorisation filter.
        rate: per-user limit on face searches (``None``: unlimited).
    """

    def __init__(
        self,
        repo: Repository,
        archive: ArchiveIndex,
        audit: AuditLog,
        deployments: DeploymentService,
        *,
        fetch_factor: int = 10,
        rate: SearchRate | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.repo = repo
        self.archive = archive
        self.audit = audit
        self.deployments = deployments
        self.fetch_factor = fetch_factor
        self.rate = rate
        self.clock = clock

    def admit(self, actor: Actor) -> None:
        """Count one face search by ``actor`` against the per-user rate (429 past it). The API
        calls this before the photo is embedded, the expensive part of a search."""
        actor.require(Role.INVESTIGATOR, action="searching the archive")
        if self.rate is not None:
            self.rate.charge(actor, FACE)

    def search(
        self,
        actor: Actor,
        authorisation_id: str,
        probe: npt.ArrayLike,
        *,
        reason: str,
        k: int = 10,
        allowed: Collection[str] | None = None,
    ) -> list[ArchiveHit]:
        """The ``k`` best sightings inside the authorisation's cameras and window, best first.

        ``allowed`` is the cameras the searcher may see (``None``: all): hits come only from
        them, and an authorisation that covers none of them is refused as if it did not exist.

        Raises:
            PermissionDeniedError: the actor is not an investigator.
            PolicyViolationError: no approved post-event authorisation with that id (audited).
            ValidationError: no reason, a bad ``k`` or a probe that is not one finite vector.
        """
        actor.require(Role.INVESTIGATOR, action="searching the archive")
        if not reason.strip():
            raise ValidationError("an archive search needs a reason")
        if not 1 <= k <= 1000:
            raise ValidationError(f"k must be in [1, 1000], got {k}")
        query = np.asarray(probe, dtype=np.float32).reshape(1, -1)
        if not np.isfinite(query).all():
            raise ValidationError("the probe must be a finite vector")
        dep = self._authorisation(actor, authorisation_id, reason, allowed)
        cams = self.deployments.cameras_of(dep)
        if allowed is not None:
            cams &= frozenset(allowed)
        found = self.archive.search(query, k * self.fetch_factor)
        hits = self._hits(found.ids[0], found.scores[0], dep, cams)[:k]
        self.audit.append(
            actor.id,
            AuditAction.SEARCH,
            f"deployment:{dep.id}",
            reason,
            [
                ("kind", "archive_face"),
                ("cameras", ",".join(sorted(cams))[:200]),
                ("from", dep.starts_at.isoformat()),
                ("to", dep.ends_at.isoformat()),
                ("k", str(k)),
                ("results", str(len(hits))),
            ],
        )
        return hits

    def _authorisation(
        self, actor: Actor, authorisation_id: str, reason: str, allowed: Collection[str] | None
    ) -> DeploymentRow:
        """The approved, unexpired post-event deployment, or an audited refusal."""
        return post_event_authorisation(
            self.repo,
            self.deployments,
            self.audit,
            actor=actor,
            authorisation_id=authorisation_id,
            reason=reason,
            allowed=allowed,
            search="archive_face",
        )

    def _hits(
        self,
        ids: npt.NDArray[np.int64],
        scores: npt.NDArray[np.float32],
        dep: DeploymentRow,
        cams: frozenset[str],
    ) -> list[ArchiveHit]:
        live = [int(i) for i in ids if i >= 0]
        score_of = {int(i): float(s) for i, s in zip(ids, scores, strict=True) if i >= 0}
        owners = {e.vector_id: e.sighting_id for e in self.repo.get_embeddings(live)}
        hits = []
        for vid in live:
            sid = owners.get(vid)
            if sid is None:  # purged from the database; the index lags
                continue
            s = self.repo.get_sighting(sid)
            if s.camera_id in cams and dep.starts_at <= s.started_at and s.ended_at <= dep.ends_at:
                hits.append(ArchiveHit(s.id, s.camera_id, s.started_at, s.ended_at, score_of[vid]))
        return hits


def post_event_authorisation(
    repo: Repository,
    deployments: DeploymentService,
    audit: AuditLog,
    *,
    actor: Actor,
    authorisation_id: str,
    reason: str,
    allowed: Collection[str] | None,
    search: str,
    cameras: Collection[str] = (),
    window: tuple[datetime, datetime] | None = None,
) -> DeploymentRow:
    """The approved, unexpired post-event authorisation a search runs under, or a refusal.

    The one check every search of the past goes through (the archive face search, the
    post-event search of recorded footage): the deployment must exist, be a post-event
    authorisation, be approved (expiry applied first), cover every camera in ``cameras`` and
    the whole ``window`` when given, and lie inside the caller's camera scope (``allowed``;
    an authorisation of another district is answered as unknown). A refusal is written to the
    audit chain (``search.refused``, with ``search`` naming which search) before
    :class:`PolicyViolationError` is raised.
    """
    deployments.tick()  # apply expiry first
    try:
        dep: DeploymentRow | None = repo.get_deployment(authorisation_id)
    except NotFoundError:
        dep = None
    covered = frozenset() if dep is None else deployments.cameras_of(dep)
    if dep is not None and allowed is not None and covered.isdisjoint(allowed):
        dep = None  # another district's authorisation: answered as unknown
    asked = set(cameras)
    why = ""
    if dep is None:
        why = f"no authorisation {authorisation_id!r}"
    elif dep.kind != DeploymentKind.POST_EVENT.value:
        why = f"deployment {authorisation_id} is not a post-event search authorisation"
    elif dep.state is not DeploymentState.APPROVED:
        why = f"authorisation {authorisation_id} is {dep.state}, not approved"
    elif not asked <= covered:
        why = f"cameras {sorted(asked - covered)} are outside the authorisation"
    elif allowed is not None and not asked <= set(allowed):
        why = f"cameras {sorted(asked - set(allowed))} are outside your camera scope"
    elif window is not None and (window[0] < dep.starts_at or window[1] > dep.ends_at):
        why = "the window is outside the authorisation's time bounds"
    if why:
        audit.append(
            actor.id,
            AuditAction.SEARCH_REFUSED,
            f"deployment:{authorisation_id}"[:200],
            reason,
            [("kind", search), ("why", why[:200])],
        )
        label = "archive search" if search == "archive_face" else "post-event search"
        raise PolicyViolationError(f"{label} refused: {why}")
    assert dep is not None
    return dep
