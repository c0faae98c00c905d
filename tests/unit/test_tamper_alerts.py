"""Tamper changes → tamper alerts, with fakes: pairing of raised and cleared, bounded state, a
full queue that drops and counts, a failing database or sink that never stops capture."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import numpy as np

from vigil.core.records import Alert, AlertKind, AlertStatus
from vigil.errors import ConflictError
from vigil.sources import CameraWorker, DecodeCounters, RawFrame, SourceSpec
from vigil.sources.status import TamperChange, TamperSignal
from vigil.system.tamper_alerts import TamperAlerter

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
T = TypeVar("T")


class FakeRepo:
    """The repository calls the alerter makes, in memory; optionally failing. It is its own
    ``db`` (a unit of work just runs the function: nothing to roll back in memory)."""

    def __init__(self, fail: int = 0) -> None:
        self.alerts: dict[str, Alert] = {}
        self.fail = fail
        self.keys: set[str] = set()
        self.db = self

    def unit(self, fn: Callable[[], T], *, retry_s: float | None = None) -> T:
        return fn()

    def claim_record_key(self, key: str, kind: str, camera_id: str, at: datetime) -> bool:
        new = key not in self.keys
        self.keys.add(key)
        return new

    def add_alert(self, alert: Alert) -> bool:
        if self.fail:
            self.fail -= 1
            raise OSError("database is locked")
        self.alerts[alert.id] = alert
        return True

    def list_alerts(
        self,
        *,
        status: AlertStatus | None = None,
        kind: AlertKind | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        found = [
            a
            for a in self.alerts.values()
            if (status is None or a.status is status)
            and (kind is None or a.kind is kind)
            and (until is None or a.raised_at < until)
        ]
        return found[:limit]

    def transition_alert(self, alert_id: str, expected: AlertStatus, new: AlertStatus) -> None:
        a = self.alerts[alert_id]
        if a.status is not expected:
            raise ConflictError(f"alert {alert_id} is {a.status}")
        self.alerts[alert_id] = Alert(**{**{f: getattr(a, f) for f in a.__slots__}, "status": new})  # type: ignore[attr-defined]


def change(cam: str, signal: TamperSignal, raised: bool, s: float) -> TamperChange:
    at = T0 + timedelta(seconds=s)
    return TamperChange(cam, signal, raised, at, at - timedelta(seconds=0 if raised else 7))


def test_raised_then_cleared_pairs_up_and_state_stays_bounded() -> None:
    repo = FakeRepo()
    alerter = TamperAlerter(repo)  # type: ignore[arg-type]
    for k in range(200):
        for cam in ("a", "b", "c"):
            for signal in TamperSignal:
                alerter.handle(change(cam, signal, True, k * 20))
        assert len(alerter._open) == 9  # one per camera and signal, never more
        for cam in ("a", "b", "c"):
            for signal in TamperSignal:
                alerter.handle(change(cam, signal, False, k * 20 + 10))
        assert alerter._open == {}
    assert alerter.stats.raised == alerter.stats.cleared == 1800
    raised = [a for a in repo.alerts.values() if a.score == 1.0]
    cleared = [a for a in repo.alerts.values() if a.score == 0.0]
    assert all(a.kind is AlertKind.TAMPER for a in repo.alerts.values())
    assert all(a.status is AlertStatus.EXPIRED for a in raised + cleared)  # all cleared
    last = cleared[-1]
    words = TamperChange.parse_detail(last.detail)
    assert words["phase"] == "cleared" and words["lasted_s"] == "7.0"
    assert repo.alerts[words["raised_alert"]].camera_id == last.camera_id


def test_open_alert_stays_actionable_and_clear_without_raise_is_stored() -> None:
    repo = FakeRepo()
    alerter = TamperAlerter(repo)  # type: ignore[arg-type]
    a = alerter.handle(change("a", TamperSignal.BLACK, True, 0))
    assert a is not None and repo.alerts[a.id].status is AlertStatus.ACTIONABLE
    orphan = alerter.handle(change("b", TamperSignal.FROZEN, False, 1))  # raised before start
    assert orphan is not None and "raised_alert" not in orphan.detail
    assert repo.alerts[a.id].status is AlertStatus.ACTIONABLE


def test_full_queue_drops_and_counts_instead_of_blocking() -> None:
    alerter = TamperAlerter(FakeRepo(), maxsize=2)  # type: ignore[arg-type]
    for s in range(5):  # writer not started: nothing drains
        alerter.submit(change("a", TamperSignal.BLACK, s % 2 == 0, s))
    assert alerter.stats.dropped == 3


def test_database_failure_is_counted_and_writer_keeps_going() -> None:
    repo = FakeRepo(fail=1)
    alerter = TamperAlerter(repo)  # type: ignore[arg-type]
    alerter.start()
    alerter.submit(change("a", TamperSignal.BLACK, True, 0))
    alerter.submit(change("a", TamperSignal.FROZEN, True, 1))
    alerter.stop()
    assert alerter.stats.failures == 1 and alerter.stats.raised == 1
    assert [a.detail for a in repo.alerts.values()] == ["signal=frozen phase=raised"]


class BlackThenNoise:
    """A file-like fake source: 10 s of black frames, then 10 s of noise, at 2 fps."""

    def __init__(self, spec: SourceSpec) -> None:
        self.spec = spec
        self.counters = DecodeCounters()

    def frames(self, stop: threading.Event) -> Iterator[RawFrame]:
        rng = np.random.default_rng(0)
        for i in range(40):
            if i < 20:
                image = np.zeros((48, 64, 3), np.uint8)
            else:
                image = rng.integers(60, 200, (48, 64, 3), dtype=np.uint8)
            yield RawFrame(image, i * 0.5, True, 1)


def test_failing_sink_never_stops_capture() -> None:
    calls: list[TamperChange] = []

    def sink(c: TamperChange) -> None:
        calls.append(c)
        raise RuntimeError("sink broken")

    spec = SourceSpec("cam", "/x.mp4", "file", fps=2.0)
    worker = CameraWorker(spec, source_factory=BlackThenNoise, on_tamper=sink)
    worker.start()
    assert worker.join(5.0)
    assert worker.finished and not worker.failed and worker.frames == 40
    assert worker.tamper_sink_failures == len(calls)
    # black and frozen raised after the 5 s hold (on capture time), cleared once noise is back
    for signal in (TamperSignal.BLACK, TamperSignal.FROZEN):
        assert [c.phase for c in calls if c.signal is signal] == ["raised", "cleared"]
    assert TamperSignal.BLACK not in worker.snapshot().tamper


def test_alerts_left_open_by_a_previous_run_are_closed_at_start() -> None:
    repo = FakeRepo()
    before = TamperAlerter(repo)  # type: ignore[arg-type]
    before.handle(change("a", TamperSignal.BLACK, True, 0))  # open when the process "died"
    before.handle(change("b", TamperSignal.FROZEN, True, 1))
    before.handle(change("b", TamperSignal.FROZEN, False, 5))  # this one was cleared
    face = Alert(
        id="face-1",
        kind=AlertKind.FACE_MATCH,
        camera_id="a",
        raised_at=T0,
        score=0.9,
        status=AlertStatus.ACTIONABLE,
        deployment_id="d",
        subject_id="s",
        false_alert_rate=0.001,
    )
    repo.alerts[face.id] = face
    (open_id,) = [
        a.id
        for a in repo.alerts.values()
        if a.kind is AlertKind.TAMPER and a.status is AlertStatus.ACTIONABLE
    ]

    after = TamperAlerter(repo)  # type: ignore[arg-type]  # a new process: empty memory
    closed = after.close_stale(T0 + timedelta(minutes=5))
    assert [TamperChange.parse_detail(c.detail) for c in closed] == [
        {
            "signal": "black",
            "phase": "cleared",
            "reason": "monitoring_restarted",
            "raised_alert": open_id,
        }
    ]
    assert repo.alerts[open_id].status is AlertStatus.EXPIRED
    assert repo.alerts["face-1"].status is AlertStatus.ACTIONABLE  # only tamper alerts
    assert after.close_stale(T0 + timedelta(minutes=6)) == []  # nothing left: idempotent
    after.start()  # start does the same, and a database that fails there is counted
    after.stop()
    assert after.stats.failures == 0
