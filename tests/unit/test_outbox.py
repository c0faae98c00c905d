"""The outbox and its disk spool, with a stand-in recorder that can be "unreachable": order kept
through memory and disk, nothing dropped silently, a killed process's spool replayed on start,
torn records skipped. (The real recorder, keys and databases: tests/integration/
test_record_keys.py and test_recorder_outage.py.)"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.core.keys import file_epoch, live_epoch, record_key
from vigil.core.records import CrowdSample
from vigil.storage.errors import StorageUnavailableError
from vigil.system.decisions import CrowdRecord, Decision, WriteResult, decode, encode
from vigil.system.outbox import Outbox
from vigil.system.spool import Spool, SpoolFullError, SpoolLockedError

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def crowd(i: int, camera: str = "cam-1") -> CrowdRecord:
    sample = CrowdSample(camera, T0 + timedelta(seconds=5 * i), float(i % 7), "boxes")
    return CrowdRecord(record_key(camera, "f:x:0", str(i), "crowd"), sample)


class Recorder:
    """Stands in for the DecisionWriter: records keys in order, or raises while ``down``."""

    def __init__(self) -> None:
        self.down = False
        self.keys: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, decision: Decision, *, retry_s: float | None = None) -> WriteResult:
        if self.down:
            raise StorageUnavailableError("database unreachable (test)")
        with self.lock:
            dup = decision.key in self.keys
            if not dup:
                self.keys.append(decision.key)
        return WriteResult(duplicate=dup)


def test_decisions_round_trip_through_their_json_line() -> None:
    d = crowd(3)
    line = encode(d)
    assert b"\n" not in line
    assert decode(line) == d
    with pytest.raises(ValueError):
        decode(b'{"kind": "crowd", "key": "k"}')  # missing sample: refused, not half-built


def test_keys_are_deterministic_and_epochs_say_which_stream(tmp_path: Path) -> None:
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x" * 10)
    assert file_epoch(video, 0) == file_epoch(video, 0) != file_epoch(video, 1)
    assert live_epoch(T0) != live_epoch(T0 + timedelta(microseconds=1))
    assert record_key("c", "e", "1", "face") != record_key("c", "e", "1", "crowd")
    with pytest.raises(ValueError, match="record kind"):
        record_key("c", "e", "1", "selfie")
    with pytest.raises(ValueError, match="camera id"):
        record_key("", "e", "1", "face")


def test_written_at_once_while_the_database_answers(tmp_path: Path) -> None:
    rec = Recorder()
    box = Outbox(rec, tmp_path / "spool", memory_items=4)
    result = box.submit(crowd(0))
    assert result is not None and not result.duplicate
    assert box.submit(crowd(0)) is not None and box.stats.duplicates == 1
    assert rec.keys == [crowd(0).key] and box.stats.written == 1


def test_an_outage_fills_memory_then_disk_and_replays_in_order(tmp_path: Path) -> None:
    rec = Recorder()
    box = Outbox(rec, tmp_path / "spool", memory_items=3, direct_retry_s=0)
    rec.down = True
    for i in range(10):
        assert box.submit(crowd(i)) is None
    snap = box.snapshot()
    assert snap["queued"] == 3 and snap["spool_items"] == 7 and snap["spool_bytes"] > 0
    assert not snap["database_up"]
    assert list((tmp_path / "spool").glob("*.spool"))
    rec.down = False
    assert box.submit(crowd(10)) is None  # the database is back, but others wait: queued after
    box.start()
    try:
        assert box.drain(10)
    finally:
        box.stop()
    assert rec.keys == [crowd(i).key for i in range(11)]
    assert box.stats.replayed == 11 and box.stats.spooled == 8
    assert not list((tmp_path / "spool").glob("*.spool")), "committed segments are deleted"


def test_a_full_spool_refuses_loudly_and_counts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()
    rec.down = True
    one = len(encode(crowd(0))) + 20
    box = Outbox(rec, tmp_path / "spool", memory_items=1, spool_max_bytes=3 * one)
    for i in range(8):
        box.submit(crowd(i))
    assert box.stats.refused > 0
    assert box.stats.refused + box.snapshot()["spool_items"] + 1 == 8  # nothing unaccounted
    assert "outbox spool full" in caplog.text


def test_a_killed_process_loses_nothing_spooled_and_stop_spills_memory(tmp_path: Path) -> None:
    rec = Recorder()
    rec.down = True
    first = Outbox(rec, tmp_path / "spool", memory_items=2, direct_retry_s=0)
    for i in range(6):
        first.submit(crowd(i))
    first.stop(timeout=0.2)  # memory (0, 1) goes to disk ahead of (2..5)
    killed = Outbox(rec, tmp_path / "spool", memory_items=2)
    for i in range(6, 9):
        killed.submit(crowd(i))  # to disk (the spool is not empty), then the process "dies":
    killed.spool.close()  # its files close; nothing is spilled, nothing more is written
    rec.down = False
    restarted = Outbox(rec, tmp_path / "spool", memory_items=2)
    restarted.start()
    try:
        assert restarted.drain(10)
    finally:
        restarted.stop()
    assert rec.keys == [crowd(i).key for i in range(9)]


def test_a_torn_last_record_is_skipped_and_counted(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1 << 20)
    spool.append(b"one")
    spool.append(b"two")
    spool.close()
    seg = next(tmp_path.glob("*.spool"))
    with seg.open("ab") as f:
        f.write(b"thr")  # a crash in the middle of an append
    again = Spool(tmp_path, max_bytes=1 << 20)
    got = []
    while (line := again.peek()) is not None:
        got.append(line)
        again.pop()
    assert got == [b"one", b"two"] and again.torn == 1
    assert not list(tmp_path.glob("*.spool")) and again.bytes == 0


def test_one_spool_directory_serves_one_outbox(tmp_path: Path) -> None:
    first = Outbox(Recorder(), tmp_path)
    with pytest.raises(SpoolLockedError, match="in use by another process"):
        Outbox(Recorder(), tmp_path)
    first.stop(timeout=0.1)
    Outbox(Recorder(), tmp_path).stop(timeout=0.1)  # released by the stop


def test_spool_refuses_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="positive"):
        Spool(tmp_path, max_bytes=0)
    spool = Spool(tmp_path, max_bytes=10)
    with pytest.raises(ValueError, match="newline"):
        spool.append(b"a\nb")
    with pytest.raises(SpoolFullError):
        spool.append(b"0123456789")
    with pytest.raises(IndexError):
        spool.pop()


@settings(max_examples=40, deadline=None)
@given(
    ops=st.lists(st.sampled_from(["submit", "down", "up", "replay", "restart"]), max_size=40),
    memory=st.integers(1, 4),
)
def test_any_outage_pattern_delivers_every_decision_once_in_order(
    ops: list[str], memory: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Whatever the sequence of outages, replays and restarts (with a stop before each), every
    submitted decision is recorded once, in submission order."""
    where = tmp_path_factory.mktemp("spool")
    rec = Recorder()
    box = Outbox(rec, where, memory_items=memory, direct_retry_s=0)
    n = 0
    for op in ops:
        if op == "submit":
            box.submit(crowd(n))
            n += 1
        elif op == "down":
            rec.down = True
        elif op == "up":
            rec.down = False
        elif op == "replay":  # the replay thread runs from now on (outages come and go)
            box.start()
            box.drain(0.3)
        else:
            box.stop(timeout=0.2)
            box = Outbox(rec, where, memory_items=memory, direct_retry_s=0)
    rec.down = False
    box.start()
    try:
        assert box.drain(10)
    finally:
        box.stop()
    assert rec.keys == [crowd(i).key for i in range(n)]


def test_a_record_that_no_longer_decodes_is_set_aside_not_lost(tmp_path: Path) -> None:
    """A spooled line an older release wrote in a shape this one can't read is neither replayed
    nor dropped: it is counted and kept, byte for byte, in the spool's undecodable file, and the
    records behind it are still delivered."""
    old = b'1767225600.0 {"kind":"face","key":"k-old","hits":[{"false_alert_rate":0.001}]}'
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
    spool.append(old)
    spool.append(b"1767225601.0 " + encode(crowd(1)))
    spool.close()
    rec = Recorder()
    box = Outbox(rec, tmp_path / "spool", memory_items=2)
    box.start()
    try:
        assert box.drain(10)
    finally:
        box.stop()
    assert rec.keys == [crowd(1).key]
    assert box.stats.failed == 1
    assert (tmp_path / "spool" / "undecodable.jsonl").read_bytes() == old + b"\n"
