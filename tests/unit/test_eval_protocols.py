from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests.support.data import shared_data
from vigil.errors import InputError, ValidationError
from vigil.eval.metrics import fnir_at_fpir
from vigil.eval.protocols import (
    Aliases,
    CosineScorer,
    FunctionScorer,
    FusedScorer,
    MatrixScorer,
    apply_aliases_to_pairs,
    build_open_set,
    calibration_holdout,
    default_lfw_aliases,
    lfw_image_path,
    pair_scores,
    parse_aliases,
    read_cohorts,
    read_pairs,
    read_watchlist_names,
    scan_lfw_dir,
    search,
    search_cohorts,
    split_identities,
    without_aliases,
)


def labels(counts: dict[str, int]) -> list[str]:
    return [name for name, c in counts.items() for _ in range(c)]


def clustered(ids: list[str], dim: int = 32, noise: float = 0.3, seed: int = 0) -> np.ndarray:
    """One random centre per identity plus noise: same-identity images are near each other."""
    rng = np.random.default_rng(seed)
    names = sorted(set(ids))
    centres = dict(zip(names, rng.normal(size=(len(names), dim)), strict=True))
    x = np.stack([centres[n] for n in ids]) + rng.normal(scale=noise, size=(len(ids), dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


COUNTS = {f"P{i:03d}": 1 + i % 5 for i in range(120)}  # 1..5 images each
IDS = labels(COUNTS)


# ---- protocol construction ----------------------------------------------------------------


def test_open_set_partitions_every_image_once() -> None:
    p = build_open_set(IDS, watchlist_size=30, seed=7)
    assert p.n_enrolled == 30 and p.gallery.shape == (30, 1)
    assert all(COUNTS[name] >= 2 for name in p.enrolled)
    every = np.concatenate([p.gallery.ravel(), p.mated, p.nonmated, p.excluded])
    assert sorted(every.tolist()) == list(range(len(IDS)))
    assert len(p.mated) == sum(COUNTS[n] - 1 for n in p.enrolled)
    assert all(p.enrolled[j] == IDS[i] for i, j in zip(p.mated, p.mated_identity, strict=True))
    assert not set(p.enrolled) & {IDS[i] for i in p.nonmated}


def test_seed_is_reproducible_and_matters() -> None:
    a = build_open_set(IDS, watchlist_size=30, seed=1)
    b = build_open_set(IDS, watchlist_size=30, seed=1)
    c = build_open_set(IDS, watchlist_size=30, seed=2)
    assert a.enrolled == b.enrolled and np.array_equal(a.gallery, b.gallery)
    assert a.enrolled != c.enrolled


def test_watchlist_too_large_names_the_limit() -> None:
    eligible = sum(c >= 2 for c in COUNTS.values())
    with pytest.raises(ValidationError, match=str(eligible)):
        build_open_set(IDS, watchlist_size=eligible + 1)


def test_multi_image_enrolment_needs_k_plus_one() -> None:
    p = build_open_set(IDS, watchlist_size=20, images_per_identity=2, seed=3)
    assert p.gallery.shape == (20, 2)
    assert all(COUNTS[n] >= 3 for n in p.enrolled)
    one = build_open_set(IDS, watchlist_size=100, min_images=1, seed=3)  # one-image people too
    assert one.n_enrolled == 100


def test_explicit_watchlist_names() -> None:
    p = build_open_set(IDS, watchlist_names=["P004", "P001"])
    assert p.enrolled == ("P001", "P004")
    assert len(p.mated) == COUNTS["P001"] - 1 + COUNTS["P004"] - 1
    with pytest.raises(ValidationError, match="not in the dataset"):
        build_open_set(IDS, watchlist_names=["Nobody"])


def test_aliases_merge_spellings_and_exclude_twins() -> None:
    ids = labels({"Ann_A": 1, "Anne_A": 2, "Twin_1": 3, "Twin_2": 2, "Other": 2, "Solo": 1})
    al = parse_aliases("Ann_A\tAnne_A\nTwin_1\tTwin_2\ttwin\n")
    p = build_open_set(ids, watchlist_names=["Ann_A", "Twin_1"], aliases=al)
    assert p.enrolled == ("Ann_A", "Twin_1")  # one person per spelling group
    ann = [i for i, n in enumerate(ids) if n in ("Ann_A", "Anne_A")]
    assert sorted([*p.gallery[0].tolist(), *p.mated[p.mated_identity == 0].tolist()]) == ann
    assert {ids[i] for i in p.excluded} == {"Twin_2"}  # neither mated nor non-mated
    assert {ids[i] for i in p.nonmated} == {"Other", "Solo"}
    plain = build_open_set(ids, watchlist_names=["Ann_A", "Twin_1"])
    assert "Anne_A" in {ids[i] for i in plain.nonmated} and len(plain.excluded) == 0


def test_random_watchlist_takes_one_twin_at_most() -> None:
    ids = labels({"T1": 3, "T2": 3})
    al = parse_aliases("T1 T2 twin")
    p = build_open_set(ids, watchlist_size=1, aliases=al)
    assert len(p.excluded) == 3 and len(p.nonmated) == 0
    with pytest.raises(ValidationError):
        build_open_set(ids, watchlist_size=2, aliases=al)


def test_split_identities_is_disjoint_and_keeps_aliases_together() -> None:
    al = parse_aliases("P001\tP002\nP010\tP011\ttwin")
    a, b = split_identities(IDS, seed=4, aliases=al)
    assert not a & b and a | b == set(IDS)
    assert {"P001", "P002"} <= a or {"P001", "P002"} <= b
    assert {"P010", "P011"} <= a or {"P010", "P011"} <= b
    assert abs(len(a) - len(b)) <= 4


# ---- search -------------------------------------------------------------------------------


def brute_force(p, x: np.ndarray):  # type: ignore[no-untyped-def]
    probes = np.concatenate([p.mated, p.nonmated])
    mate = np.concatenate([p.mated_identity, np.full(len(p.nonmated), -1)])
    out = []
    for probe, m in zip(probes, mate, strict=True):
        person = np.array([max(float(x[probe] @ x[g]) for g in row) for row in p.gallery])
        best = int(np.argmax(person))
        out.append((person[best], best, m >= 0 and best == m, person[m] if m >= 0 else np.nan))
    return out


@pytest.mark.parametrize("k", [1, 2])
def test_search_matches_brute_force_for_any_chunk_size(k: int) -> None:
    x = clustered(IDS, noise=1.0)
    p = build_open_set(IDS, watchlist_size=15, images_per_identity=k, seed=5)
    expect = brute_force(p, x)
    for chunk in (3, 10_000):
        r = search(p, CosineScorer(x), chunk_size=chunk)
        np.testing.assert_allclose(r.top1_score, [e[0] for e in expect], rtol=1e-5)
        assert r.top1_identity.tolist() == [e[1] for e in expect]
        assert r.rank1_correct.tolist() == [e[2] for e in expect]
        np.testing.assert_allclose(r.mate_score, [e[3] for e in expect], rtol=1e-5)
        assert np.all(r.margin >= 0) and np.all(r.mate_rank[r.rank1_correct] == 1)
    # impostors: every (probe, enrolled) pair except the mate's
    assert len(r.impostor_scores) == len(r.probe) * 15 - r.n_mated
    assert np.all(np.diff(r.impostor_scores) >= 0)


def test_well_separated_clusters_are_found_and_lookalike_is_flagged() -> None:
    ids = labels({f"Q{i:03d}": 3 for i in range(200)})
    x = clustered(ids, dim=64, noise=0.05)
    p = build_open_set(ids, watchlist_size=50, seed=0)
    r = search(p, CosineScorer(x))
    assert r.rank1_correct[r.mated].all()
    pts = fnir_at_fpir(r, (0.01,))
    assert pts[0.01].fnir.k == 0
    # make one non-mated probe a copy of an enrolled image: it must be the top false alert
    x2 = x.copy()
    x2[p.nonmated[0]] = x[p.gallery[3, 0]]
    r2 = search(p, CosineScorer(x2))
    i = int(np.argmax(np.where(r2.mated, -np.inf, r2.top1_score)))
    assert r2.probe[i] == p.nonmated[0] and r2.top1_image[i] == p.gallery[3, 0]


def test_template_fusion_mean_differs_from_max() -> None:
    x = clustered(IDS, noise=1.0)
    p = build_open_set(IDS, watchlist_size=10, images_per_identity=2, seed=1)
    rmax, rmean = search(p, CosineScorer(x)), search(p, CosineScorer(x), template_fusion="mean")
    assert np.all(rmax.top1_score >= rmean.top1_score - 1e-6)


def test_scorers_agree() -> None:
    x = clustered(IDS[:40])
    a, b = np.arange(10, dtype=np.int64), np.arange(10, 20, dtype=np.int64)
    cos, mat = CosineScorer(x), MatrixScorer(x @ x.T)
    fn = FunctionScorer(lambda p, g: x[p] @ x[g].T)
    fused = FusedScorer([cos, mat], weights=[1, 3])
    for s in (mat, fn, fused):
        np.testing.assert_allclose(s.matrix(a, b), cos.matrix(a, b), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(s.pairs(a, b), cos.pairs(a, b), rtol=1e-5, atol=1e-6)


def test_cosine_scorer_rejects_unnormalised_and_wrong_dtype() -> None:
    with pytest.raises(ValidationError, match="L2-normalised"):
        CosineScorer(np.full((3, 4), 2.0, np.float32))
    with pytest.raises(ValidationError, match="float32"):
        CosineScorer(np.eye(3))
    with pytest.raises(ValidationError):
        FusedScorer([])


def test_calibration_holdout_transfers_on_synthetic_population() -> None:
    ids = labels({f"R{i:04d}": 1 + i % 3 for i in range(1200)})
    x = clustered(ids, dim=24, noise=0.5, seed=9)
    cals = calibration_holdout(ids, CosineScorer(x), watchlist_size=200, target_fpirs=(0.01,))
    (cal,) = cals
    assert cal.fit_fpir.value <= 0.01 and cal.test_fpir is not None
    assert 0.25 < cal.realised_over_target < 4


def test_search_cohorts_maps_probe_identity() -> None:
    p = build_open_set(IDS, watchlist_size=5)
    r = search(p, CosineScorer(clustered(IDS)), collect_impostors=False)
    c = search_cohorts(r, IDS, {"P001": "x"})
    assert set(c.tolist()) <= {"x", ""} and len(c) == len(r.probe)


# ---- files --------------------------------------------------------------------------------


def test_scan_lfw_dir_lists_layout_and_skips_junk(tmp_path: Path) -> None:
    for name, n in (("Bob_B", 2), ("Al_A", 1)):
        (tmp_path / name).mkdir()
        for i in range(1, n + 1):
            (tmp_path / name / f"{name}_{i:04d}.jpg").write_bytes(b"x")
    (tmp_path / "Bob_B" / ".DS_Store").write_bytes(b"")
    (tmp_path / "Bob_B" / "Other_0001.jpg").write_bytes(b"")
    s = scan_lfw_dir(tmp_path)
    assert s.paths == ("Al_A/Al_A_0001.jpg", "Bob_B/Bob_B_0001.jpg", "Bob_B/Bob_B_0002.jpg")
    assert s.counts() == {"Al_A": 1, "Bob_B": 2}
    with pytest.raises(InputError):
        scan_lfw_dir(tmp_path / "missing")


def test_read_pairs_both_formats(tmp_path: Path) -> None:
    shared = tmp_path / "p.tsv"
    shared.write_text(
        "name1\timage1\tname2\timage2\tsame\tfold\nA\t1\tA\t2\t1\t0\nA\t1\tB\t3\t0\t1\n"
    )
    p = read_pairs(shared)
    assert p.same.tolist() == [True, False] and p.fold.tolist() == [0, 1]
    assert p.paths()[1] == ["A/A_0002.jpg", "B/B_0003.jpg"]
    lfw = tmp_path / "pairs.txt"
    lfw.write_text("2\t1\nA\t1\t2\nA\t1\tB\t3\nC\t1\t2\nC\t2\tD\t1\n")
    q = read_pairs(lfw)
    assert q.same.tolist() == [True, False, True, False] and q.fold.tolist() == [0, 0, 1, 1]
    bad = tmp_path / "bad.tsv"
    bad.write_text("name1\timage1\tname2\timage2\tsame\tfold\nA\tx\tA\t2\t1\t0\n")
    with pytest.raises(InputError, match=r"bad.tsv:2"):
        read_pairs(bad)


def test_apply_aliases_to_pairs() -> None:
    al = parse_aliases("A\tA2\nT1\tT2\ttwin\n")
    p = read_pairs_from_rows(
        [("A", 1, "A2", 1, False), ("T1", 1, "T2", 1, False), ("A", 1, "B", 1, False)]
    )
    q = apply_aliases_to_pairs(p, al)
    assert q.name1 == ("A", "A") and q.same.tolist() == [True, False]


def read_pairs_from_rows(rows: list[tuple[str, int, str, int, bool]]):  # type: ignore[no-untyped-def]
    from vigil.eval.protocols import _pairs_from_rows

    return _pairs_from_rows([(*r, 0) for r in rows])


def test_alias_cohort_and_watchlist_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=":2:"):
        parse_aliases("# ok\nA\tB\tcousin\n", "x")
    assert Aliases.none().person("A") == "A"
    al = default_lfw_aliases()
    assert al.person("Hassan_Wirajuda") == al.person("Hasan_Wirayuda")
    assert al.person("Mireya_Moscoso") == al.person("Mireya_Elisa_Moscoso_Rodriguez")
    assert al.person("Ashley_Olsen") != al.person("Mary-Kate_Olsen")
    assert al.group("Ashley_Olsen") == al.group("Mary-Kate_Olsen")
    c = tmp_path / "c.tsv"
    c.write_text("identity\tcohort\nA\tx\n# comment\nB\ty\n")
    assert read_cohorts(c) == {"A": "x", "B": "y"}
    c.write_text("A\tx\nA\ty\n")
    with pytest.raises(InputError, match="cohorts"):
        read_cohorts(c)
    w = tmp_path / "w.txt"
    w.write_text("A\n\nB # note\nA\n")
    assert read_watchlist_names(w) == ["A", "B"]


def test_real_pairs_shared_file() -> None:
    path = shared_data("lfw", "pairs_shared.tsv")
    p = read_pairs(path)
    assert len(p) == 4915
    assert sorted(Counter(p.fold.tolist())) == list(range(10))
    assert int(p.same.sum()) == 2610 and int((~p.same).sum()) == 2305
    assert all(a == b for a, b, s in zip(p.name1, p.name2, p.same, strict=True) if s)
    assert lfw_image_path("George_W_Bush", 10) == "George_W_Bush/George_W_Bush_0010.jpg"
    root = shared_data("lfw", "lfw-deepfunneled")
    p1, p2 = p.paths()
    assert all((root / rel).is_file() for rel in p1[:200] + p2[:200])


def test_pair_scores_on_real_layout_names(tmp_path: Path) -> None:
    for name in ("A", "B"):
        (tmp_path / name).mkdir()
        for i in (1, 2):
            (tmp_path / name / f"{name}_{i:04d}.jpg").write_bytes(b"")
    images = scan_lfw_dir(tmp_path)
    x = np.eye(4, dtype=np.float32)
    x[1] = x[0]
    pairs = read_pairs_from_rows([("A", 1, "A", 2, True), ("A", 1, "B", 1, False)])
    assert pair_scores(pairs, images, CosineScorer(x)).tolist() == [1.0, 0.0]
    missing = read_pairs_from_rows([("A", 1, "C", 1, False)])
    with pytest.raises(InputError, match=r"C/C_0001\.jpg"):
        pair_scores(missing, images, CosineScorer(x))


def test_without_aliases_keeps_the_gallery_and_relabels_searches() -> None:
    ids = labels({"Ann_A": 2, "Anne_A": 2, "Twin_1": 3, "Twin_2": 2, "Other": 2})
    al = parse_aliases("Ann_A\tAnne_A\nTwin_1\tTwin_2\ttwin\n")
    p = build_open_set(ids, watchlist_names=["Ann_A", "Twin_1"], aliases=al, seed=1)
    q = without_aliases(p, ids)
    assert np.array_equal(p.gallery, q.gallery) and len(q.excluded) == 0
    every = np.concatenate([q.gallery.ravel(), q.mated, q.nonmated])
    assert sorted(every.tolist()) == list(range(len(ids)))
    first = ids[int(p.gallery[0, 0])]
    assert {ids[i] for i in q.mated[q.mated_identity == 0]} <= {first}
    assert "Twin_2" in {ids[i] for i in q.nonmated}
