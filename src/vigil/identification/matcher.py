"""1:N matching of a face track's best shot against one deployment's watchlists.

There is no way to compare a face with a watchlist except through :class:`WatchlistMatcher`, and
no way to build one except from an :class:`~vigil.identification.authority.ActiveDeployment` (which
only the deployment service issues, for a deployment in force). Every ``match`` call re-checks
the handle (stopped? inside its window? this camera?) *before* touching the index, so a
refusal, a missed urgent deadline or the end time stops comparisons at once, even in a matcher
built earlier.

The gallery is built from the watchlist versions the deployment pinned: if a watchlist changed
after authorisation its hash no longer matches and the matcher refuses to load it (a changed list
needs a new authorisation). The open-set decision uses the calibrated threshold; each decision
carries the calibrated false-alert rate at its score for the size of the gallery searched and the
rank-2 margin.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from vigil.errors import PolicyViolationError
from vigil.identification.authority import ActiveDeployment
from vigil.identification.calibration import FalseAlertModel, RateEstimate
from vigil.identification.gallery import Candidate, Gallery, GalleryEntry
from vigil.perception.faces.cascade import CascadeEmbedder
from vigil.storage import Repository

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MatchDecision:
    """The open-set decision for one probe within one deployment."""

    deployment_id: str
    is_match: bool
    score: float
    false_alert: RateEstimate
    candidate: Candidate | None
    rank2_margin: float | None
    gallery_size: int

    @property
    def false_alert_rate(self) -> float:
        """The rate shown and acted on: the 95% upper bound of :attr:`false_alert`."""
        return self.false_alert.upper


class WatchlistMatcher:
    """Searches one deployment's pinned watchlists; refuses to run outside the deployment.

    Args:
        deployment: the active deployment handle (anything else is refused).
        gallery: the index of its templates (see :meth:`for_deployment`).
        false_alerts: the calibration curve.
        threshold: the calibrated open-set threshold (scores at or above raise an alert).
    """

    def __init__(
        self,
        deployment: ActiveDeployment,
        gallery: Gallery,
        false_alerts: FalseAlertModel,
        threshold: float,
    ) -> None:
        if not isinstance(deployment, ActiveDeployment):
            raise PolicyViolationError(
                "matching needs an active deployment; no face is compared outside one"
            )
        self.deployment = deployment
        self.gallery = gallery
        self.false_alerts = false_alerts
        self.threshold = threshold
        per_person = Counter(e.subject_id for e in gallery.entries)
        self.persons = max(len(per_person), 1)
        self.templates_per_person = max(per_person.values(), default=1)
        self._cheap: npt.NDArray[np.float32] | None = None  # the cascade's gallery side, lazily

    @classmethod
    def for_deployment(
        cls,
        deployment: ActiveDeployment,
        repo: Repository,
        false_alerts: FalseAlertModel,
        threshold: float,
        **gallery_options: int,
    ) -> WatchlistMatcher:
        """Build the gallery from the deployment's pinned watchlist versions."""
        if not isinstance(deployment, ActiveDeployment):
            raise PolicyViolationError(
                "matching needs an active deployment; no face is compared outside one"
            )
        entries: list[GalleryEntry] = []
        vectors: list[npt.NDArray[np.float32]] = []
        for watchlist_id, pinned in deployment.watchlists:
            wl = repo.get_watchlist(watchlist_id)
            if wl.version_hash != pinned:
                raise PolicyViolationError(
                    f"watchlist {watchlist_id} changed since deployment {deployment.id} was "
                    "authorised; the new version needs a new authorisation"
                )
            for tpl in repo.templates_for_watchlist(watchlist_id):
                entries.append(GalleryEntry(tpl.id, tpl.subject_id, watchlist_id, tpl.image_key))
                vectors.append(tpl.vector)
        dim = len(vectors[0]) if vectors else 1
        mat = np.stack(vectors) if vectors else np.zeros((0, dim), np.float32)
        gallery = Gallery(entries, mat, **gallery_options)
        return cls(deployment, gallery, false_alerts, threshold)

    def match(self, probe: npt.ArrayLike, camera_id: str, at: datetime) -> MatchDecision:
        """Search one best-shot template seen on ``camera_id`` at ``at``.

        Raises:
            PolicyViolationError: the deployment does not authorise matching here and now.
        """
        self.deployment.ensure(camera_id, at)
        result = self.gallery.search(probe, k=2)
        best = result.best
        score = -1.0 if best is None else best.score
        return MatchDecision(
            deployment_id=self.deployment.id,
            is_match=best is not None and best.score >= self.threshold,
            score=score,
            false_alert=self.false_alerts.fpir(score, self.persons, self.templates_per_person),
            candidate=best,
            rank2_margin=result.rank2_margin,
            gallery_size=len(self.gallery),
        )

    def cheap_best(
        self, probe: npt.ArrayLike, cascade: CascadeEmbedder, camera_id: str, at: datetime
    ) -> float:
        """The cascade's first step: the best score of a cheap-member probe against the cheap
        member's part of this gallery (-1 for an empty gallery).

        Raises:
            PolicyViolationError: the deployment does not authorise matching here and now.
        """
        self.deployment.ensure(camera_id, at)
        if self._cheap is None:
            self._cheap = cascade.cheap_part(self.gallery.vectors())
        if not len(self._cheap):
            return -1.0
        q = np.asarray(probe, np.float32).reshape(-1)
        return float((self._cheap @ q).max())
