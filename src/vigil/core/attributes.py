"""Non-biometric appearance descriptors of a sighting, the search vocabulary and its refusals.

A person sighting carries the dominant colour of the upper and the lower body, a vehicle sighting
its body colour; both carry the box size (height as a share of the frame) and the direction the
box moved in the image. These are hand-built descriptors (colour bins over pixels, box geometry):
they say what clothing or paint looked like on one camera, and nothing about who someone is.

What they cannot do (said plainly, see docs/attribute-search.md): they do not re-identify a
person across cameras (many people wear black over blue), they change with the camera's white
balance, lighting and compression (navy reads as black at night), a backpack or a bag over the
torso becomes the "top", and a two-colour jacket has one dominant colour only.

The search vocabulary is closed: a query names an object class, colours from :class:`Colour`,
garment words that map to the upper or lower body, vehicle words, and directions - nothing else.
:func:`check_terms` refuses any query that names a protected characteristic (race, ethnicity,
skin colour, religion, politics, sexual orientation, health, disability, emotion, age or gender)
with :class:`ProtectedAttributeError`, whatever field or spelling it arrives in; words outside the
vocabulary are refused with a plain :class:`~vigil.errors.ValidationError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from vigil.errors import ValidationError


class ProtectedAttributeError(ValidationError):
    """A search names a protected characteristic; Vigil never searches or infers those."""

    code = "protected_attribute"


class Colour(StrEnum):
    """The fixed palette of clothing and vehicle colours (eleven basic colour names)."""

    BLACK = "black"
    WHITE = "white"
    GREY = "grey"
    RED = "red"
    ORANGE = "orange"
    YELLOW = "yellow"
    GREEN = "green"
    BLUE = "blue"
    PURPLE = "purple"
    PINK = "pink"
    BROWN = "brown"


class Direction(StrEnum):
    """Where the box moved in the image over the track (image axes, not compass points)."""

    LEFT = "left"
    RIGHT = "right"
    UP = "up"
    DOWN = "down"
    STILL = "still"


#: Object classes an attribute search may name (faces are biometric and searched elsewhere).
SEARCH_CLASSES = ("person", "car", "bus", "truck", "motorcycle", "bicycle")
VEHICLE_CLASSES = ("car", "bus", "truck", "motorcycle", "bicycle")

COLOUR_SYNONYMS: dict[str, Colour] = {
    **{c.value: c for c in Colour},
    "gray": Colour.GREY,
    "silver": Colour.GREY,
    "navy": Colour.BLUE,
    "beige": Colour.BROWN,
    "tan": Colour.BROWN,
    "khaki": Colour.BROWN,
    "violet": Colour.PURPLE,
    "maroon": Colour.RED,
}
UPPER_WORDS = frozenset(
    [
        "top",
        "shirt",
        "tshirt",
        "jacket",
        "coat",
        "hoodie",
        "jumper",
        "sweater",
        "blouse",
        "vest",
        "upper",
    ]
)
LOWER_WORDS = frozenset(
    ["trousers", "pants", "jeans", "skirt", "shorts", "leggings", "bottom", "bottoms", "lower"]
)
CLASS_WORDS: dict[str, tuple[str, ...]] = {
    "person": ("person",),
    "pedestrian": ("person",),
    "people": ("person",),
    "car": ("car",),
    "van": ("car", "truck"),  # COCO has no van: the detector calls one a car or a truck
    "bus": ("bus",),
    "truck": ("truck",),
    "lorry": ("truck",),
    "motorcycle": ("motorcycle",),
    "motorbike": ("motorcycle",),
    "bicycle": ("bicycle",),
    "bike": ("bicycle",),
    "vehicle": VEHICLE_CLASSES,
}
FILLER = frozenset(["a", "an", "and", "in", "with", "wearing", "the", "on", "of"])

#: Words (after normalising: lower case, letters only, singular) that name a protected
#: characteristic. Matching is on whole normalised words and on the query with spaces and
#: punctuation removed, so "Skin-Tone", "skin  tones" and "skintone" are all caught.
PROTECTED_WORDS = frozenset(
    [
        "race",
        "racial",
        "ethnic",
        "ethnicity",
        "ethnical",
        "nationality",
        "caucasian",
        "african",
        "asian",
        "hispanic",
        "latino",
        "latina",
        "arab",
        "skin",
        "skinned",
        "complexion",
        "tone",
        "melanin",
        "religion",
        "religious",
        "muslim",
        "islam",
        "christian",
        "jewish",
        "jew",
        "hindu",
        "sikh",
        "buddhist",
        "hijab",
        "turban",
        "kippah",
        "yarmulke",
        "niqab",
        "burqa",
        "veil",
        "politic",
        "political",
        "politics",
        "party",
        "protester",
        "protestor",
        "activist",
        "partisan",
        "sexual",
        "sexuality",
        "orientation",
        "gay",
        "lesbian",
        "bisexual",
        "transgender",
        "trans",
        "queer",
        "lgbt",
        "lgbtq",
        "health",
        "disabled",
        "disability",
        "wheelchair",
        "pregnant",
        "pregnancy",
        "illness",
        "sick",
        "medical",
        "blind",
        "emotion",
        "emotional",
        "mood",
        "angry",
        "happy",
        "sad",
        "afraid",
        "fearful",
        "nervous",
        "suspicious",
        "aggressive",
        "age",
        "aged",
        "old",
        "older",
        "young",
        "younger",
        "elderly",
        "child",
        "kid",
        "teen",
        "teenager",
        "adult",
        "senior",
        "minor",
        "gender",
        "sex",
        "male",
        "female",
        "man",
        "men",
        "woman",
        "women",
        "boy",
        "girl",
        "masculine",
        "feminine",
    ]
)
PROTECTED_PHRASES = (
    "skincolour",
    "skincolor",
    "skintone",
    "haircolour",  # hair is a proxy the descriptors never look at; kept out of the vocabulary
    "ethnic",
    "religio",
    "sexualorient",
    "gender",
    "emotion",
    "disab",
)


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and word[:-2] in PROTECTED_WORDS:
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Lower-case alphabetic words of a query text (digits and punctuation split words)."""
    return [w for w in re.split(r"[^a-z]+", text.casefold()) if w]


