"""Attribute search over stored sightings: class, colours, direction, cameras and a time window.

Filters are equality tests on indexed columns (``ix_sightings_class_upper_lower_started``,
``ix_sightings_class_body_started``, ``ix_sightings_camera_started``), so a search reads the
matching index range rather than the table. Results are ranked by ``colour_score`` (how much of
the band the named colour covered), then by time, newest first; the sort runs over the matching
rows only, so a query that matches most of a million rows (``class=person`` with no colour and
no window) sorts them all - narrow queries stay fast, see docs/attribute-search.md.

``plain=True`` runs the same query with the indexes disabled (SQLite ``+column`` terms, PostgreSQL
``enable_indexscan``/``enable_bitmapscan`` off inside the read), which is the benchmark's
same-run baseline; it is never used by the API.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, literal_column, select, text

from vigil.core.attributes import AttributeQuery
from vigil.core.records import Sighting
from vigil.storage import schema as t
from vigil.storage.database import Database
from vigil.storage.repository import _limit, _sighting


def search_query(
    query: AttributeQuery,
    *,
    since: datetime | None,
    until: datetime | None,
    cameras: Collection[str] | None,
    unindexed: bool = False,
) -> Select[tuple[object, ...]]:
    """The filtered, ranked select of a search (without limit and offset). ``unindexed``
    writes each filtered column as ``+sightings.<col>``, SQLite's documented way to stop a term
    from using an index (the plain-scan baseline)."""
    s = t.sightings.c

    def col(name: str) -> ColumnElement[Any]:
        c = s[name]
        return literal_column(f"+sightings.{name}", c.type) if unindexed else c

    q = select(t.sightings).where(col("object_class").in_(query.classes))
    if query.upper is not None:
        q = q.where(col("upper_colour") == query.upper.value)
    if query.lower is not None:
        q = q.where(col("lower_colour") == query.lower.value)
    if query.colour is not None:
        q = q.where(col("body_colour") == query.colour.value)
    if query.direction is not None:
        q = q.where(col("direction") == query.direction.value)
    if cameras is not None:
        q = q.where(col("camera_id").in_(sorted(cameras)))
    if since is not None:
        q = q.where(col("started_at") >= since)
    if until is not None:
        q = q.where(col("started_at") < until)
    return q.order_by(s.colour_score.desc(), s.started_at.desc(), s.id)


def search_sightings(
    db: Database,
    query: AttributeQuery,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    cameras: Collection[str] | None = None,
    limit: int = 50,
    offset: int = 0,
    plain: bool = False,
) -> list[Sighting]:
    """Ranked sightings matching ``query`` (see the module docstring); ``cameras`` limits them to
    the caller's cameras inside the query, so pages stay full."""
    sqlite_scan = plain and db.dialect == "sqlite"
    q = search_query(query, since=since, until=until, cameras=cameras, unindexed=sqlite_scan)
    q = q.limit(_limit(limit)).offset(max(0, offset))
    with db.read() as c:
        if plain and not sqlite_scan:
            c.execute(text("SET LOCAL enable_indexscan = off"))
            c.execute(text("SET LOCAL enable_bitmapscan = off"))
        return [_sighting(r) for r in c.execute(q)]


class AttributeRepository:
    """The repository mixin: ``repo.search_sightings(...)`` over its own database."""

    db: Database

    def search_sightings(
        self,
        query: AttributeQuery,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        cameras: Collection[str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Sighting]:
        return search_sightings(
            self.db, query, since=since, until=until, cameras=cameras, limit=limit, offset=offset
        )
