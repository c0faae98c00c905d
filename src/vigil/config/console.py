"""Configuration of the control-room console's live video (``console:`` in the config file).

Kept apart from :mod:`vigil.config.settings` (which imports it) so that module stays readable;
the same rules hold: unknown keys are errors, every field has a title, a description and bounds.
"""

from __future__ import annotations

from pydantic import Field

from vigil.config.base import Strict


class ConsoleConfig(Strict):
    """How live tiles are encoded and served (see :mod:`vigil.system.live_video`).

    One encoder per camera serves every viewer of that camera, so the encoding cost grows with
    cameras watched, not with viewers; these knobs bound that cost and the bandwidth of a wall.
    """

    live_fps: float = Field(
        2.0,
        ge=0.2,
        le=10.0,
        title="Live tile rate",
        description="Most frames per second a live tile sends (never more than the camera's "
        "analysed rate). Higher is smoother and costs a JPEG encode per camera per frame, and "
        "the bandwidth of every viewer.",
    )
    live_max_width: int = Field(
        640,
        ge=160,
        le=1920,
        title="Live tile width",
        description="Frames wider than this are scaled down to it before the overlays are drawn "
        "and the JPEG encoded. A 1920x1080 wall of 3x3 tiles needs about 640; a single large "
        "view looks better at 960-1280 but each encode costs more.",
    )
    live_jpeg_quality: int = Field(
        70,
        ge=30,
        le=95,
        title="Live JPEG quality",
        description="JPEG quality of live frames: lower is smaller and blurrier.",
    )
    live_max_viewers: int = Field(
        32,
        ge=1,
        le=1000,
        title="Live viewers per camera",
        description="Most open live streams of one camera in one API process; further ones are "
        "refused with 429 (retry later). Each holds one HTTP connection.",
    )
    live_session_s: int = Field(
        600,
        ge=10,
        le=86_400,
        title="Live stream length",
        description="Seconds one live stream stays open before the server ends it; the console "
        "then opens a new one, which re-checks the viewer's session, role and cameras and is "
        "audited as a new viewing. Shorter cuts revoked access sooner; longer writes fewer "
        "audit entries.",
    )
