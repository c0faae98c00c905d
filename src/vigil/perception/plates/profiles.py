"""Region profiles: what a valid plate string looks like, and how confusable characters fold.

A profile turns a raw OCR string into a plate string (upper-case letters and digits, separators
dropped) and rejects strings that cannot be a plate of that region (wrong length, a letter the
region never issues that cannot be folded). It also owns the confusable-character rules, because
they are regional: a US plate never carries the letter ``O`` (states issue ``0``), so an ``O``
read there is folded to ``0``; Hong Kong issues none of ``I``, ``O`` and ``Q``, so all three fold
to digits; a region that issues both sides of a pair keeps them apart when normalising and only
folds them when *comparing* (:meth:`RegionProfile.canonical`), so a search for ``8B5`` also finds
``BB5``.

``patterns`` are the region's common formats (regular expressions over the normalised string).
They do not reject a read - personalised plates and old series break every format - but
:meth:`RegionProfile.format_score` ranks a read that fits a known format above one that only has
a valid length, which is what track fusion and the reader's scoring use.

Profiles are configuration (``plates.region`` picks one, ``plates.profiles`` adds more; see
:class:`vigil.config.plates.PlatesConfig`); the built-ins are ``us``, ``hk``, ``eu`` and
``generic``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from vigil.core.plates import CONFUSABLE_PAIRS

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
#: format_score of a read that has a valid length but fits none of the region's patterns.
OFF_FORMAT = 0.6


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
        patterns: Regular expressions (full match) of the region's common formats; empty means
            every valid-length string is in format (no positional rule is known).
    """

    name: str
    min_len: int
    max_len: int
    fold: Mapping[str, str] = field(default_factory=dict)
    confusables: Mapping[str, str] = field(default_factory=lambda: dict(CONFUSABLE_PAIRS))
    patterns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.min_len <= self.max_len <= 12:
            raise ValueError(f"profile {self.name}: need 1 <= min_len <= max_len <= 12")
        for table in (self.fold, self.confusables):
            bad = [k for k, v in table.items() if k not in _ALNUM or v not in _ALNUM]
            if bad:
                raise ValueError(f"profile {self.name}: non-alphanumeric mapping for {bad}")
        for p in self.patterns:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"profile {self.name}: bad pattern {p!r}: {exc}") from None

    def clean(self, raw: str) -> str:
        """Upper-case alphanumerics of ``raw`` with the region's folds applied (no length check)."""
        chars = [c for c in raw.upper() if c in _ALNUM]
        return "".join(self.fold.get(c, c) for c in chars)

    def normalise(self, raw: str) -> str | None:
        """The plate string for ``raw``, or ``None`` when it cannot be a plate of this region."""
        text = self.clean(raw)
        return text if self.min_len <= len(text) <= self.max_len else None

    def format_score(self, text: str) -> float:
        """1.0 when ``text`` fits one of the region's formats (or none are known),
        :data:`OFF_FORMAT` when it only has a valid length, 0.0 when it is not a valid plate."""
        if self.normalise(text) != text:
            return 0.0
        if not self.patterns or any(re.fullmatch(p, text) for p in self.patterns):
            return 1.0
        return OFF_FORMAT

    def canonical(self, text: str) -> str:
        """Fold every confusable pair to one side: two reads of one plate compare equal."""
        return "".join(self.confusables.get(c, c) for c in self.clean(text))

    def same_plate(self, a: str, b: str) -> bool:
        """True when ``a`` and ``b`` are the same plate up to confusable characters."""
        return bool(a) and self.canonical(a) == self.canonical(b)


US = RegionProfile(name="us", min_len=2, max_len=8, fold={"O": "0"})
"""United States: 2-8 letters/digits; no state issues the letter O, so O reads fold to 0. States
differ too much for a positional format, so every valid-length read is in format."""

HK = RegionProfile(
    name="hk",
    min_len=1,
    max_len=8,
    fold={"I": "1", "O": "0", "Q": "0"},
    patterns=(r"[A-HJ-NPR-Z]{0,2}[1-9][0-9]{0,3}",),
)
"""Hong Kong: up to 8 letters/digits. The Transport Department issues no I, O or Q (on ordinary
and personalised marks alike), so those reads fold to 1, 0, 0. Ordinary marks are up to two
letters then a number 1-9999 without a leading zero (``AB1234``); personalised marks (up to 8
characters) are valid but off-format."""

EU = RegionProfile(
    name="eu",
    min_len=2,
    max_len=8,
    patterns=(
        r"[A-Z]{1,3}[A-Z]{1,2}[0-9]{1,4}[EH]?",  # DE: district, letters, number (E/H suffix)
        r"[A-Z]{2}[0-9]{3}[A-Z]{2}",  # FR SIV, IT
        r"[0-9]{4}[A-Z]{3}",  # ES
        r"[A-Z]{2}[0-9]{2}[A-Z]{3}",  # GB
        r"(?=.*[0-9])(?=.*[A-Z])[A-Z0-9]{6}",  # NL sidecodes: 6 characters, letters and digits
        r"[0-9]{1,3}[A-Z]{1,3}[0-9]{1,4}",  # PL, CZ, IE and others: digit-led series
    ),
)
"""EU generic: 2-8 letters/digits (separators, country band and stickers dropped). Member states
issue every letter somewhere, so nothing is folded when normalising; ``patterns`` are the common
national layouts, which rank reads but reject none."""

GENERIC = RegionProfile(name="generic", min_len=2, max_len=10)
"""Any region: 2-10 letters/digits, nothing folded when normalising."""

BUILTIN_PROFILES: Mapping[str, RegionProfile] = {p.name: p for p in (US, HK, EU, GENERIC)}
PROFILES = BUILTIN_PROFILES  # the name the first version exported


def get_profile(name: str, extra: Mapping[str, RegionProfile] | None = None) -> RegionProfile:
    """The profile called ``name`` (from ``extra`` first, then the built-ins), or ValueError
    naming the known ones."""
    known = {**BUILTIN_PROFILES, **(extra or {})}
    try:
        return known[name]
    except KeyError:
        raise ValueError(f"unknown plate region {name!r}; known: {sorted(known)}") from None
