"""Crowd monitoring: people counts over time per camera/zone, crowd alerts and heatmaps.

:class:`CrowdMonitor` keeps a bounded time series of :class:`~vigil.core.CrowdSample` per
``(camera, zone)`` and raises :class:`CrowdAlert` when:

* **overcrowding** — the count stays at or above ``overcrowd`` for ``sustain`` consecutive
  samples (one noisy frame does not page an operator); it re-arms once the count falls below
  ``overcrowd × rearm`` (hysteresis);
* **surge** — the count rises to ``surge_factor`` × the median of the previous
  ``baseline_s`` seconds *and* by at least ``min_delta`` people (a jump from 2 to 5 is not a
  surge);
* **dispersal** — the count falls to ``dispersal_factor`` × that median from a baseline of at
  least ``min_baseline`` people (a crowd that suddenly scatters).

Each kind has a ``cooldown_s`` per series. Thresholds are per deployment and site: what is
"overcrowded" for a platform is normal for a concourse; defaults are placeholders to be set
per camera. Counts come from boxes or from the density estimate
(:mod:`vigil.analytics.density`), whose error grows with crowd density — see its docstring.

:class:`Heatmap` accumulates where people stand (box anchors) with exponential decay and
renders a colour image per camera.
"""

from __future__ import annotations

import logging
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt

from vigil.core import CrowdSample
from vigil.errors import ValidationError

log = logging.getLogger(__name__)


class CrowdAlertKind(StrEnum):
    OVERCROWDING = "overcrowding"
    SURGE = "surge"
    DISPERSAL = "dispersal"


@dataclass(frozen=True, slots=True)
class CrowdAlert:
    """A crowd condition on one camera (and zone): a lead for an operator, with its numbers."""

    kind: CrowdAlertKind
    camera_id: str
    zone: str | None
    at: datetime
    count: float
    baseline: float
    threshold: float

    @property
    def detail(self) -> str:
        where = f"{self.camera_id}/{self.zone}" if self.zone else self.camera_id
        return (
            f"{self.kind.value} on {where}: {self.count:.0f} people "
            f"(baseline {self.baseline:.0f}, threshold {self.threshold:.0f})"
        )


@dataclass(frozen=True)
class CrowdThresholds:
    """Alert thresholds for one series (see the module docstring for each knob)."""

    overcrowd: float = 50.0
    sustain: int = 3
    rearm: float = 0.8
    surge_factor: float = 2.0
    dispersal_factor: float = 0.3
    min_delta: float = 10.0
    min_baseline: float = 10.0
    baseline_s: float = 60.0
    cooldown_s: float = 300.0

    def __post_init__(self) -> None:
        if self.overcrowd <= 0 or self.sustain < 1 or not 0 < self.rearm <= 1:
            raise ValidationError("overcrowd > 0, sustain >= 1 and 0 < rearm <= 1 are required")
        if self.surge_factor <= 1 or not 0 <= self.dispersal_factor < 1:
            raise ValidationError("surge_factor must be > 1 and dispersal_factor in [0, 1)")


@dataclass
class _Series:
    samples: deque[CrowdSample]
    above: int = 0
    armed: bool = True
    last_alert: dict[CrowdAlertKind, datetime] | None = None


