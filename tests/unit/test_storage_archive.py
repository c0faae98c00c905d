"""Archive index: exact and IVF-PQ modes agree with brute force; add/remove/persist invariants."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.core.domain import StoredEmbedding
from vigil.errors import ValidationError
from vigil.storage.archive import (
    ArchiveParams,
    FaissArchiveIndex,
    ShardedArchive,
    catch_up,
)

SMALL = ArchiveParams(dim=16, nlist=8, pq_m=4, nprobe=8, rerank=64, train_at=400)


def _unit(n: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _brute(ids: np.ndarray, x: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    scores = q @ x.T
    return ids[np.argsort(-scores, axis=1, kind="stable")[:, :k]]


def test_exact_mode_matches_brute_force(tmp_path: Path) -> None:
    idx = FaissArchiveIndex(tmp_path, SMALL)
    x = _unit(300)
    ids = np.arange(300) * 3 + 7
    idx.add(ids, x)
    assert not idx.trained and len(idx) == 300
    got = idx.search(x[:20], 5)
    np.testing.assert_array_equal(got.ids, _brute(ids, x, x[:20], 5))
    assert got.scores.shape == (20, 5) and np.all(np.diff(got.scores, axis=1) <= 1e-6)


def test_trains_and_keeps_high_recall_after_reload(tmp_path: Path) -> None:
    x = _unit(2000, seed=1)
    idx = FaissArchiveIndex(tmp_path, SMALL)
    for s in range(0, 2000, 250):
        idx.add(np.arange(s, s + 250), x[s : s + 250])
    assert idx.trained and len(idx) == 2000
    q = x[:50] + 0.05 * _unit(50, seed=2)
    truth = _brute(np.arange(2000), x, q, 10)
    got = idx.search(q, 10).ids
    recall = np.mean([len(set(got[i]) & set(truth[i])) / 10 for i in range(50)])
    assert recall >= 0.9
    idx.save()
    idx.close()
    again = FaissArchiveIndex(tmp_path)
    assert again.trained and len(again) == 2000 and again.high_water == 1999
    np.testing.assert_array_equal(again.search(q, 10).ids, got)
    assert again.memory_bytes() / 2000 < 16 * 4  # compressed codes, not raw vectors


def test_remove_zeroes_raw_rows_and_persists(tmp_path: Path) -> None:
    x = _unit(500, seed=3)
    idx = FaissArchiveIndex(tmp_path, SMALL)
    idx.add(np.arange(500), x)
    assert idx.remove(np.array([5, 6, 999])) == 2
    assert 5 not in idx.search(x[5:6], 20).ids
    raw = np.fromfile(tmp_path / "vectors.f32", dtype="<f4").reshape(-1, 16)
    assert not raw[5].any() and not raw[6].any() and raw[7].any()
    idx.close()
    again = FaissArchiveIndex(tmp_path)
    assert len(again) == 498 and 6 not in again.search(x[6:7], 20).ids


def test_bad_input_is_refused(tmp_path: Path) -> None:
    idx = FaissArchiveIndex(tmp_path, SMALL)
    with pytest.raises(ValidationError):
        idx.add(np.arange(3), _unit(2))
    with pytest.raises(ValidationError):
        idx.add(np.array([1, 1]), _unit(2))
    with pytest.raises(ValidationError):
        idx.search(_unit(1, dim=8), 3)
    with pytest.raises(ValidationError):
        ArchiveParams(dim=10, pq_m=4)


def test_sharded_archive_merges_shards(tmp_path: Path) -> None:
    shards = [FaissArchiveIndex(tmp_path / str(s), SMALL) for s in range(3)]
    sharded = ShardedArchive(shards)
    x = _unit(200, seed=4)
    sharded.add(np.arange(200), x)
    assert [len(s) for s in shards] == [67, 67, 66] and len(sharded) == 200
    np.testing.assert_array_equal(
        sharded.search(x[:10], 4).ids, _brute(np.arange(200), x, x[:10], 4)
    )
    assert sharded.remove(np.array([0, 1, 2])) == 3


def test_catch_up_adds_the_unsaved_tail(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    x = _unit(30, seed=5)
    stored = [StoredEmbedding(i, f"s{i}", "m", x[i], datetime.now(UTC)) for i in range(30)]
    idx = FaissArchiveIndex(tmp_path, SMALL)
    idx.add(np.arange(10), x[:10])

    def fetch(after: int, limit: int) -> list[StoredEmbedding]:
        return [e for e in stored if e.vector_id > after][:limit]

    assert catch_up(idx, idx.high_water, fetch, batch=7) == 20
    assert len(idx) == 30


@settings(max_examples=25, deadline=None)
@given(
    ops=st.lists(
        st.tuples(st.booleans(), st.lists(st.integers(0, 60), min_size=1, max_size=10)),
        min_size=1,
        max_size=12,
    )
)
def test_add_remove_search_consistent_with_a_model(ops: list[tuple[bool, list[int]]]) -> None:
    """Against a dict model: the live id set and exact top-k always match (exact mode)."""
    x = _unit(61, seed=6)
    with tempfile.TemporaryDirectory() as tmp:
        idx = FaissArchiveIndex(Path(tmp), SMALL)
        live: set[int] = set()
        for is_add, raw in ops:
            ids = np.array(sorted(set(raw)), np.int64)
            if is_add:
                idx.add(ids, x[ids])
                live |= set(ids.tolist())
            else:
                assert idx.remove(ids, persist=False) == len(live & set(ids.tolist()))
                live -= set(ids.tolist())
            assert len(idx) == len(live)
        k = 5
        got = idx.search(x[:3], k)
        if live:
            arr = np.array(sorted(live), np.int64)
            want = _brute(arr, x[arr], x[:3], min(k, len(arr)))
            np.testing.assert_array_equal(got.ids[:, : want.shape[1]], want)
        assert set(got.ids[got.ids >= 0].tolist()) <= live
        idx.close()


@pytest.mark.slow
def test_recall_and_memory_gate_at_100k(tmp_path: Path) -> None:
    """The issue's targets at a size CI can afford (the 2M run is `python -m bench`)."""
    from bench.bench_storage import _exact_top10, clustered_unit_vectors

    rng = np.random.default_rng(11)
    centres = rng.standard_normal((1000, 512), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = clustered_unit_vectors(100_000, centres, rng)
    q = clustered_unit_vectors(200, centres, rng)
    idx = FaissArchiveIndex(tmp_path, ArchiveParams(nlist=256, nprobe=16, rerank=100))
    for s in range(0, len(x), 25_000):
        idx.add(np.arange(s, s + 25_000), x[s : s + 25_000])
    got = idx.search(q, 10).ids
    truth = _exact_top10(x, q)
    recall = np.mean([len(set(got[i]) & set(truth[i])) / 10 for i in range(len(q))])
    assert recall >= 0.95
    assert idx.memory_bytes() / len(x) <= 100


def test_purged_row_is_never_returned_even_if_index_removal_was_lost(tmp_path: Path) -> None:
    x = _unit(500, seed=8)
    idx = FaissArchiveIndex(tmp_path, SMALL)
    idx.add(np.arange(500), x)
    assert idx.trained
    idx._vectors.erase(np.array([42]))  # as if a crash hit between the two steps of remove()
    assert 42 not in idx.search(x[42:43], 50).ids
