"""Retrospective plate search: full or partial plates, wildcards, fuzzy distance - audited.

An investigator searches the stored plate reads by a pattern (``AB1234``, ``AB?2*``), an edit
distance (0 = exact or wildcard match; 1-2 = also reads one or two characters off, for a
witness's partial memory or an OCR slip), optional cameras and a time range, always with a
reason. Results are bounded by the cameras the caller may see (``Principal.cameras``). Each
request appends one ``search.run`` entry (kind ``plate``, the pattern, distance, cameras, window,
result count, whether it continued an earlier page) before results are returned. Plates are not
biometric data, so no post-event authorisation is needed (unlike the face archive), but the
search is still personal-data processing and is logged like one.

How a search stays cheap and complete:

* **Specific patterns only.** A pattern needs ``min_literals`` fixed characters beyond its
  fuzzy distance (:func:`~vigil.perception.plates.match.require_specific`), so ``?*`` cannot
  return every read.
* **Indexed.** Matching is on the folded text (``plate_reads.canon``, confusables folded as
  :mod:`vigil.core.plates` says, so ``8B5`` finds ``BB5`` at distance 0). Exact plates use a
  b-tree, wildcards a trigram index; a fuzzy search asks the index for reads containing one of
  ``k + 1`` disjoint pieces of the pattern and computes each candidate's distance here.
* **Paged and complete.** Reads come newest first by ``(read_at, key)``; a page that did not
  reach the oldest read in the window returns ``next_cursor`` to continue from, so no read in
  the retention window is out of reach (the old scan silently stopped at 100,000 rows). Within
  a page hits are ordered closest first, then newest.
* **Bounded in time.** One request stops after ``timeout_s`` and returns what it found with the
  cursor; each database query is cancelled at the same bound.
* **Rate-limited per user** (:class:`~vigil.governance.rates.SearchRate`): 429 past the limit.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from vigil.core.domain import Role
from vigil.core.plates import fold_confusables
from vigil.core.records import PlateRead
from vigil.errors import ValidationError
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditAction, AuditLog, utc_now
from vigil.governance.rates import PLATE, SearchRate
from vigil.perception.plates.match import literal_count, pattern_distance, require_specific
from vigil.perception.plates.profiles import RegionProfile
from vigil.storage.errors import QueryTimeoutError
from vigil.storage.plates import PlateStore, ReadMatch, ReadPosition

MAX_DISTANCE = 2
FUZZY_PAGE = 2000  # candidates per query of a fuzzy search (500: 220 ms, 2000: 115 ms at one edit)


@dataclass(frozen=True, slots=True)
class PlateHit:
    read: PlateRead
    distance: int
    hotlist_id: str | None
    key: str  # the stored read's id (what a legal hold links to a case)


@dataclass(frozen=True, slots=True)
class PlateSearchResult:
    """One page: its hits, the reads examined, and where the next page starts (``None``: the
    window holds no older match)."""

    hits: list[PlateHit]
    scanned: int
    next_cursor: str | None

    @property
    def truncated(self) -> bool:
        """True when older matches may exist beyond this page (follow ``next_cursor``)."""
        return self.next_cursor is not None


class PlateSearch:
    """Audited plate search over the stored reads (see the module docstring).

    Args:
        min_literals: fixed characters a pattern needs beyond its fuzzy distance.
        timeout_s: time one request may spend; it then returns its page with a cursor.
        rate: per-user search limit (``None``: unlimited, for tests and the CLI).
    """

    def __init__(
        self,
        store: PlateStore,
        audit: AuditLog,
        profile: RegionProfile,
        *,
        min_literals: int = 3,
        timeout_s: float = 5.0,
        rate: SearchRate | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.audit = audit
        self.profile = profile
        self.min_literals = min_literals
        self.timeout_s = timeout_s
        self.rate = rate
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
        cursor: str | None = None,
    ) -> PlateSearchResult:
        """One page of reads matching ``pattern`` within ``max_distance`` edits.

        ``cameras`` is what the caller asked for (``None``: all); ``allowed`` what the caller
        may see (``None``: every camera); the search covers their intersection. ``cursor`` is a
        previous page's ``next_cursor``.
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
        text = require_specific(
            pattern,
            min_literals=self.min_literals,
            max_distance=max_distance,
            what="plate search pattern",
        )
        before = None if cursor is None else decode_cursor(cursor)
        if self.rate is not None:
            self.rate.charge(actor, PLATE)
        scope = _scope(cameras, allowed)
        if scope is None or scope:
            result = self._page(
                text,
                max_distance,
                scope=scope,
                since=since,
                until=until,
                before=before,
                limit=limit,
            )
        else:
            result = PlateSearchResult([], 0, None)
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
                ("results", str(len(result.hits))),
                ("continued", str(before is not None).lower()),
                ("truncated", str(result.truncated).lower()),
            ],
        )
        return result

    def _page(
        self,
        text: str,
        k: int,
        *,
        scope: frozenset[str] | None,
        since: datetime | None,
        until: datetime | None,
        before: ReadPosition | None,
        limit: int,
    ) -> PlateSearchResult:
        """Fetch candidates newest first until ``limit`` hits, the window's end or the time
        bound; the cursor is the last read examined."""
        canon = fold_confusables(text)
        match = _index_query(canon, k)
        batch = limit + 1 if k == 0 else FUZZY_PAGE
        deadline = time.monotonic() + self.timeout_s
        hits: list[PlateHit] = []
        scanned = 0
        while True:
            left = deadline - time.monotonic()
            if left <= 0 and scanned:
                break  # out of time: hand back what was found and where to continue
            try:
                rows = self.store.search_reads(
                    match,
                    cameras=None if scope is None else sorted(scope),
                    since=since,
                    until=until,
                    before=before,
                    limit=batch,
                    timeout_s=max(left, 0.1),
                )
            except QueryTimeoutError:
                if not scanned:
                    raise  # not one read in the bound: the caller must narrow the search
                break
            for stored in rows:
                if len(hits) == limit:
                    return _sorted(hits, scanned, before)
                scanned += 1
                before = ReadPosition(stored.read.read_at, stored.key)
                d = pattern_distance(canon, self.profile.canonical(stored.read.text))
                if d <= k:
                    hits.append(PlateHit(stored.read, d, stored.hotlist_id, stored.key))
            if len(rows) < batch:
                return _sorted(hits, scanned, None)  # the window holds nothing older
        return _sorted(hits, scanned, before)