class CrowdMonitor:
    """Bounded per-(camera, zone) count history and the alerts it implies."""

    def __init__(
        self,
        thresholds: CrowdThresholds | None = None,
        *,
        per_series: dict[tuple[str, str | None], CrowdThresholds] | None = None,
        max_samples: int = 3600,
        max_series: int = 4096,
    ) -> None:
        self.default = thresholds or CrowdThresholds()
        self.per_series = dict(per_series or {})
        self.max_samples, self.max_series = max_samples, max_series
        self._series: OrderedDict[tuple[str, str | None], _Series] = OrderedDict()

    def __len__(self) -> int:
        return len(self._series)

    def series(self, camera_id: str, zone: str | None = None) -> list[CrowdSample]:
        """The stored samples of one series, oldest first (at most ``max_samples``)."""
        s = self._series.get((camera_id, zone))
        return list(s.samples) if s else []

    def observe(self, sample: CrowdSample) -> list[CrowdAlert]:
        """Record one sample; return the alerts it raises (usually none)."""
        key = (sample.camera_id, sample.zone)
        s = self._series.get(key)
        if s is None:
            s = _Series(deque(maxlen=self.max_samples), last_alert={})
            self._series[key] = s
            while len(self._series) > self.max_series:
                self._series.popitem(last=False)
        self._series.move_to_end(key)
        th = self.per_series.get(key, self.default)
        since = sample.sampled_at - timedelta(seconds=th.baseline_s)
        window = [x.count for x in s.samples if x.sampled_at >= since]
        baseline = float(np.median(window)) if window else sample.count
        s.samples.append(sample)
        alerts: list[CrowdAlert] = []

        def raise_(kind: CrowdAlertKind, threshold: float) -> None:
            last = (s.last_alert or {}).get(kind)
            if last is not None and (sample.sampled_at - last).total_seconds() < th.cooldown_s:
                return
            assert s.last_alert is not None
            s.last_alert[kind] = sample.sampled_at
            alerts.append(
                CrowdAlert(
                    kind,
                    sample.camera_id,
                    sample.zone,
                    sample.sampled_at,
                    sample.count,
                    baseline,
                    threshold,
                )
            )

        if sample.count >= th.overcrowd:
            s.above += 1
            if s.above >= th.sustain and s.armed:
                s.armed = False
                raise_(CrowdAlertKind.OVERCROWDING, th.overcrowd)
        else:
            s.above = 0
            if sample.count < th.overcrowd * th.rearm:
                s.armed = True
        if (
            window
            and sample.count >= th.surge_factor * baseline
            and sample.count - baseline >= th.min_delta
        ):
            raise_(CrowdAlertKind.SURGE, th.surge_factor * baseline)
        if (
            window
            and baseline >= th.min_baseline
            and sample.count <= th.dispersal_factor * baseline
        ):
            raise_(CrowdAlertKind.DISPERSAL, th.dispersal_factor * baseline)
        for a in alerts:
            log.info("crowd alert: %s", a.detail)
        return alerts


class Heatmap:
    """Where people stand on one camera, accumulated on a coarse grid with exponential decay.

    ``cell`` px per grid cell trades resolution for memory (a 1080p camera at 8 px is a
    240 × 135 float32 grid, 130 kB). ``half_life_s`` makes old presence fade, so the map shows
    recent use of the space; ``None`` accumulates for ever.
    """

    def __init__(
        self, width: int, height: int, *, cell: int = 8, half_life_s: float | None = 600.0
    ) -> None:
        if width <= 0 or height <= 0 or cell <= 0:
            raise ValidationError("width, height and cell must be positive")
        self.width, self.height, self.cell = width, height, cell
        self.half_life_s = half_life_s
        self.grid = np.zeros((-(-height // cell), -(-width // cell)), np.float32)
        self._last: datetime | None = None

    def add(self, points: npt.ArrayLike, at: datetime) -> None:
        """Add ``(N, 2)`` pixel points (e.g. box anchors) seen at ``at``."""
        if self._last is not None and self.half_life_s:
            dt = max((at - self._last).total_seconds(), 0.0)
            self.grid *= np.float32(0.5 ** (dt / self.half_life_s))
        self._last = at
        p = np.asarray(points, np.float64).reshape(-1, 2)
        gx = np.clip((p[:, 0] // self.cell).astype(np.int64), 0, self.grid.shape[1] - 1)
        gy = np.clip((p[:, 1] // self.cell).astype(np.int64), 0, self.grid.shape[0] - 1)
        np.add.at(self.grid, (gy, gx), 1.0)

    def render(
        self, background: npt.NDArray[np.uint8] | None = None, *, blur_px: int = 24
    ) -> npt.NDArray[np.uint8]:
        """A BGR image: the smoothed, normalised map in a colour scale, over ``background``."""
        g = cv2.resize(self.grid, (self.width, self.height), interpolation=cv2.INTER_NEAREST)
        k = max(3, (blur_px // 2) * 2 + 1)
        g = cv2.GaussianBlur(g, (k, k), 0)
        peak = float(g.max())
        norm = (g / peak * 255).astype(np.uint8) if peak > 0 else np.zeros_like(g, np.uint8)
        colour = np.asarray(cv2.applyColorMap(norm, cv2.COLORMAP_JET), np.uint8)
        if background is None:
            return colour
        if background.shape[:2] != (self.height, self.width):
            raise ValidationError(f"background must be {self.width}x{self.height}")
        alpha = (norm.astype(np.float32) / 255 * 0.6)[:, :, None]
        out = background.astype(np.float32) * (1 - alpha) + colour.astype(np.float32) * alpha
        return out.astype(np.uint8)

    def png(self, background: npt.NDArray[np.uint8] | None = None) -> bytes:
        ok, buf = cv2.imencode(".png", self.render(background))
        if not ok:
            raise ValidationError("PNG encoding failed")
        return bytes(buf)
