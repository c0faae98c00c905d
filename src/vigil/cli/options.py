"""Option parsing shared by the ``vigil`` commands."""

from __future__ import annotations

from datetime import UTC, datetime

from vigil.errors import ValidationError


def parse_when(text: str, name: str) -> datetime:
    """An ISO 8601 date or time given as ``--name``; UTC when it carries no offset."""
    try:
        ts = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(f"--{name} must be an ISO 8601 date or time, got {text!r}") from exc
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def parse_optional_when(text: str | None, name: str) -> datetime | None:
    """:func:`parse_when`, or ``None`` when the option was not given."""
    return None if text is None else parse_when(text, name)
