"""Configuration of licence-plate reading, fusion, hotlist alerts and plate-read retention.

Kept apart from :mod:`vigil.config.settings` (which imports it); the same rules hold: unknown keys
are errors, every field has a title, a description and bounds, and validation does no I/O.
Region profiles are configuration: ``region`` picks a built-in (``us``, ``hk``, ``eu``,
``generic``) or one defined under ``profiles``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from vigil.config.base import Strict

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
BUILTIN_REGIONS = ("us", "hk", "eu", "generic")


class PlateProfileConfig(Strict):
    """A region profile defined in configuration (beside the built-ins)."""

    name: str = Field(
        ..., pattern=r"^[a-z][a-z0-9_-]{0,15}$", title="Name", description="Profile key."
    )
    min_len: int = Field(2, ge=1, le=12, title="Shortest plate", description="Characters.")
    max_len: int = Field(8, ge=1, le=12, title="Longest plate", description="Characters.")
    fold: dict[str, str] = Field(
        default_factory=dict,
        title="Folds",
        description="Letters the region never issues, mapped to what OCR mistook them for "
        '(e.g. {"O": "0"}); applied to every read.',
    )
    patterns: list[str] = Field(
        default_factory=list,
        max_length=16,
        title="Formats",
        description="Regular expressions (full match) of the region's common formats; reads "
        "that fit one rank above reads that only have a valid length.",
    )

    @field_validator("fold")
    @classmethod
    def _fold(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k, x in v.items() if len(k) != 1 or len(x) != 1 or {k, x} - set(_ALNUM)]
        if bad:
            raise ValueError(f"folds must map one upper-case letter/digit to another: {bad}")
        return v

    @model_validator(mode="after")
    def _lengths(self) -> PlateProfileConfig:
        if self.min_len > self.max_len:
            raise ValueError("min_len must not exceed max_len")
        return self


class PlatesConfig(Strict):
    """Cameras with the `plates` analytic read plates of tracked vehicles; one fused read per
    vehicle pass is stored, checked against the hotlists and kept for `read_retention_days`."""

    region: str = Field(
        "us",
        pattern=r"^[a-z][a-z0-9_-]{0,15}$",
        title="Region",
        description="Region profile that normalises and validates reads: us, hk, eu, generic "
        "or a name under `profiles`.",
    )
    profiles: list[PlateProfileConfig] = Field(
        default_factory=list,
        max_length=32,
        title="Extra profiles",
        description="Region profiles defined here, beside the built-in ones.",
    )
    recogniser: Literal["ppocr", "vigil", "fused"] = Field(
        "ppocr",
        title="Text recogniser",
        description="What reads each plate row the text detector finds: `ppocr` (PP-OCRv4, a "
        "general text recogniser), `vigil` (Vigil's plate recogniser: PP-OCRv4's fine-tuned on "
        "synthetic plates over 0-9A-Z, model `vigil-plate-ocr`) or `fused` (both, combined per "
        "character). The "
        "default is the one that measured best on the OpenALPR US set (docs/plates.md).",
    )
    fusion_weight: float = Field(
        0.3,
        ge=0,
        le=1,
        title="Fusion weight",
        description="With `recogniser: fused`, the weight of Vigil's recogniser against "
        "PP-OCRv4's (1 - weight) where their characters disagree (0.3 measured best of 0.3-0.5 "
        "on the OpenALPR US tuning images; docs/plates.md).",
    )
    extra_stretches: list[Annotated[float, Field(gt=0.5, le=3.0)]] = Field(
        default_factory=list,
        max_length=4,
        title="Extra read widths",
        description="Each plate row is also read widened by these factors (beside 1.3) and "
        "the most confident read wins; each costs one more recogniser run per row "
        "(docs/plates.md, issue 21).",
    )
    hit_confirmations: int = Field(
        1,
        ge=1,
        le=2,
        title="Confirmations of a plate hit",
        description="People who must confirm a plate_hit alert before it is actionable (1 or "
        "2, each a different person). Face alerts always need two.",
    )
    read_retention_days: float = Field(
        7.0,
        gt=0,
        le=3650,
        title="Plate read retention (days)",
        description="Plate reads that matched no hotlist are deleted after this long; reads "
        "that hit a hotlist are kept for that hotlist's retention.",
    )
    search_min_literals: int = Field(
        3,
        ge=2,
        le=12,
        title="Fixed characters of a plate search",
        description="A plate search pattern needs at least this many letters/digits (not '?' "
        "or '*') beyond its fuzzy distance, so no search matches most plates. Lower lets "
        "vaguer searches through and returns more of everyone's movements.",
    )
    entry_min_literals: int = Field(
        4,
        ge=3,
        le=12,
        title="Fixed characters of a hotlist entry",
        description="A hotlist entry needs at least this many letters/digits (not '?' or '*'): "
        "an entry raises alerts on every vehicle it matches and keeps their reads for the "
        "list's retention, so it must name a plate, not a population.",
    )
    search_timeout_s: float = Field(
        5.0,
        ge=0.1,
        le=120,
        title="Plate search time per query",
        description="One plate search request stops after this long and returns what it found "
        "with a cursor to continue from; a longer bound answers vaguer (fuzzy) searches in "
        "fewer requests but holds a database reader longer.",
    )
    max_reads_per_track: int = Field(
        32,
        ge=1,
        le=1000,
        title="Reads kept per track",
        description="The most confident per-frame reads a vehicle track keeps for voting.",
    )
    min_reads: int = Field(
        1,
        ge=1,
        le=100,
        title="Reads per pass",
        description="A vehicle pass with fewer per-frame reads yields no plate read (higher "
        "drops one-frame misreads of signs at the cost of fast vehicles).",
    )
    min_confidence: float = Field(
        0.2,
        ge=0,
        le=1,
        title="Fused confidence",
        description="Fused reads below this confidence are not stored.",
    )
    max_vehicles_per_frame: int = Field(
        4,
        ge=1,
        le=64,
        title="Vehicles read per frame",
        description="Only the largest this many vehicle boxes of a frame are read (each costs "
        "a text detection on its box, ~50-150 ms on a CPU core).",
    )

    pass_gap_s: float = Field(
        3.0,
        gt=0,
        le=600,
        title="Pass gap (whole-frame cameras)",
        description="On a camera with `plate_search: whole_frame`, a pass (one vehicle) ends "
        "when no read resembling it has come for this long; its reads are then fused.",
    )

    pass_min_reads: int = Field(
        2,
        ge=1,
        le=100,
        title="Reads per pass (whole-frame cameras)",
        description="On a camera with `plate_search: whole_frame`, a pass with fewer frame "
        "reads stores nothing: a vehicle at a gate is seen in several analysed frames, a "
        "misread sign or a passer-by's T-shirt usually in one.",
    )
    min_read_confidence: float = Field(
        0.5,
        ge=0,
        le=1,
        title="Frame read confidence (whole-frame cameras)",
        description="On a camera with `plate_search: whole_frame`, frame reads below this "
        "confidence are ignored. Lines of letters only (state names, slogans, dealer frames) "
        "score at most 0.45, so the default keeps them from opening passes; the price is that "
        "an all-letter vanity plate is not read on such cameras.",
    )

    @model_validator(mode="after")
    def _region_known(self) -> PlatesConfig:
        names = [p.name for p in self.profiles]
        if len(set(names)) != len(names):
            raise ValueError("plate profile names must be unique")
        if self.region not in (*BUILTIN_REGIONS, *names):
            raise ValueError(
                f"unknown plate region {self.region!r}; known: {[*BUILTIN_REGIONS, *names]}"
            )
        return self
