"""Retrospective plate search: full or partial plates, wildcards, fuzzy distance - audited.

An investigator searches the stored plate reads by a pattern (``AB1234``, ``AB?2*``), an edit
distance (0 = exact or wildcard match; 1-2 = also reads one or two characters off, for a
witness's partial memory or an OCR slip), optional cameras and a time range, always with a
reason. Results are bounded by the cameras the caller may see (``Principal.cameras``). Each
search appends one ``search.run`` entry (kind ``plate``, the pattern, distance, cameras, window,
result count) before results are returned. Plates are not biometric data, so no post-event
authorisation is needed (unlike the face archive), but the search is still personal-data
processing and is logged like one.

Matching is on the region's canonical forms (:mod:`vigil.perception.plates.match`). The scan is
bounded: reads in the window are streamed newest first, only those of a plausible length, up to
``max_scan`` rows; a search that hit the bound says so (``truncated``) instead of pretending
the archive held nothing more.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from vigil.core.domain import Role
from vigil.core.records import PlateRead
from vigil.errors import ValidationError
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditAction, AuditLog, utc_now
from vigil.perception.plates.match import normalise_pattern, pattern_distance
from vigil.perception.plates.profiles import RegionProfile
from vigil.storage.plates import PlateStore

MAX_DISTANCE = 2


@dataclass(frozen=True, slots=True)
class PlateHit:
    read: PlateRead
    distance: int
    hotlist_id: str | None
    key: str  # the stored read's id (what a legal hold links to a case)


@dataclass(frozen=True, slots=True)
class PlateSearchResult:
    hits: list[PlateHit]
    scanned: int
    truncated: bool


class PlateSearch:
    """Audited plate search over the stored reads (see the module docstring)."""

    def __init__(
        self,
        store: PlateStore,
        audit: AuditLog,
        profile: RegionProfile,
        *,
        max_scan: int = 100_000,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.audit = audit
        self.profile = profile
        self.max_scan = max_scan
        self.clock = clock

    def search(
        self,
        actor: Actor,
        *,
        pattern: str,
        reason: str,
        max_distance: int = 0,
        cameras: Collection[str] | None = None,
        allowed: Collection[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> PlateSearchResult:
        """Reads matching ``pattern`` within ``max_distance`` edits, best then newest first.

        ``cameras`` is what the caller asked for (``None``: all); ``allowed`` what the caller
        may see (``None``: every camera); the search covers their intersection.
        """
        actor.require(Role.INVESTIGATOR, action="searching plate reads")
        if not reason.strip():
            raise ValidationError("a plate search needs a reason")
        if not 0 <= max_distance <= MAX_DISTANCE:
            raise ValidationError(f"max_distance must be in [0, {MAX_DISTANCE}]")
        if not 1 <= limit <= 1000:
            raise ValidationError(f"limit must be in [1, 1000], got {limit}")
        if since is not None and until is not None and until <= since:
            raise ValidationError("until must be after since")
        text = normalise_pattern(pattern)
        canon = "".join(c if c in "?*" else self.profile.canonical(c) or c for c in text)
        scope = _scope(cameras, allowed)
        fixed = len(text.replace("*", ""))
        longest = 12 if "*" in text else fixed + max_distance
        hits: list[PlateHit] = []
        scanned = 0
        if scope is None or scope:
            for stored in self.store.scan_reads(
                cameras=None if scope is None else sorted(scope),
                since=since,
                until=until,
                lengths=(max(1, fixed - max_distance), longest),
                max_rows=self.max_scan,
            ):
                scanned += 1
                d = pattern_distance(canon, self.profile.canonical(stored.read.text))
                if d <= max_distance:
                    hits.append(PlateHit(stored.read, d, stored.hotlist_id, stored.key))
        truncated = scanned >= self.max_scan
        hits.sort(key=lambda h: (h.distance, -h.read.read_at.timestamp()))
        self.audit.append(
            actor.id,
            AuditAction.SEARCH,
            "plate_reads",
            reason.strip()[:2000],
            [
                ("kind", "plate"),
                ("pattern", text),
                ("max_distance", str(max_distance)),
                ("cameras", "*" if scope is None else ",".join(sorted(scope))[:200]),
                ("from", since.isoformat() if since else ""),
                ("to", until.isoformat() if until else ""),
                ("results", str(min(len(hits), limit))),
                ("truncated", str(truncated).lower()),
            ],
        )
        return PlateSearchResult(hits[:limit], scanned, truncated)


def _scope(
    cameras: Collection[str] | None, allowed: Collection[str] | None
) -> frozenset[str] | None:
    """Cameras to search: the request intersected with what the caller may see."""
    if cameras is None:
        return None if allowed is None else frozenset(allowed)
    asked = frozenset(cameras)
    return asked if allowed is None else asked & frozenset(allowed)