def _index_query(canon: str, k: int) -> ReadMatch:
    """What to ask the index for: the pattern itself (``k == 0``), or for a fuzzy search the
    reads that keep one of ``k + 1`` disjoint literal pieces of it intact."""
    if k == 0:
        return ReadMatch(canon)
    runs = [r for r in canon.replace("*", "?").split("?") if r]
    while len(runs) < k + 1:  # split the longest run until there are k + 1 pieces
        longest = max(runs, key=len)
        if len(longest) < 2:
            break
        i = runs.index(longest)
        half = len(longest) // 2
        runs[i : i + 1] = [longest[:half], longest[half:]]
    pieces = tuple(sorted(runs, key=len, reverse=True)[: k + 1])
    fixed = literal_count(canon) + canon.count("?")
    most = 16 if "*" in canon else fixed + k
    return ReadMatch(canon, pieces, (max(1, fixed - k), most))


def _sorted(hits: list[PlateHit], scanned: int, before: ReadPosition | None) -> PlateSearchResult:
    hits.sort(key=lambda h: (h.distance, -h.read.read_at.timestamp()))
    return PlateSearchResult(hits, scanned, None if before is None else encode_cursor(before))


def encode_cursor(position: ReadPosition) -> str:
    raw = f"{position.read_at.isoformat()}|{position.key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> ReadPosition:
    """A previous page's ``next_cursor``; :class:`ValidationError` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, key = raw.split("|")
        read_at = datetime.fromisoformat(at)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValidationError("cursor is not one this search returned") from None
    if read_at.tzinfo is None or not key:
        raise ValidationError("cursor is not one this search returned")
    return ReadPosition(read_at, key)


def _scope(
    cameras: Collection[str] | None, allowed: Collection[str] | None
) -> frozenset[str] | None:
    """Cameras to search: the request intersected with what the caller may see."""
    if cameras is None:
        return None if allowed is None else frozenset(allowed)
    asked = frozenset(cameras)
    return asked if allowed is None else asked & frozenset(allowed)
