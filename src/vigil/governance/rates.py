"""Per-user rate limits on searches, shared by every API process through the database.

A plate search or an archive face search reads across everyone's movements, and one costs the
database far more than an ordinary call: six parallel exhaustive plate searches slowed every
other request fifty-fold. :class:`SearchRate` counts each user's searches of one kind per minute
in ``search_rate`` (the same sliding-window counter as the login rate, so N API processes allow
a user the limit once, not N times) and refuses past the limit with
:class:`~vigil.errors.RateLimitedError`, which the API answers as 429 with ``Retry-After``.

Trade-off: one database write per search, in exchange for a limit that holds behind a load
balancer; refused searches are counted too, so a script that ignores 429 stays refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from vigil.errors import RateLimitedError
from vigil.governance.actors import Actor
from vigil.governance.audit import utc_now
from vigil.storage import Repository

PLATE = "plate"
FACE = "face"


class SearchRate:
    """Refuse a user's searches of one kind past ``per_min[kind]`` in the last 60 s."""

    def __init__(
        self,
        repo: Repository,
        per_min: Mapping[str, int],
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        bad = {k: v for k, v in per_min.items() if v < 1}
        if bad:
            raise ValueError(f"search rates must be at least 1 per minute: {bad}")
        self.repo = repo
        self.per_min = dict(per_min)
        self.clock = clock

    def charge(self, actor: Actor, kind: str) -> None:
        """Count one search by ``actor``; :class:`RateLimitedError` when over the limit."""
        limit = self.per_min.get(kind)
        if limit is None:
            return
        now = self.clock()
        if self.repo.count_search(f"{kind}:{actor.id}", now) > limit:
            raise RateLimitedError(
                f"more than {limit} {kind} searches in a minute by this user",
                retry_after_s=61 - now.second,
            )
