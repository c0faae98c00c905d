"""Attribute search of stored sightings, with its refusals, audited (API and CLI share it).

A search arrives as plain ``name=value`` pairs (the query string, or the CLI's options). Before
anything is read, **every** name and value - known or not - goes through
:func:`vigil.core.attributes.check_terms`: a query that names a protected characteristic (in any
field, any case, with odd spacing or a plural) is refused with
:class:`~vigil.core.attributes.ProtectedAttributeError` (HTTP 422, CLI exit 2) and the refusal is
written to the audit chain as ``search.refused`` with the offending words. Then unknown names are
refused (422, not audited: nothing was searched and nothing protected was asked), the values are
parsed into an :class:`~vigil.core.attributes.AttributeQuery`, the search runs inside the caller's
cameras and one ``search.run`` entry records the filters and the number of results.

The audit entry is written after the read: a search changes no state, so there is nothing to
commit with it; a failure to audit fails the request (the caller sees no results unaudited).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from vigil.core.attributes import (
    CLASS_WORDS,
    AttributeQuery,
    Direction,
    check_terms,
    colour,
    parse_text,
    protected_terms,
)
from vigil.core.records import Sighting
from vigil.errors import ValidationError
from vigil.governance.audit import AuditAction, AuditLog
from vigil.storage.attributes import search_sightings
from vigil.storage.database import Database

#: The attribute fields a search may carry (time, cameras and paging are handled by the caller).
FIELDS = ("class", "upper", "lower", "colour", "direction", "q")
PAGING = ("cameras", "since", "until", "limit", "offset")


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A validated search: the attribute query and the (already checked) window and cameras."""

    query: AttributeQuery
    cameras: frozenset[str] | None
    since: datetime | None
    until: datetime | None


def build_query(fields: Mapping[str, str]) -> AttributeQuery:
    """The attribute query of validated field values (``q`` or the structured fields, not both)."""
    if fields.get("q"):
        if any(fields.get(k) for k in FIELDS if k != "q"):
            raise ValidationError("give either q (free text) or the structured fields, not both")
        return parse_text(fields["q"])
    cls = fields.get("class", "person").strip().casefold() or "person"
    if cls not in CLASS_WORDS:
        raise ValidationError(f"class: unknown class {cls!r}; use person or a vehicle type")
    d = fields.get("direction")
    if d and d.strip().casefold() not in {x.value for x in Direction}:
        raise ValidationError(f"direction must be one of {', '.join(x.value for x in Direction)}")
    return AttributeQuery(
        classes=CLASS_WORDS[cls],
        upper=colour(fields["upper"], "upper") if fields.get("upper") else None,
        lower=colour(fields["lower"], "lower") if fields.get("lower") else None,
        colour=colour(fields["colour"], "colour") if fields.get("colour") else None,
        direction=Direction(d.strip().casefold()) if d else None,
    )


class AttributeSearch:
    """The one door to attribute search: refusals first, then the scoped search, both audited."""

    def __init__(self, db: Database, audit: AuditLog) -> None:
        self.db = db
        self.audit = audit

    def refuse_protected(
        self,
        actor: str,
        params: Iterable[tuple[str, str]],
        reason: str,
        attribution: Collection[tuple[str, str]] = (),
    ) -> None:
        """Audit and raise when any parameter name or value names a protected characteristic."""
        texts = [text for pair in params for text in pair]
        found = protected_terms(texts)
        if not found:
            return
        self.audit.append(
            actor,
            AuditAction.SEARCH_REFUSED,
            "sightings",
            reason,
            [
                ("kind", "attributes"),
                ("why", "protected attribute"),
                ("terms", ",".join(found)[:200]),
                *attribution,
            ],
        )
        check_terms(texts)  # raises: ``found`` is not empty

    def run(
        self,
        actor: str,
        params: Mapping[str, str],
        request: SearchRequest | None,
        *,
        reason: str,
        limit: int,
        offset: int,
        attribution: Collection[tuple[str, str]] = (),
    ) -> list[Sighting]:
        """Refuse protected or unknown fields, then search and audit; returns up to ``limit + 1``
        rows (the extra one tells the caller another page exists). ``params`` are every field
        the caller sent (including unknown ones); ``request`` the window and cameras, or ``None``
        to build them from ``params`` alone (all cameras, no window)."""
        self.refuse_protected(actor, params.items(), reason, attribution)
        unknown = sorted(k for k in params if k not in FIELDS + PAGING)
        if unknown:
            raise ValidationError(
                f"unknown search field(s): {', '.join(unknown)}; "
                f"allowed: {', '.join(FIELDS + PAGING)}"
            )
        query = build_query({k: v for k, v in params.items() if k in FIELDS})
        req = request or SearchRequest(query, None, None, None)
        rows = search_sightings(
            self.db,
            query,
            since=req.since,
            until=req.until,
            cameras=req.cameras,
            limit=limit + 1,
            offset=offset,
        )
        self.audit.append(
            actor,
            AuditAction.SEARCH,
            "sightings",
            reason,
            [
                ("kind", "attributes"),
                ("class", ",".join(query.classes)),
                ("upper", query.upper or "-"),
                ("lower", query.lower or "-"),
                ("colour", query.colour or "-"),
                ("direction", query.direction or "-"),
                ("cameras", ",".join(sorted(req.cameras)) if req.cameras is not None else "*"),
                ("since", req.since.isoformat() if req.since else "-"),
                ("until", req.until.isoformat() if req.until else "-"),
                ("offset", str(offset)),
                ("results", str(min(len(rows), limit))),
                *attribution,
            ],
        )
        return rows
