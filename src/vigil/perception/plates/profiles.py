"""Region profiles: what a valid plate string looks like, and how confusable characters fold.

A profile turns a raw OCR string into a plate string (upper-case letters and digits, separators
dropped) and rejects strings that cannot be a plate of that region (wrong length). It also owns
the confusable-character rules, because they are regional: a US plate never carries the letter
``O`` (states issue ``0``), so an ``O`` read there is folded to ``0``; a region that issues both
keeps them apart when normalising and only folds them when *comparing* (:meth:`canonical`), so a
search for ``8B5`` also finds ``BB5``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Pairs OCR engines confuse on plate fonts; the digit is the canonical side.
CONFUSABLE_PAIRS: Mapping[str, str] = {"O": "0", "I": "1", "B": "8", "S": "5", "Q": "0", "D": "0"}
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


@dataclass(frozen=True, slots=True)
class RegionProfile:
    """Format rules of one region's plates.

    Attributes:
        name: Profile key (``"us"``).
        min_len: Shortest valid plate string after normalisation.
        max_len: Longest valid plate string after normalisation.
        fold: Characters the region never issues, mapped to the character OCR mistook them for
            (applied when normalising a read).
        confusables: Pairs folded together only when comparing two plate strings.
    """

    name: str
    min_len: int
    max_len: int
    fold: Mapping[str, str] = field(default_factory=dict)
    confusables: Mapping[str, str] = field(default_factory=lambda: dict(CONFUSABLE_PAIRS))

    def __post_init__(self) -> None:
        if not 1 <= self.min_len <= self.max_len <= 12:
            raise ValueError(f"profile {self.name}: need 1 <= min_len <= max_len <= 12")
        for table in (self.fold, self.confusables):
            bad = [k for k, v in table.items() if k not in _ALNUM or v not in _ALNUM]
            if bad:
                raise ValueError(f"profile {self.name}: non-alphanumeric mapping for {bad}")

    def clean(self, raw: str) -> str:
        """Upper-case alphanumerics of ``raw`` with the region's folds applied (no length check)."""
        chars = [c for c in raw.upper() if c in _ALNUM]
        return "".join(self.fold.get(c, c) for c in chars)

    def normalise(self, raw: str) -> str | None:
        """The plate string for ``raw``, or ``None`` when it cannot be a plate of this region."""
        text = self.clean(raw)
        return text if self.min_len <= len(text) <= self.max_len else None

    def canonical(self, text: str) -> str:
        """Fold every confusable pair to one side: two reads of one plate compare equal."""
        return "".join(self.confusables.get(c, c) for c in self.clean(text))

    def same_plate(self, a: str, b: str) -> bool:
        """True when ``a`` and ``b`` are the same plate up to confusable characters."""
        return bool(a) and self.canonical(a) == self.canonical(b)


US = RegionProfile(name="us", min_len=2, max_len=8, fold={"O": "0"})
"""United States: 2-8 letters/digits; no state issues the letter O, so O reads fold to 0."""

GENERIC = RegionProfile(name="generic", min_len=2, max_len=10)
"""Any region: 2-10 letters/digits, nothing folded when normalising."""

PROFILES: Mapping[str, RegionProfile] = {p.name: p for p in (US, GENERIC)}


def get_profile(name: str) -> RegionProfile:
    """The profile called ``name``, or ValueError naming the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown plate region {name!r}; known: {sorted(PROFILES)}") from None
