"""Helpers shared by the routers: pagination, time filters, the standard error responses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query

from vigil.api.errors import ERROR_RESPONSES
from vigil.api.input_guard import reject_control_characters
from vigil.api.schemas import Page
from vigil.errors import ValidationError

T = TypeVar("T")
U = TypeVar("U")
MAX_LIMIT = 500
MAX_OFFSET = 9_500

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")]
Since = Annotated[datetime | None, Query(description="Only at or after this time (ISO 8601).")]
Until = Annotated[datetime | None, Query(description="Only before this time (ISO 8601).")]


def router(prefix: str, tag: str) -> APIRouter:
    """A router whose every route shares the error responses and refuses control characters in
    any text input (422) before its handler runs."""
    return APIRouter(
        prefix=f"/api/v1{prefix}",
        tags=[tag],
        responses=ERROR_RESPONSES,
        dependencies=[Depends(reject_control_characters)],
    )


def aware(ts: datetime | None, name: str) -> datetime | None:
    """Query times without a zone are refused (a naive time is ambiguous in a city system)."""
    if ts is None:
        return None
    if ts.tzinfo is None:
        raise ValidationError(f"{name} must include a time zone (e.g. 2025-01-01T00:00:00Z)")
    try:
        utc = ts.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValidationError(f"{name} is out of range") from None
    if not datetime(1970, 1, 2, tzinfo=UTC) <= utc <= datetime(9000, 1, 1, tzinfo=UTC):
        raise ValidationError(f"{name} is out of range")
    return utc


def page(items: Sequence[T], convert: Callable[[T], U], limit: int, offset: int) -> Page[U]:
    """A page from ``limit + 1`` fetched items (the extra one says whether more exist)."""
    more = len(items) > limit
    return Page[U](
        items=[convert(i) for i in items[:limit]],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if more else None,
    )
