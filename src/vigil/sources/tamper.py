"""Tamper signals from sampled frames: frozen image, black or covered lens, sudden scene change.

Every check runs on a 64×48 grey thumbnail, so it costs well under a millisecond per frame and
keeps no full frame in memory. Each signal must persist for a while before it is raised, because
one dark or odd frame is not tampering; thresholds are knobs with their trade-offs below.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from vigil.sources.status import TamperSignal

_THUMB = (64, 48)


@dataclass(frozen=True, slots=True)
class TamperThresholds:
    """Knobs of :class:`TamperDetector`.

    Attributes:
        black_mean: grey mean (0-255) below which a frame counts as dark. Night scenes with
            street lights stay above ~25; a capped lens or spray paint falls well below.
        black_std: grey spread below which a dark frame counts as featureless (covered) rather
            than a dark but textured scene.
        frozen_diff: mean absolute thumbnail difference below which two frames count as
            identical. Real sensors add noise (≥ 0.5 even on a still scene), a frozen encoder
            repeats exactly; raise it for very clean cameras only with care.
        scene_diff: mean absolute difference from the slowly adapting reference above which the
            view counts as changed (camera turned, lens smeared). People walking through move a
            small part of the frame and stay below it.
        hold_s: how long a condition must last before its signal is raised (and cleared).
        reference_rate: how fast the reference adapts (per frame); slower catches slow pans less
            but also forgets less of the original view.
    """

    black_mean: float = 18.0
    black_std: float = 6.0
    frozen_diff: float = 0.3
    scene_diff: float = 45.0
    hold_s: float = 5.0
    reference_rate: float = 0.05


class TamperDetector:
    """Raise and clear tamper signals for one camera from its sampled frames.

    Call :meth:`update` with each frame and its time (seconds, any monotonic clock); it returns
    the set of active signals. :meth:`reset` after a resolution change or reconnect.

    Example:
        >>> d = TamperDetector(TamperThresholds(hold_s=1.0))
        >>> black = np.zeros((48, 64, 3), np.uint8)
        >>> sorted(d.update(black, 0.0)), sorted(d.update(black, 1.5))
        ([], ['black', 'frozen'])
    """

    def __init__(self, thresholds: TamperThresholds | None = None) -> None:
        self.t = thresholds or TamperThresholds()
        self.reset()

    def reset(self) -> None:
        self._prev: npt.NDArray[np.float32] | None = None
        self._reference: npt.NDArray[np.float32] | None = None
        self._since: dict[TamperSignal, float] = {}
        self._clear_since: dict[TamperSignal, float] = {}
        self._scene_changed_at: float | None = None
        self.active: set[TamperSignal] = set()
        self.raised_count = 0

    def update(self, image: npt.NDArray[np.uint8], t: float) -> frozenset[TamperSignal]:
        """Feed one BGR (or grey) frame taken at time ``t``; returns the active signals."""
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        thumb = cv2.resize(grey, _THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)
        dark = float(thumb.mean()) < self.t.black_mean and float(thumb.std()) < self.t.black_std
        self._hold(TamperSignal.BLACK, dark, t)
        still = self._prev is not None and float(np.abs(thumb - self._prev).mean()) < (
            self.t.frozen_diff
        )
        self._hold(TamperSignal.FROZEN, still, t)
        self._prev = thumb
        self._scene(thumb, t)
        return frozenset(self.active)

    def _scene(self, thumb: npt.NDArray[np.float32], t: float) -> None:
        # A scene change is an event: raised once when the view has differed from the reference
        # for ``hold_s``, shown for ``hold_s``, and the new view becomes the reference.
        if self._scene_changed_at is not None and t - self._scene_changed_at >= self.t.hold_s:
            self.active.discard(TamperSignal.SCENE_CHANGE)
            self._scene_changed_at = None
        if self._reference is None:
            self._reference = thumb.copy()
            return
        changed = float(np.abs(thumb - self._reference).mean()) > self.t.scene_diff
        if not changed:
            self._since.pop(TamperSignal.SCENE_CHANGE, None)
            rate = self.t.reference_rate
            self._reference = (1 - rate) * self._reference + rate * thumb
            return
        start = self._since.setdefault(TamperSignal.SCENE_CHANGE, t)
        if t - start >= self.t.hold_s:
            self.active.add(TamperSignal.SCENE_CHANGE)
            self.raised_count += 1
            self._scene_changed_at = t
            self._since.pop(TamperSignal.SCENE_CHANGE, None)
            self._reference = thumb.copy()

    def _hold(self, signal: TamperSignal, on: bool, t: float) -> None:
        """Raise ``signal`` after it held for ``hold_s``; clear it after it was off as long."""
        if on:
            self._clear_since.pop(signal, None)
            start = self._since.setdefault(signal, t)
            if signal not in self.active and t - start >= self.t.hold_s:
                self.active.add(signal)
                self.raised_count += 1
        else:
            self._since.pop(signal, None)
            if signal in self.active:
                start = self._clear_since.setdefault(signal, t)
                if t - start >= self.t.hold_s:
                    self.active.discard(signal)
                    self._clear_since.pop(signal, None)
