"""Plate text shared by every layer: the confusable folding the search index is built on.

Plate search compares a pattern with stored reads after folding characters OCR engines confuse
on plate fonts (``8``/``B``, ``0``/``O``, ...), so a search for ``8B5`` also finds ``BB5``. The
stored reads carry that folded form in an indexed column (``plate_reads.canon``), written by
storage when a read is stored; the fold lives here, below storage and perception, so both use
the same table. A region profile may name other pairs in code
(:class:`vigil.perception.plates.profiles.RegionProfile`), but configuration cannot, so the
index and every configured profile agree.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Pairs OCR engines confuse on plate fonts; the digit is the canonical side.
CONFUSABLE_PAIRS: Mapping[str, str] = {"O": "0", "I": "1", "B": "8", "S": "5", "Q": "0", "D": "0"}
_FOLD = str.maketrans(dict(CONFUSABLE_PAIRS))


def fold_confusables(text: str) -> str:
    """``text`` with every confusable character replaced by its canonical side."""
    return text.translate(_FOLD)