def protected_terms(texts: Iterable[str]) -> list[str]:
    """The protected words named in any of ``texts`` (empty when none)."""
    found: list[str] = []
    for text in texts:
        ws = words(text)
        for w in ws:
            if w in PROTECTED_WORDS or _singular(w) in PROTECTED_WORDS:
                found.append(w)
        joined = "".join(ws)
        found += [p for p in PROTECTED_PHRASES if p in joined and not any(p in f for f in found)]
    return sorted(set(found))


def check_terms(texts: Iterable[str]) -> None:
    """Raise :class:`ProtectedAttributeError` when any text names a protected characteristic."""
    found = protected_terms(texts)
    if found:
        raise ProtectedAttributeError(
            "Vigil does not search people by race, ethnicity, skin colour, religion, politics, "
            "sexual orientation, health, disability, emotion, age or gender; the query names "
            f"{', '.join(found)}. Search by clothing colour, vehicle type or colour, camera and "
            "time instead."
        )


def colour(value: str, field: str) -> Colour:
    """One palette colour from a query value (synonyms such as gray or navy accepted)."""
    key = value.strip().casefold()
    if key not in COLOUR_SYNONYMS:
        check_terms([value])
        raise ValidationError(
            f"{field}: unknown colour {value!r}; use one of {', '.join(c.value for c in Colour)}"
        )
    return COLOUR_SYNONYMS[key]


@dataclass(frozen=True, slots=True)
class AttributeQuery:
    """A validated attribute search: classes, colours and direction (cameras and time apart).

    ``upper`` and ``lower`` apply to persons, ``colour`` to vehicles. Built by
    :func:`parse_text` or directly from structured query fields (each checked by
    :func:`check_terms` and :func:`colour` first).
    """

    classes: tuple[str, ...] = ("person",)
    upper: Colour | None = None
    lower: Colour | None = None
    colour: Colour | None = None
    direction: Direction | None = None

    def __post_init__(self) -> None:
        bad = [c for c in self.classes if c not in SEARCH_CLASSES]
        if not self.classes or bad:
            raise ValidationError(
                f"class must be one of {', '.join(SEARCH_CLASSES)}, got {', '.join(bad) or '-'}"
            )
        vehicles = all(c in VEHICLE_CLASSES for c in self.classes)
        if vehicles and (self.upper or self.lower):
            raise ValidationError("upper/lower colours describe persons; use colour= for vehicles")
        if "person" in self.classes and self.colour is not None:
            raise ValidationError("colour= describes vehicles; use upper= and lower= for persons")


def parse_text(text: str) -> AttributeQuery:
    """A strict reading of a short free-text query such as "person, red top, blue trousers" or
    "white van". Every word must be in the vocabulary; protected words are refused first.

    A colour word applies to the garment word that follows it (``red top``), or to the vehicle
    when the query names a vehicle (``white van``); a bare colour for a person is the top.
    """
    check_terms([text])
    ws = [w for w in words(text) if w not in FILLER]
    if not ws or len(ws) > 12:
        raise ValidationError("q: give 1-12 words, e.g. 'person red top blue trousers'")
    classes: tuple[str, ...] | None = None
    upper = lower = body = None
    direction: Direction | None = None
    pending: Colour | None = None
    unknown: list[str] = []
    for w in ws:
        if w in COLOUR_SYNONYMS:
            if pending is not None:
                upper = upper or pending
            pending = COLOUR_SYNONYMS[w]
        elif w in UPPER_WORDS or _singular(w) in UPPER_WORDS:
            upper, pending = pending or upper, None
        elif w in LOWER_WORDS or _singular(w) in LOWER_WORDS:
            lower, pending = pending or lower, None
        elif w in CLASS_WORDS or _singular(w) in CLASS_WORDS:
            classes = CLASS_WORDS.get(w) or CLASS_WORDS[_singular(w)]
            if pending is not None and classes != ("person",):
                body, pending = pending, None
        elif w in {d.value for d in Direction}:
            direction = Direction(w)
        else:
            unknown.append(w)
    if unknown:
        raise ValidationError(
            f"q: words outside the search vocabulary: {', '.join(unknown)} (use colours, "
            "garments such as top/trousers, person or vehicle types, left/right/up/down)"
        )
    classes = classes or ("person",)
    if pending is not None:
        if classes == ("person",):
            upper = upper or pending
        else:
            body = body or pending
    return AttributeQuery(classes, upper, lower, body, direction)
