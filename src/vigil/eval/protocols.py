"""Evaluation protocols over LFW-layout folders: pairs (1:1) and open-set search (1:N).

The dataset layout is LFW's: ``<root>/<Name>/<Name>_NNNN.jpg``, one folder per identity. This
module lists such folders, parses the protocol files (pairs, aliases, cohorts, watchlists), builds
the NIST-FRTE-like open-set protocol and runs every search against a :class:`Scorer`. The only I/O
is in the ``scan_*``/``read_*`` functions; everything else is pure.

Aliases (LFW label noise)
    An alias file lists pairs of folder names, one pair per line::

        # comment
        Hasan_Wirayuda<TAB>Hassan_Wirajuda            # same person, two spellings
        Ashley_Olsen<TAB>Mary-Kate_Olsen<TAB>twin     # indistinguishable, different people

    The optional third column is ``same`` (default) or ``twin``. ``same`` merges the two names
    into one *person*: enrolled once, every image of either spelling is a mated search for it.
    ``twin`` puts two people in one *group* of faces Vigil is not expected to tell apart: at most
    one of them is enrolled by a random watchlist, and the images of the other are **excluded**
    (neither mated — a hit on her sister is not a correct identification — nor non-mated — an
    alert on an identical twin is not the false positive the FPIR is meant to count). In pairs,
    a mismatched pair of ``same`` aliases becomes a matched pair and twin pairs are dropped.
    Reports give results with and without the alias list, so nothing is hidden by it.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from vigil.errors import InputError, ValidationError
from vigil.eval.metrics import (
    Bool,
    Calibration,
    Float32,
    Float64,
    Int64,
    SearchResults,
    check_calibration,
)
from vigil.eval.metrics import calibrate as _calibrate

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_NUMBERED = re.compile(r"^(?P<name>.+)_(?P<num>\d{4})$")


# --------------------------------------------------------------------------------------------
# Dataset layout
# --------------------------------------------------------------------------------------------


def lfw_image_path(name: str, number: int) -> str:
    """The relative path of image ``number`` of ``name``: ``Name/Name_0007.jpg``."""
    return f"{name}/{name}_{number:04d}.jpg"


@dataclass(frozen=True, slots=True)
class ImageSet:
    """The images of an LFW-layout folder, sorted by identity then file name.

    ``paths`` are relative to ``root`` (``Name/Name_0001.jpg``); ``identities[i]`` is the folder
    of ``paths[i]``. Image index ``i`` is the row of that image in every embedding matrix.
    """

    root: Path
    paths: tuple[str, ...]
    identities: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.paths) != len(self.identities):
            raise ValidationError(
                f"ImageSet needs one identity per path: {len(self.paths)} vs {len(self.identities)}"
            )

    def __len__(self) -> int:
        return len(self.paths)

    def index(self) -> dict[str, int]:
        """Relative path -> image index."""
        return {p: i for i, p in enumerate(self.paths)}

    def counts(self) -> dict[str, int]:
        """Images per identity."""
        out: dict[str, int] = defaultdict(int)
        for name in self.identities:
            out[name] += 1
        return dict(out)


def scan_lfw_dir(root: Path | str) -> ImageSet:
    """List ``<root>/<Name>/<Name>_NNNN.<jpg|jpeg|png>``; other files are skipped and logged."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"dataset folder {root} does not exist or is not a folder")
    paths: list[str] = []
    names: list[str] = []
    skipped = 0
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(folder.iterdir()):
            m = _NUMBERED.match(f.stem)
            if f.suffix.lower() in IMAGE_SUFFIXES and m and m["name"] == folder.name:
                paths.append(f"{folder.name}/{f.name}")
                names.append(folder.name)
            else:
                skipped += 1
    if skipped:
        log.info("skipped %d files in %s not named <Name>/<Name>_NNNN.jpg", skipped, root)
    if not paths:
        raise InputError(f"no images in LFW layout <Name>/<Name>_NNNN.jpg under {root}")
    return ImageSet(root, tuple(paths), tuple(names))


