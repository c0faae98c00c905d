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
    Anchor,
    AuditLog,
    MemoryAuditStore,
    check_details,
    entry_hash_of,
    make_entry,
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
