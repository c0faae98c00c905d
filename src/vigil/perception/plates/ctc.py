"""Greedy CTC decoding of a recogniser's per-timestep class probabilities."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


def ctc_greedy(
    probs: npt.NDArray[np.floating], charset: Sequence[str], blank: int = 0
) -> tuple[str, npt.NDArray[np.float32]]:
    """Decode one sequence: best class per step, repeats merged, blanks dropped.

    Args:
        probs: ``[T, C]`` probabilities (softmax output) for ``T`` time steps.
        charset: ``C`` labels, index ``blank`` being the CTC blank.
        blank: Index of the blank class.

    Returns:
        The text and the probability of each emitted character (empty array for no text).
    """
    if probs.ndim != 2 or probs.shape[1] != len(charset):
        raise ValueError(f"probs must be [T, {len(charset)}], got {list(probs.shape)}")
    if probs.shape[0] == 0:
        return "", np.zeros(0, np.float32)
    best = probs.argmax(axis=1)
    conf = probs[np.arange(len(best)), best]
    keep = best != blank
    keep[1:] &= best[1:] != best[:-1]
    text = "".join(charset[i] for i in best[keep])
    return text, conf[keep].astype(np.float32)
