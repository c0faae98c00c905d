"""Media store: content addressing, atomic writes, verified reads, real deletion."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.errors import InputError, NotFoundError, ValidationError
from vigil.storage.media import LocalMediaStore, media_key


def test_put_get_is_content_addressed(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path)
    key = store.put(b"crop bytes")
    assert key == media_key(b"crop bytes") and store.put(b"crop bytes") == key
    assert store.get(key) == b"crop bytes"
    assert list(store.keys()) == [key]
    assert not list(tmp_path.rglob(".tmp-*"))


def test_delete_removes_the_bytes(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path)
    secret = b"FACE-CROP-" * 100
    key = store.put(secret)
    assert store.delete(key) and not store.exists(key) and not store.delete(key)
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or secret[:20] not in path.read_bytes()
    with pytest.raises(NotFoundError):
        store.get(key)


def test_corruption_is_detected(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path)
    key = store.put(b"original")
    store.path(key).write_bytes(b"tampered")
    with pytest.raises(InputError, match="corrupt"):
        store.get(key)


@pytest.mark.parametrize("key", ["../../etc/passwd", "A" * 64, "ab", "g" * 64])
def test_bad_keys_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValidationError):
        LocalMediaStore(tmp_path).get(key)


def test_size_limit_and_sweep(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path, max_bytes=10)
    with pytest.raises(InputError):
        store.put(b"x" * 11)
    (tmp_path / "ab" / "cd").mkdir(parents=True)
    (tmp_path / "ab" / "cd" / ".tmp-crash").write_bytes(b"half")
    assert store.sweep() == 1


@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=12), st.data())
def test_store_matches_a_set_model(blobs: list[bytes], data: st.DataObject) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        store = LocalMediaStore(Path(tmp))
        model: set[str] = set()
        for blob in blobs:
            model.add(store.put(blob))
            if data.draw(st.booleans()):
                victim = data.draw(st.sampled_from(sorted(model)))
                store.delete(victim)
                model.discard(victim)
        assert set(store.keys()) == model
