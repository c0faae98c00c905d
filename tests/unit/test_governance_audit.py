"""The audit chain: hashing, verification, and that every edit, deletion and reorder is caught."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.core.records import AuditEntry
from vigil.errors import ValidationError
from vigil.governance.audit import (
    GENESIS,
    MAX_DETAIL_VALUE,
    Anchor,
    AuditLog,
    MemoryAuditStore,
    check_details,
    entry_hash_of,
    make_entry,
    parse_head,
    summarise_ids,
    verify_chain,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def chain(n: int) -> list[AuditEntry]:
    out: list[AuditEntry] = []
    for i in range(n):
        prev = out[-1] if out else None
        out.append(
            make_entry(
                prev,
                at=T0 + timedelta(seconds=i),
                actor=f"user-{i % 3}",
                action="deployment.approve",
                target=f"deployment:{i}",
                reason=f"reason {i}",
                details=[("k", str(i))],
            )
        )
    return out


def test_first_entry_links_to_genesis_and_hash_is_reproducible() -> None:
    entries = chain(3)
    assert entries[0].seq == 0 and entries[0].prev_hash == GENESIS
    assert entries[1].prev_hash == entries[0].entry_hash
    assert all(entry_hash_of(e) == e.entry_hash for e in entries)
    report = verify_chain(entries)
    assert report.ok and report.checked == 3 and report.head == Anchor(2, entries[2].entry_hash)


def test_empty_chain_is_intact() -> None:
    assert verify_chain([]).ok


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("embedding", "x"),
        ("template_vector", "x"),
        ("note", "0.1 0.2 0.3 0.4 0.5 0.6 0.7 0.8 0.9 1.0"),
        ("note", "a" * 300),
    ],
)
def test_biometric_or_bulky_details_are_refused(key: str, value: str) -> None:
    with pytest.raises(ValidationError):
        check_details([(key, value)])


def test_log_appends_and_anchor_detects_a_truncated_tail(tmp_path: Path) -> None:
    store = MemoryAuditStore()
    log = AuditLog(store, anchor_path=tmp_path / "anchor.json", clock=lambda: T0)
    for i in range(5):
        log.append("alice", "setting.change", f"setting:{i}", "tuning")
    assert log.verify().ok
    del store.entries[-1]  # an internally consistent chain, one entry short
    assert verify_chain(store.entries).ok  # the chain alone cannot see it...
    report = log.verify()  # ...the anchor can
    assert not report.ok and report.broken_seq == 4


Mutation = st.sampled_from(["edit_reason", "edit_actor", "edit_time", "delete", "swap", "insert"])


@settings(max_examples=150, deadline=None)
@given(n=st.integers(2, 25), data=st.data(), kind=Mutation)
def test_any_tampering_is_detected_at_the_first_broken_link(
    n: int, data: st.DataObject, kind: str
) -> None:
    entries = chain(n)
    anchor = Anchor(entries[-1].seq, entries[-1].entry_hash)
    i = data.draw(st.integers(0, n - 1), label="index")
    tampered = list(entries)
    if kind == "edit_reason":
        tampered[i] = dataclasses.replace(entries[i], reason=entries[i].reason + "!")
    elif kind == "edit_actor":
        tampered[i] = dataclasses.replace(entries[i], actor="mallory")
    elif kind == "edit_time":
        tampered[i] = dataclasses.replace(entries[i], at=entries[i].at + timedelta(seconds=1))
    elif kind == "delete":
        del tampered[i]
    elif kind == "swap":
        j = data.draw(st.integers(0, n - 1).filter(lambda j: j != i), label="other")
        tampered[i], tampered[j] = tampered[j], tampered[i]
        i = min(i, j)
    else:  # insert a well-formed entry that re-links to its predecessor
        prev = entries[i - 1] if i else None
        forged = make_entry(prev, at=T0, actor="mallory", action="x", target="y", reason="z")
        tampered.insert(i, forged)
        # The forged entry is valid on its own, so the next link breaks; unless it took the
        # anchored seq, where the anchor already tells it apart.
        i = i if i == n - 1 else i + 1
    report = verify_chain(tampered, anchor)
    assert not report.ok
    if kind == "delete" and i == n - 1:
        assert report.broken_seq == n - 1  # only the anchor sees a removed tail
    else:
        assert report.broken_seq == i, report.describe()


# -- the anchor only moves forward along the same chain (issue 14) -----------------------------


def _log(tmp_path: Path, store: MemoryAuditStore | None = None) -> AuditLog:
    return AuditLog(
        store or MemoryAuditStore(), anchor_path=tmp_path / "anchor.json", clock=lambda: T0
    )


def _fill(log: AuditLog, n: int) -> None:
    for i in range(n):
        log.append("alice", "setting.change", f"setting:{i}", "tuning")


def test_a_cut_tail_is_not_laundered_by_the_next_append(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _fill(log, 5)
    store = log.store
    assert isinstance(store, MemoryAuditStore)
    del store.entries[2:]  # the newest three entries deleted
    assert not log.verify().ok
    log.append("bob", "setting.change", "setting:x", "the next audited request")
    anchor = log.anchor()
    assert anchor is not None and anchor.seq == 4  # not moved back to the new, lower head
    assert log.problem is not None and "deleted" in log.problem
    report = log.verify()
    assert not report.ok, "the shortened, re-extended chain must stay BROKEN"
    # A second process starting over the same files does not launder it either.
    again = _log(tmp_path, store)
    again.append("carol", "setting.change", "setting:y", "another request")
    assert not again.verify().ok


def test_a_late_anchor_callback_of_an_older_entry_is_not_a_cut_tail(tmp_path: Path) -> None:
    """Commits on several threads run their after-commit callbacks in any order (the console's
    live streams open together): entry 1's may come after entry 2's. Seen as a false "cut
    tail" before; the anchor stays at the newest entry and no problem is raised."""
    log = _log(tmp_path)
    _fill(log, 3)
    older = log.store.audit_entry_at(1)
    assert older is not None
    log._advance_anchor(older)  # the late callback, as a second thread runs it
    anchor = log.anchor()
    assert anchor is not None and anchor.seq == 2
    assert log.problem is None
    assert log.verify().ok


