"""Configuration of recording, playback and privacy masks (issue 18).

Kept apart from :mod:`vigil.config.settings` (which imports it); the same rules hold: unknown keys
are errors, every field has a title, a description and bounds, validation is pure (paths are
compared as written, made absolute without touching the disk).

Per camera (in ``cameras[]``): ``record`` (``off | events | continuous``),
``record_retention_days`` and ``privacy_masks``. System-wide (``recording``): the segment length,
the pre/post roll of ``events`` mode, where segments go and the optional encryption key file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator

from vigil.config.base import Strict

RecordMode = Literal["off", "events", "continuous"]

#: A vertex of a privacy mask: ``[x, y]`` as fractions of the frame's width and height.
NormPoint = Annotated[
    list[Annotated[float, Field(ge=0.0, le=1.0)]], Field(min_length=2, max_length=2)
]


class PrivacyMask(Strict):
    """A polygon blacked out in every frame shown or exported to roles without unmask rights."""

    polygon: list[NormPoint] = Field(
        ...,
        min_length=3,
        max_length=64,
        title="Polygon",
        description="Vertices `[x, y]` in normalised image coordinates (0..1 of width and "
        "height), so a mask survives a change of stream resolution.",
    )
    name: str = Field("", max_length=100, title="Name", description="What the mask hides.")


class RecordingConfig(Strict):
    """Where and how camera streams are recorded (cameras choose ``record`` themselves)."""

    segment_s: float = Field(
        10.0,
        ge=1.0,
        le=600.0,
        title="Segment length (s)",
        description="Target length of one fragmented-MP4 segment; a segment is cut at the first "
        "key frame after this, so real length is this plus up to one GOP. Shorter loses less on "
        "a crash (the open segment) and makes finer clips, at more files and index rows.",
    )
    pre_s: float = Field(
        10.0,
        ge=0.0,
        le=600.0,
        title="Pre-roll (s)",
        description="`events` mode: seconds kept before each alert, sighting or plate read.",
    )
    post_s: float = Field(
        20.0,
        ge=0.0,
        le=3600.0,
        title="Post-roll (s)",
        description="`events` mode: seconds kept after each alert, sighting or plate read.",
    )
    dir: Path = Field(
        Path("recordings"),
        title="Recording directory",
        description="Where segments are written (relative paths are under `system.data_dir`).",
    )
    encryption_key_file: Path | None = Field(
        None,
        title="Encryption key file",
        description="A file holding a 32-byte AES key (raw or base64/hex text). When set, every "
        "finished segment is encrypted at rest with AES-256-GCM. Must lie outside "
        "`system.data_dir`: a key stored beside the footage protects nothing.",
    )
    queue_packets: int = Field(
        600,
        ge=16,
        le=100_000,
        title="Writer queue (packets)",
        description="Packets buffered per camera between the demuxer and the segment writer. "
        "When the disk stalls longer than this holds, packets are dropped and counted (the "
        "segment is cut there), never the analysis frames.",
    )
    max_clip_s: float = Field(
        3600.0,
        ge=1.0,
        le=86_400.0,
        title="Longest clip (s)",
        description="The longest window one playback request may ask for.",
    )

    @field_validator("encryption_key_file")
    @classmethod
    def _key_not_blank(cls, v: Path | None) -> Path | None:
        if v is not None and not str(v).strip():
            raise ValueError("encryption_key_file must not be empty")
        return v


def key_outside_data_dir(key_file: Path | None, data_dir: Path) -> None:
    """Refuse a key file inside the data directory (raises ``ValueError`` for pydantic).

    Compared on absolute, normalised paths without resolving links (validation does no I/O); a
    relative key path is taken as relative to ``data_dir`` and therefore refused.
    """
    if key_file is None:
        return
    data = os.path.normpath(os.path.abspath(data_dir))
    key = os.path.normpath(os.path.join(data, key_file))
    if os.path.commonpath([data, key]) == data:
        raise ValueError(
            f"recording.encryption_key_file ({key_file}) lies inside system.data_dir ({data_dir}): "
            "keep the key outside the data directory"
        )