# --------------------------------------------------------------------------------------------
# Pairs (1:1 verification)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairList:
    """Verification pairs: image ``(name1, image1)`` against ``(name2, image2)``.

    ``same`` is the ground truth, ``fold`` the cross-validation fold (0-based).
    """

    name1: tuple[str, ...]
    image1: Int64
    name2: tuple[str, ...]
    image2: Int64
    same: Bool
    fold: Int64

    def __post_init__(self) -> None:
        n = len(self.name1)
        for attr in ("image1", "name2", "image2", "same", "fold"):
            if len(getattr(self, attr)) != n:
                raise ValidationError(
                    f"PairList.{attr} has {len(getattr(self, attr))} rows, not {n}"
                )

    def __len__(self) -> int:
        return len(self.name1)

    def paths(self) -> tuple[list[str], list[str]]:
        """Relative image paths of both sides."""
        return (
            [lfw_image_path(n, int(i)) for n, i in zip(self.name1, self.image1, strict=True)],
            [lfw_image_path(n, int(i)) for n, i in zip(self.name2, self.image2, strict=True)],
        )

    def indices(self, images: ImageSet) -> tuple[Int64, Int64]:
        """Image indices of both sides in ``images``; a missing image is an :class:`InputError`."""
        index = images.index()
        p1, p2 = self.paths()
        missing = sorted({p for p in p1 + p2 if p not in index})
        if missing:
            raise InputError(
                f"{len(missing)} images named by the pairs are not in {images.root}: "
                + ", ".join(missing[:5])
            )
        return (np.array([index[p] for p in p1], dtype=np.int64),
                np.array([index[p] for p in p2], dtype=np.int64))  # fmt: skip


def read_pairs(path: Path | str) -> PairList:
    """Parse a pairs file; both formats are accepted.

    * Vigil/shared TSV (``pairs_shared.tsv``): header ``name1 image1 name2 image2 same fold``,
      then one tab-separated row per pair.
    * LFW's original ``pairs.txt``: header ``folds pairs_per_fold`` (or one number for View 1),
      then ``name n1 n2`` (matched) and ``name1 n1 name2 n2`` (mismatched) rows, per fold
      ``pairs_per_fold`` matched then as many mismatched. View 1 files are one fold (0).
    """
    path = Path(path)
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read pairs file {path}: {exc}") from exc
    lines = [ln for ln in lines if ln]
    if not lines:
        raise InputError(f"pairs file {path} is empty")
    header = lines[0].split()
    if header[:2] == ["name1", "image1"]:
        return _parse_shared_pairs(lines, path)
    return _parse_lfw_pairs(lines, path)


def _parse_shared_pairs(lines: list[str], path: Path) -> PairList:
    cols = lines[0].split()
    need = ["name1", "image1", "name2", "image2", "same", "fold"]
    if cols[: len(need)] != need:
        raise InputError(f"{path}: header must start with {' '.join(need)}, got {' '.join(cols)}")
    rows: list[tuple[str, int, str, int, bool, int]] = []
    for lineno, line in enumerate(lines[1:], start=2):
        f = line.split("\t") if "\t" in line else line.split()
        try:
            if len(f) < 6 or f[4] not in ("0", "1"):
                raise ValueError(f"expected 6 columns with same in {{0,1}}, got {f}")
            rows.append((f[0], int(f[1]), f[2], int(f[3]), f[4] == "1", int(f[5])))
        except ValueError as exc:
            raise InputError(f"{path}:{lineno}: bad pair row: {exc}") from exc
    return _pairs_from_rows(rows)