def test_a_tail_rewritten_with_new_hashes_and_extended_past_the_anchor_fails(
    tmp_path: Path,
) -> None:
    log = _log(tmp_path)
    _fill(log, 5)
    store = log.store
    assert isinstance(store, MemoryAuditStore)
    kept = store.entries[:2]
    forged = list(kept)
    for i in range(6):  # a consistent chain from seq 2 to seq 7, every hash recomputed
        forged.append(
            make_entry(forged[-1], at=T0, actor="mallory", action="x", target=f"t{i}", reason="r")
        )
    store.entries = forged
    assert verify_chain(store.entries).ok  # internally consistent...
    report = log.verify()  # ...but the anchored entry (seq 4) is not the one anchored
    assert not report.ok and report.broken_seq == 4 and "anchor" in report.problem


def test_a_missing_anchor_with_entries_fails_and_is_not_recreated(tmp_path: Path) -> None:
    store = MemoryAuditStore()
    _fill(_log(tmp_path, store), 3)
    (tmp_path / "anchor.json").unlink()
    restarted = _log(tmp_path, store)  # a new process: nothing in memory
    report = restarted.verify()
    assert not report.ok and "missing" in report.problem
    restarted.append("bob", "setting.change", "setting:x", "next request")
    assert restarted.anchor() is None and restarted.problem is not None
    assert not restarted.verify().ok


def test_a_full_rewrite_is_caught_by_a_head_kept_elsewhere(tmp_path: Path) -> None:
    log = _log(tmp_path)
    _fill(log, 4)
    kept = log.head()
    assert kept is not None
    # The attacker deletes everything, anchor included, and starts a clean-looking chain.
    (tmp_path / "anchor.json").unlink()
    fresh = _log(tmp_path)
    for i in range(6):
        fresh.append("mallory", "setting.change", f"setting:{i}", "nothing to see")
    assert fresh.verify().ok  # nothing local can tell...
    report = fresh.verify([kept])  # ...the head the oversight body kept can
    assert not report.ok and "expected head" in report.problem
    assert parse_head(f"{kept.seq}:{kept.entry_hash}") == kept
    with pytest.raises(ValidationError):
        parse_head("12:not-a-hash")


def test_stale_temporary_anchor_files_are_removed_at_start(tmp_path: Path) -> None:
    (tmp_path / ".anchor-abc123").write_text("{}")
    log = _log(tmp_path)
    _fill(log, 2)
    assert not list(tmp_path.glob(".anchor-*"))
    assert not list(tmp_path.glob("*.tmp"))  # the fixed temporary name was renamed away


@pytest.mark.parametrize("reason", ["nul \x00 byte", "bell \x07", "escape \x1b[31m"])
def test_control_characters_are_refused_before_anything_is_written(
    tmp_path: Path, reason: str
) -> None:
    log = _log(tmp_path)
    with pytest.raises(ValidationError):
        log.append("alice", "setting.change", "setting:1", reason)
    with pytest.raises(ValidationError):
        log.append("alice\x00", "setting.change", "setting:1", "ok")
    assert log.head() is None
    log.append("alice", "setting.change", "setting:1", "two lines\nare fine\tand tabs")
    assert log.verify().ok


@given(ids=st.lists(st.text("abcdef0123456789-", min_size=1, max_size=40), max_size=80))
def test_long_id_lists_are_summarised_within_the_detail_limit(ids: list[str]) -> None:
    text = summarise_ids(ids)
    assert len(text) <= MAX_DETAIL_VALUE
    check_details([("cameras", text)])
    if len(",".join(ids)) <= 200:
        assert text == ",".join(ids)
    else:
        assert f"{len(ids)} in all" in text
