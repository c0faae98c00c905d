"""Licence-plate detection and reading (PP-OCR text models, region profiles, CTC decoding)."""

from vigil.perception.plates.ctc import ctc_greedy
from vigil.perception.plates.fusion import FrameRead, FusedPlate, PlateFuser, fuse
from vigil.perception.plates.profiles import (
    EU,
    GENERIC,
    HK,
    PROFILES,
    US,
    RegionProfile,
    get_profile,
)
from vigil.perception.plates.reader import (
    PlateCandidate,
    PlateReader,
    PlateReading,
    PlateRules,
)
from vigil.perception.plates.text import TextBoxes, TextDetector, TextRecognizer

__all__ = [
    "EU",
    "GENERIC",
    "HK",
    "PROFILES",
    "US",
    "FrameRead",
    "FusedPlate",
    "PlateCandidate",
    "PlateFuser",
    "PlateReader",
    "PlateReading",
    "PlateRules",
    "RegionProfile",
    "TextBoxes",
    "TextDetector",
    "TextRecognizer",
    "ctc_greedy",
    "fuse",
    "get_profile",
]