def _parse_lfw_pairs(lines: list[str], path: Path) -> PairList:
    head = lines[0].split()
    try:
        n_folds, per_fold = (int(head[0]), int(head[1])) if len(head) == 2 else (1, int(head[0]))
    except (ValueError, IndexError) as exc:
        raise InputError(
            f"{path}:1: expected 'folds pairs_per_fold' or 'pairs', got {lines[0]!r}"
        ) from exc
    rows: list[tuple[str, int, str, int, bool, int]] = []
    for lineno, line in enumerate(lines[1:], start=2):
        f = line.split()
        fold = (lineno - 2) // (2 * per_fold)
        try:
            if len(f) == 3:
                rows.append((f[0], int(f[1]), f[0], int(f[2]), True, fold))
            elif len(f) == 4:
                rows.append((f[0], int(f[1]), f[2], int(f[3]), False, fold))
            else:
                raise ValueError(f"expected 3 or 4 fields, got {len(f)}")
        except ValueError as exc:
            raise InputError(f"{path}:{lineno}: bad pair row {line!r}: {exc}") from exc
    if len(rows) != 2 * n_folds * per_fold:
        raise InputError(
            f"{path}: header promises {2 * n_folds * per_fold} pairs, found {len(rows)}"
        )
    return _pairs_from_rows(rows)


def _pairs_from_rows(rows: Sequence[tuple[str, int, str, int, bool, int]]) -> PairList:
    return PairList(
        tuple(r[0] for r in rows), np.array([r[1] for r in rows], dtype=np.int64),
        tuple(r[2] for r in rows), np.array([r[3] for r in rows], dtype=np.int64),
        np.array([r[4] for r in rows], dtype=bool), np.array([r[5] for r in rows], dtype=np.int64),
    )  # fmt: skip


def apply_aliases_to_pairs(pairs: PairList, aliases: Aliases) -> PairList:
    """Relabel mismatched pairs of one person (``same`` aliases) as matched; drop twin pairs."""
    p1 = [aliases.person(n) for n in pairs.name1]
    p2 = [aliases.person(n) for n in pairs.name2]
    same = np.array([a == b for a, b in zip(p1, p2, strict=True)]) | pairs.same
    twin = np.array(
        [a != b and aliases.group(a) == aliases.group(b) for a, b in zip(p1, p2, strict=True)],
        dtype=bool,
    )
    keep = ~twin
    if (same != pairs.same).any() or twin.any():
        log.info("aliases relabelled %d pairs, dropped %d twin pairs",
                 int((same != pairs.same).sum()), int(twin.sum()))  # fmt: skip
    return PairList(
        tuple(n for n, k in zip(pairs.name1, keep, strict=True) if k), pairs.image1[keep],
        tuple(n for n, k in zip(pairs.name2, keep, strict=True) if k), pairs.image2[keep],
        same[keep], pairs.fold[keep],
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Aliases, cohorts, watchlists
# --------------------------------------------------------------------------------------------

AliasKind = Literal["same", "twin"]


class Aliases:
    """Which folder names are one person (``same``) and which people are one group (``twin``).

    ``person(name)`` is the canonical name of the person behind a folder (the alphabetically first
    spelling); ``group(name)`` the canonical name of its group of indistinguishable people. Both
    are the name itself when the name is not listed. Merging is transitive (union-find).
    """

    __slots__ = ("_group", "_person", "pairs", "source")

    def __init__(self, pairs: Iterable[tuple[str, str, AliasKind]] = (), source: str = "") -> None:
        self.pairs: tuple[tuple[str, str, AliasKind], ...] = tuple(pairs)
        self.source = source
        self._person = _union_find((a, b) for a, b, kind in self.pairs if kind == "same")
        persons = ((self.person(a), self.person(b)) for a, b, _ in self.pairs)
        self._group = _union_find(persons)

    @classmethod
    def none(cls) -> Aliases:
        return cls((), "none")

    def person(self, name: str) -> str:
        return self._person.get(name, name)

    def group(self, name: str) -> str:
        p = self.person(name)
        return self._group.get(p, p)

    def __len__(self) -> int:
        return len(self.pairs)


def _union_find(edges: Iterable[tuple[str, str]]) -> dict[str, str]:
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: root(x) for x in parent}


