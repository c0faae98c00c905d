"""Per-camera tamper-detection settings (see :mod:`vigil.sources.tamper` for the method)."""

from __future__ import annotations

from pydantic import Field

from vigil.config.base import Strict


class TamperConfig(Strict):
    """When a camera's picture counts as frozen, black/covered or suddenly changed."""

    enabled: bool = Field(
        True,
        title="Enabled",
        description="Raise tamper signals and alerts for this camera (a camera filming a dark "
        "store room at night may need this off, or a lower `black_mean`).",
    )
    black_mean: float = Field(
        18.0,
        ge=0,
        le=255,
        title="Black level",
        description="Grey mean (0-255) below which a frame counts as dark; lit night scenes "
        "stay above ~25, a capped lens falls well below.",
    )
    black_std: float = Field(
        6.0,
        ge=0,
        le=128,
        title="Black spread",
        description="Grey spread below which a dark frame counts as featureless (covered).",
    )
    frozen_diff: float = Field(
        0.3,
        ge=0,
        le=50,
        title="Frozen difference",
        description="Mean absolute thumbnail difference below which two frames are identical; "
        "sensor noise keeps live scenes above ~0.5.",
    )
    scene_diff: float = Field(
        45.0,
        gt=0,
        le=255,
        title="Scene change",
        description="Difference from the slowly adapting reference view above which the view "
        "counts as changed (camera turned, lens smeared).",
    )
    hold_s: float = Field(
        5.0,
        ge=0,
        le=3600,
        title="Hold",
        description="Seconds a condition must last before its signal is raised (and cleared).",
    )
