"""Plate patterns: exact, wildcard (``?`` one character, ``*`` any run) and fuzzy (edit distance).

One function serves hotlist matching and plate search: :func:`pattern_distance` is the fewest
character edits (insert, delete, substitute) that make ``text`` match ``pattern``, where ``?``
matches any one character and ``*`` any run (including none) at no cost. Exact and wildcard
matches are distance 0; a fuzzy search accepts up to ``k``. Both sides are compared after the
region's confusable folding (:meth:`~vigil.perception.plates.profiles.RegionProfile.canonical`),
so ``8B5`` finds ``BB5`` at distance 0 - an OCR confusion is not an edit.

Cost: ``O(len(pattern) x len(text))``, at most 16 x 12 cells per stored read.
"""

from __future__ import annotations

import re

from vigil.errors import ValidationError

PATTERN_RE = re.compile(r"^[A-Z0-9?*]{1,16}$")


def normalise_pattern(raw: str) -> str:
    """Upper-case, separators (space, '-', '.') dropped, runs of ``*`` collapsed; refuses
    anything but letters, digits, ``?`` and ``*``, and patterns of only ``*``."""
    text = re.sub(r"[\s.\-]", "", raw.upper())
    text = re.sub(r"\*+", "*", text)
    if not PATTERN_RE.fullmatch(text):
        raise ValidationError(
            f"a plate pattern is 1-16 letters, digits, '?' and '*', got {raw[:40]!r}"
        )
    if set(text) == {"*"}:
        raise ValidationError("a plate pattern of only '*' matches every plate")
    return text


def literal_count(pattern: str) -> int:
    """Fixed characters of a pattern: everything but ``?`` and ``*``."""
    return sum(c not in "?*" for c in pattern)


def require_specific(pattern: str, *, min_literals: int, max_distance: int = 0, what: str) -> str:
    """The normalised ``pattern``, refused unless it pins down enough of a plate.

    The one rule behind plate searches and hotlist entries (API, CLI and console all reach it
    through the services): a pattern needs at least ``min_literals`` fixed characters *after*
    the ``max_distance`` edits a fuzzy search allows, since each edit can cancel one fixed
    character - two in a pattern with ``*``, which already absorbs any inserted text for free
    (calibrated by the property test ``tests/unit/test_plate_pattern_bounds.py``: counting one
    let ``A*9580*`` at two edits match 6% of a plate population). ``?*``, ``*?*`` or ``A*``
    would otherwise match every read: a search returning everyone's movements, or a hotlist
    entry turning every passing vehicle into an alert and keeping its read for the list's
    retention. Trade-off: a witness who remembers two characters cannot search on them alone;
    they add a camera and a time window and read through the results instead.
    """
    text = normalise_pattern(pattern)
    cost = max_distance * (2 if "*" in text else 1)
    fixed = literal_count(text) - cost
    if fixed < min_literals:
        edits = f" less {cost} for {max_distance} edit(s)" if max_distance else ""
        raise ValidationError(
            f"{what} {text!r} has {fixed} fixed character(s){edits}; at least {min_literals} are "
            "needed so that it cannot match most plates",
            hint="give more of the plate" + (", or a smaller fuzzy distance" if edits else ""),
        )
    return text


def pattern_distance(pattern: str, text: str) -> int:
    """Fewest edits that make ``text`` match ``pattern`` (see the module docstring)."""
    n = len(text)
    prev = list(range(n + 1))  # empty pattern vs text[:j]
    for p in pattern:
        if p == "*":
            cur = [prev[0]]
            for j in range(1, n + 1):
                cur.append(min(prev[j], cur[j - 1]))  # '*' takes nothing, or one more char
        else:
            cur = [prev[0] + 1]
            for j in range(1, n + 1):
                hit = 0 if p in ("?", text[j - 1]) else 1
                cur.append(min(prev[j - 1] + hit, prev[j] + 1, cur[j - 1] + 1))
        prev = cur
    return prev[n]


def is_wildcard(pattern: str) -> bool:
    return "?" in pattern or "*" in pattern