def parse_aliases(text: str, source: str = "<text>") -> Aliases:
    """Parse alias lines ``NAME_A<TAB>NAME_B[<TAB>same|twin]``; ``#`` comments, blank lines ok."""
    pairs: list[tuple[str, str, AliasKind]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        f = line.split("\t") if "\t" in line else line.split()
        kind = f[2].strip() if len(f) > 2 else "same"
        if len(f) not in (2, 3) or kind not in ("same", "twin") or f[0].strip() == f[1].strip():
            raise InputError(
                f"{source}:{lineno}: expected NAME_A<TAB>NAME_B[<TAB>same|twin], got {raw!r}"
            )
        pairs.append((f[0].strip(), f[1].strip(), "same" if kind == "same" else "twin"))
    return Aliases(pairs, source)


def read_aliases(path: Path | str) -> Aliases:
    """Read an alias file (format in the module docstring)."""
    return parse_aliases(_read_text(path, "alias"), str(path))


def default_lfw_aliases() -> Aliases:
    """The alias list shipped with Vigil for LFW's known label noise (``lfw_aliases.tsv``)."""
    text = resources.files("vigil.eval").joinpath("lfw_aliases.tsv").read_text(encoding="utf-8")
    return parse_aliases(text, "vigil/eval/lfw_aliases.tsv")


def read_cohorts(path: Path | str) -> dict[str, str]:
    """Read ``identity<TAB>cohort`` lines (``#`` comments; a first line ``identity cohort`` is a
    header). Cohorts are supplied by whoever evaluates; Vigil never infers them."""
    out: dict[str, str] = {}
    for lineno, raw in enumerate(_read_text(path, "cohort").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line or (lineno == 1 and line.split()[:2] == ["identity", "cohort"]):
            continue
        f = [x.strip() for x in line.split("\t")]
        if len(f) != 2 or not all(f):
            raise InputError(f"{path}:{lineno}: expected identity<TAB>cohort, got {raw!r}")
        if f[0] in out and out[f[0]] != f[1]:
            raise InputError(f"{path}:{lineno}: {f[0]} is in cohorts {out[f[0]]!r} and {f[1]!r}")
        out[f[0]] = f[1]
    return out


def read_watchlist_names(path: Path | str) -> list[str]:
    """Read one identity per line (``#`` comments, blank lines and duplicates ignored)."""
    names: list[str] = []
    for raw in _read_text(path, "watchlist").splitlines():
        name = raw.split("#", 1)[0].strip()
        if name and name not in names:
            names.append(name)
    return names


def _read_text(path: Path | str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {what} file {path}: {exc}") from exc


# --------------------------------------------------------------------------------------------
# Open-set protocol
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenSetProtocol:
    """Who is enrolled with which images, and which images are searched.

    ``gallery[j]`` holds the ``k`` enrolled image indices of ``enrolled[j]`` (an ``(N, k)``
    array); ``mated`` are the other images of enrolled people and ``mated_identity`` the row of
    their mate; ``nonmated`` the images of people who are not enrolled; ``excluded`` the images of
    people indistinguishable from someone enrolled (see the module docstring on aliases).
    """

    enrolled: tuple[str, ...]
    gallery: Int64
    mated: Int64
    mated_identity: Int64
    nonmated: Int64
    excluded: Int64

    def __post_init__(self) -> None:
        if self.gallery.ndim != 2 or self.gallery.shape[0] != len(self.enrolled):
            raise ValidationError(
                f"gallery must be (N={len(self.enrolled)}, k), got {self.gallery.shape}"
            )
        if self.mated.shape != self.mated_identity.shape:
            raise ValidationError("mated and mated_identity must have the same shape")

    @property
    def n_enrolled(self) -> int:
        return len(self.enrolled)


def build_open_set(
    identities: Sequence[str],
    *,
    watchlist_size: int | None = None,
    watchlist_names: Sequence[str] | None = None,
    seed: int = 0,
    images_per_identity: int = 1,
    min_images: int | None = None,
    aliases: Aliases | None = None,
    restrict_to: Collection[str] | None = None,
) -> OpenSetProtocol:
    """Build a NIST-FRTE-like open-set protocol from the identity of each image.

    Args:
        identities: folder name of each image (``ImageSet.identities``); indices are image rows.
        watchlist_size: N, enrol a seeded random choice of N people, at most one per twin group.
        watchlist_names: enrol exactly these people instead (aliases resolved); each needs at
            least ``images_per_identity`` images, and may then have no mated search.
        seed: drives the watchlist choice and which images are enrolled.
        images_per_identity: k images enrolled per person (multi-image enrolment); the search
            fuses the k scores (max by default). More k helps FNIR and costs gallery size.
        min_images: images a person needs to be drawn (default ``k + 1``, so every enrolled
            person has a mated search; ``k`` enrols people that only serve FPIR).
        aliases: merges spellings and excludes twins of the enrolled; ``None`` = no aliases.
        restrict_to: only images of these folder names take part (calibration halves).
    """
    al = aliases or Aliases.none()
    k = images_per_identity
    if k < 1:
        raise ValidationError(f"images_per_identity must be >= 1, got {k}")
    by_person: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(identities):
        if restrict_to is None or name in restrict_to:
            by_person[al.person(name)].append(i)
    rng = np.random.default_rng(seed)
    if watchlist_names is not None:
        chosen = _named_watchlist(watchlist_names, by_person, al, k)
    elif watchlist_size is not None:
        chosen = _random_watchlist(watchlist_size, by_person, al, min_images or k + 1, rng)
    else:
        raise ValidationError("give watchlist_size or watchlist_names")
    enrolled = tuple(sorted(chosen))
    gallery = np.array(
        [np.sort(rng.choice(by_person[p], size=k, replace=False)) for p in enrolled], np.int64
    ).reshape(len(enrolled), k)
    in_gallery = set(gallery.reshape(-1).tolist())
    mated = [(i, j) for j, p in enumerate(enrolled) for i in by_person[p] if i not in in_gallery]
    enrolled_groups = {al.group(p) for p in enrolled}
    nonmated: list[int] = []
    excluded: list[int] = []
    for person, imgs in by_person.items():
        if person in chosen:
            continue
        (excluded if al.group(person) in enrolled_groups else nonmated).extend(imgs)
    return OpenSetProtocol(
        enrolled, gallery,
        np.array([i for i, _ in mated], np.int64), np.array([j for _, j in mated], np.int64),
        np.array(sorted(nonmated), np.int64), np.array(sorted(excluded), np.int64),
    )  # fmt: skip


def nonmated_only(protocol: OpenSetProtocol) -> OpenSetProtocol:
    """The same gallery with only its non-mated searches: the population FPIR is defined on.

    An FMR curve that predicts FPIR should count the impostor comparisons of *non-mated*
    searches only (people not enrolled against those enrolled). The other images of enrolled
    people are a different population: on LFW they come only from people with two or more
    photos, while the spelling variants and one-photo people behind most high-scoring impostor
    pairs are only ever searched non-mated, so pooling them added 15-36% of the comparisons
    that scored no false match at the shipped threshold and diluted the rate
    (docs/false-alert-rates.md, "Why the point under-predicted"). Costs those comparisons: the
    bound rests on fewer, so it is a little wider.
    """
    empty = np.zeros(0, np.int64)
    return OpenSetProtocol(
        protocol.enrolled, protocol.gallery, empty, empty, protocol.nonmated, protocol.excluded
    )


def without_aliases(protocol: OpenSetProtocol, identities: Sequence[str]) -> OpenSetProtocol:
    """The same gallery searched as if there were no alias list, for a paired comparison.

    Each enrolled template keeps its images and is named after its first image's folder; mated
    searches are that folder's other images, every other image is non-mated (including the
    other spelling of a merged person and the twin of an enrolled one). Only the alias
    treatment differs from ``protocol``, so a change in FNIR/FPIR is due to it alone.
    """
    names = [identities[int(row[0])] for row in protocol.gallery]
    row_of = {n: j for j, n in enumerate(names)}
    in_gallery = set(protocol.gallery.reshape(-1).tolist())
    every = np.concatenate([protocol.mated, protocol.nonmated, protocol.excluded])
    rest = [int(i) for i in np.sort(every) if int(i) not in in_gallery]
    mated = [(i, row_of[identities[i]]) for i in rest if identities[i] in row_of]
    return OpenSetProtocol(
        tuple(names),
        protocol.gallery,
        np.array([i for i, _ in mated], np.int64),
        np.array([j for _, j in mated], np.int64),
        np.array([i for i in rest if identities[i] not in row_of], np.int64),
        np.zeros(0, np.int64),
    )


def _random_watchlist(
    n: int, by_person: dict[str, list[int]], al: Aliases, min_images: int, rng: np.random.Generator
) -> set[str]:
    eligible = sorted(p for p, imgs in by_person.items() if len(imgs) >= min_images)
    chosen: set[str] = set()
    groups: set[str] = set()
    for idx in rng.permutation(len(eligible)):
        p = eligible[int(idx)]
        if al.group(p) not in groups:
            chosen.add(p)
            groups.add(al.group(p))
            if len(chosen) == n:
                return chosen
    raise ValidationError(
        f"watchlist size {n} exceeds the {len(chosen)} people with >= {min_images} images "
        "(one per twin group) available",
        hint="use a smaller --watchlist-size or a larger dataset",
    )


def _named_watchlist(
    names: Sequence[str], by_person: dict[str, list[int]], al: Aliases, k: int
) -> set[str]:
    chosen = {al.person(n) for n in names}
    missing = sorted(p for p in chosen if p not in by_person)
    short = sorted(p for p in chosen if p in by_person and len(by_person[p]) < k)
    if missing or short:
        raise ValidationError(
            f"watchlist names not usable: {len(missing)} not in the dataset {missing[:5]}, "
            f"{len(short)} with fewer than {k} images {short[:5]}"
        )
    return chosen


def split_identities(
    identities: Iterable[str], *, seed: int = 0, aliases: Aliases | None = None
) -> tuple[frozenset[str], frozenset[str]]:
    """Split folder names into two disjoint halves for fit-on-one, test-on-the-other calibration.

    Aliases and twins stay on one side (a person in both halves would leak). People with one
    image and with several are split separately so both halves can enrol equally many.
    """
    al = aliases or Aliases.none()
    counts: dict[str, int] = defaultdict(int)
    members: dict[str, set[str]] = defaultdict(set)
    for name in identities:
        counts[al.group(name)] += 1
        members[al.group(name)].add(name)
    rng = np.random.default_rng(seed)
    halves: tuple[set[str], set[str]] = (set(), set())
    for multi in (True, False):
        groups = sorted(g for g, c in counts.items() if (c >= 2) == multi)
        for rank, idx in enumerate(rng.permutation(len(groups))):
            halves[rank % 2].update(members[groups[int(idx)]])
    return frozenset(halves[0]), frozenset(halves[1])


# --------------------------------------------------------------------------------------------
# Scorers and search
# --------------------------------------------------------------------------------------------

FloatArray = npt.NDArray[np.floating]


class Scorer(Protocol):
    """Similarity between images by index (higher = more alike); what every search runs on."""

    def matrix(self, probes: Int64, gallery: Int64) -> FloatArray:
        """``(len(probes), len(gallery))`` scores."""
        ...

    def pairs(self, a: Int64, b: Int64) -> FloatArray:
        """``(len(a),)`` scores of ``a[i]`` against ``b[i]``."""
        ...


class CosineScorer:
    """Cosine similarity of an ``(M, D)`` float32 L2-normalised embedding matrix (one row/image)."""

    def __init__(self, embeddings: npt.ArrayLike, *, norm_tolerance: float = 1e-3) -> None:
        e = np.asarray(embeddings)
        if e.ndim != 2 or e.dtype != np.float32:
            raise ValidationError(f"embeddings must be (M, D) float32, got {e.shape} {e.dtype}")
        norms = np.linalg.norm(e, axis=1)
        bad = ~np.isfinite(norms) | (np.abs(norms - 1) > norm_tolerance)
        if bad.any():
            raise ValidationError(
                f"embeddings must be finite and L2-normalised: {int(bad.sum())} rows are not "
                f"(first row {int(np.flatnonzero(bad)[0])}, norm {norms[bad][0]:.4f})"
            )
        self.embeddings: Float32 = e

    def matrix(self, probes: Int64, gallery: Int64) -> FloatArray:
        out: Float32 = self.embeddings[probes] @ self.embeddings[gallery].T
        return out

    def pairs(self, a: Int64, b: Int64) -> FloatArray:
        out: Float32 = np.einsum("ij,ij->i", self.embeddings[a], self.embeddings[b])
        return out


class MatrixScorer:
    """A precomputed ``(M, M)`` similarity matrix (e.g. from an external system)."""

    def __init__(self, similarity: npt.ArrayLike) -> None:
        s = np.asarray(similarity)
        if s.ndim != 2 or s.shape[0] != s.shape[1]:
            raise ValidationError(f"similarity must be square (M, M), got {s.shape}")
        self.similarity = s

    def matrix(self, probes: Int64, gallery: Int64) -> FloatArray:
        out: FloatArray = self.similarity[np.ix_(probes, gallery)]
        return out

    def pairs(self, a: Int64, b: Int64) -> FloatArray:
        out: FloatArray = self.similarity[a, b]
        return out


class FunctionScorer:
    """Wraps ``fn(probes, gallery) -> (P, G) scores``; ``pairs`` calls it once per pair (slow)."""

    def __init__(self, fn: Callable[[Int64, Int64], npt.ArrayLike]) -> None:
        self.fn = fn

    def matrix(self, probes: Int64, gallery: Int64) -> FloatArray:
        return np.asarray(self.fn(probes, gallery), dtype=np.float64)

    def pairs(self, a: Int64, b: Int64) -> FloatArray:
        return np.array(
            [np.asarray(self.fn(a[i : i + 1], b[i : i + 1])).item() for i in range(len(a))]
        )


class FusedScorer:
    """Score-level fusion: the weighted mean of several scorers (e.g. several embedders).

    Fusion only helps when the scores are on comparable scales; bring them there first (for
    example z-normalise each by its impostor mean/std) — a raw mean lets the widest score range
    dominate.
    """

    def __init__(self, scorers: Sequence[Scorer], weights: Sequence[float] | None = None) -> None:
        if not scorers:
            raise ValidationError("FusedScorer needs at least one scorer")
        w = np.ones(len(scorers)) if weights is None else np.asarray(weights, dtype=np.float64)
        if w.shape != (len(scorers),) or (w < 0).any() or w.sum() <= 0:
            raise ValidationError(f"need {len(scorers)} non-negative weights, got {weights}")
        self.scorers = tuple(scorers)
        self.weights = w / w.sum()

    def matrix(self, probes: Int64, gallery: Int64) -> FloatArray:
        return self._fuse([s.matrix(probes, gallery) for s in self.scorers])

    def pairs(self, a: Int64, b: Int64) -> FloatArray:
        return self._fuse([s.pairs(a, b) for s in self.scorers])

    def _fuse(self, parts: list[FloatArray]) -> Float64:
        out = np.zeros(np.shape(parts[0]), dtype=np.float64)
        for w, part in zip(self.weights, parts, strict=True):
            out += w * np.asarray(part, dtype=np.float64)
        return out


def pair_scores(pairs: PairList, images: ImageSet, scorer: Scorer) -> Float64:
    """The score of every verification pair, in the pairs' order."""
    a, b = pairs.indices(images)
    return np.asarray(scorer.pairs(a, b), dtype=np.float64)


TemplateFusion = Literal["max", "mean"]


def search(
    protocol: OpenSetProtocol,
    scorer: Scorer,
    *,
    template_fusion: TemplateFusion = "max",
    chunk_size: int = 1024,
    collect_impostors: bool = True,
) -> SearchResults:
    """Run every mated and non-mated search of ``protocol`` against its gallery.

    An identity's score is the ``max`` (default: the best-matching enrolled image wins, robust to
    one bad enrolment photo) or the ``mean`` of its ``k`` image scores. Probes are scored in
    chunks of ``chunk_size`` so memory stays at ``chunk_size * N * k`` floats; with
    ``collect_impostors`` every non-mate identity score is kept as float32 (about 4 bytes x
    searches x N: ~40 MB for 10,000 searches at N = 1,000) for the FMR-based FPIR estimate.
    """
    n, k = protocol.gallery.shape
    flat = protocol.gallery.reshape(-1)
    probes = np.concatenate([protocol.mated, protocol.nonmated]).astype(np.int64)
    mate = np.concatenate([protocol.mated_identity, np.full(len(protocol.nonmated), -1)])
    total = len(probes)
    top1, margin, mate_score = (np.full(total, np.nan) for _ in range(3))
    top_id, top_img, rank = (np.zeros(total, np.int64) for _ in range(3))
    impostors: list[Float32] = []
    for start in range(0, total, chunk_size):
        sl = slice(start, min(start + chunk_size, total))
        c = sl.stop - sl.start
        s = np.asarray(scorer.matrix(probes[sl], flat), dtype=np.float32)
        if s.shape != (c, n * k):
            raise ValidationError(f"scorer returned {s.shape}, expected {(c, n * k)}")
        s3 = s.reshape(c, n, k)
        person = s3.max(axis=2) if template_fusion == "max" else s3.mean(axis=2)
        rows = np.arange(c)
        best = person.argmax(axis=1)
        top_id[sl], top1[sl] = best, person[rows, best]
        top_img[sl] = protocol.gallery[best, s3[rows, best].argmax(axis=1)]
        if n > 1:
            margin[sl] = top1[sl] - np.partition(person, n - 2, axis=1)[:, n - 2]
        m = mate[sl]
        is_m = m >= 0
        ms = person[rows[is_m], m[is_m]]
        mate_score[sl][is_m] = ms
        rank[sl][is_m] = 1 + (person[is_m] > ms[:, None]).sum(axis=1)
        if collect_impostors:
            keep = np.ones((c, n), dtype=bool)
            keep[rows[is_m], m[is_m]] = False
            impostors.append(person[keep])
    imp = np.concatenate(impostors) if impostors else np.zeros(0, np.float32)
    imp.sort()
    mated = mate >= 0
    return SearchResults(
        probe=probes, mated=mated, top1_score=top1, top1_identity=top_id, top1_image=top_img,
        rank1_correct=mated & (top_id == mate), margin=margin, mate_score=mate_score,
        mate_rank=rank, n_enrolled=n, impostor_scores=imp, excluded=len(protocol.excluded),
    )  # fmt: skip


def calibration_holdout(
    identities: Sequence[str],
    scorer: Scorer,
    *,
    watchlist_size: int,
    target_fpirs: Sequence[float] = (1e-2, 1e-3),
    seed: int = 0,
    aliases: Aliases | None = None,
    method: Literal["empirical", "fmr"] = "empirical",
    images_per_identity: int = 1,
    min_images: int | None = None,
) -> list[Calibration]:
    """Fit a threshold per target FPIR on half the people, measure it on the other half.

    Both halves run the same protocol (same N, k); nobody is in both. A threshold that holds here
    is one that transfers to people it was not fitted on, which is the situation of every
    deployment. On LFW (~1,460 people with >= 2 images) a half supports N up to ~730 with the
    default ``min_images``; ``min_images=images_per_identity`` also enrols one-image people (they
    serve FPIR only), which allows N = 1,000.
    """
    al = aliases or Aliases.none()
    half_a, half_b = split_identities(identities, seed=seed, aliases=al)
    runs = []
    for half in (half_a, half_b):
        proto = build_open_set(
            identities, watchlist_size=watchlist_size, seed=seed, aliases=al,
            images_per_identity=images_per_identity, min_images=min_images, restrict_to=half,
        )  # fmt: skip
        runs.append(search(proto, scorer, collect_impostors=method == "fmr"))
    fit, test = runs
    return [check_calibration(_calibrate(fit, t, method=method), test) for t in target_fpirs]


def search_cohorts(
    results: SearchResults, identities: Sequence[str], cohort_of: Mapping[str, str]
) -> npt.NDArray[np.str_]:
    """Cohort label of each search (its probe's identity's; ``""`` where ``cohort_of`` has none).

    Feed the result to :func:`vigil.eval.metrics.evaluate_identification` as ``cohort``.
    """
    return np.array([cohort_of.get(identities[int(i)], "") for i in results.probe], dtype=str)
