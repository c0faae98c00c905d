"""The pool's batching core: bounded queue, two priority classes, batches, statistics."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.cluster.batching import (
    MAX_CAMERAS,
    OTHER,
    BatchQueue,
    Dropped,
    Outcome,
    Priority,
    Ticket,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(capacity: int = 4, max_batch: int = 3, max_wait_s: float = 0.01) -> BatchQueue[int]:
    return BatchQueue(capacity, max_batch, max_wait_s, clock=Clock())


def test_a_batch_is_due_when_full_or_when_the_oldest_waited_long_enough() -> None:
    q = make(capacity=10, max_batch=3, max_wait_s=0.05)
    clock = q.clock
    assert isinstance(clock, Clock)
    q.submit("a", Priority.NORMAL, 1)
    assert q.take_ready() == []  # one request, no wait yet
    clock.now = 0.06
    batch = q.take_ready()
    assert [t.payload for t in batch] == [1]
    for i in range(4):
        q.submit("a", Priority.NORMAL, i)
    assert [t.payload for t in q.take_ready()] == [0, 1, 2]  # full batch at once
    assert len(q) == 1


def test_high_requests_go_first_then_arrival_order() -> None:
    q = make(capacity=10, max_batch=3, max_wait_s=0)
    q.submit("n1", Priority.NORMAL, 1)
    q.submit("h1", Priority.HIGH, 2)
    q.submit("n2", Priority.NORMAL, 3)
    q.submit("h2", Priority.HIGH, 4)
    assert [t.camera_id for t in q.take_ready()] == ["h1", "h2", "n1"]


def test_when_full_normal_is_refused_and_high_evicts_the_newest_normal() -> None:
    q = make(capacity=2, max_batch=2)
    first = q.submit("n1", Priority.NORMAL, 1)
    second = q.submit("n2", Priority.NORMAL, 2)
    refused = q.submit("n3", Priority.NORMAL, 3)
    assert refused.outcome is Outcome.DROPPED
    with pytest.raises(Dropped):
        refused.wait(0)
    high = q.submit("h", Priority.HIGH, 4)
    assert high.outcome is Outcome.QUEUED
    assert second.outcome is Outcome.DROPPED and first.outcome is Outcome.QUEUED
    q.submit("h2", Priority.HIGH, 5)  # evicts n1
    assert first.outcome is Outcome.DROPPED
    lost = q.submit("h3", Priority.HIGH, 6)  # only highs queued: refused
    assert lost.outcome is Outcome.DROPPED
    snap = q.snapshot()
    assert snap["drops"] == {
        "n1": {"normal": 1, "high": 0},
        "n2": {"normal": 1, "high": 0},
        "n3": {"normal": 1, "high": 0},
        "h3": {"normal": 0, "high": 1},
    }
    assert snap["queue_depth"] == 2 and snap["dropped"] == 4


def test_answers_failures_and_statistics() -> None:
    q = make(capacity=8, max_batch=4, max_wait_s=0)
    tickets = [q.submit("a", Priority.NORMAL, i) for i in range(3)]
    batch = q.take_ready()
    q.complete(batch, [i * 10 for i in range(3)])
    assert [t.wait(0) for t in tickets] == [0, 10, 20]
    bad = q.submit("b", Priority.HIGH, 9)
    q.fail(q.take_ready(), RuntimeError("model broke"))
    with pytest.raises(RuntimeError, match="model broke"):
        bad.wait(0)
    snap = q.snapshot()
    assert snap["answered"] == 3 and snap["failed"] == 1 and snap["batches"] == 2
    assert snap["batch_sizes"] == {"3": 1, "1": 1} and snap["mean_batch"] == 2.0
    assert set(snap["wait_ms"]) == {"p50", "p90", "p99"}


def test_a_result_count_that_does_not_match_fails_the_batch_loudly() -> None:
    q = make(max_wait_s=0)
    t = q.submit("a", Priority.NORMAL, 1)
    q.complete(q.take_ready(), [])
    with pytest.raises(RuntimeError, match="0 results for 1 requests"):
        t.wait(0)


def test_close_drops_what_is_queued_and_refuses_more() -> None:
    q = make()
    t = q.submit("a", Priority.NORMAL, 1)
    q.close()
    assert t.outcome is Outcome.DROPPED
    with pytest.raises(RuntimeError, match="closed"):
        q.submit("a", Priority.NORMAL, 2)


@pytest.mark.parametrize(("capacity", "batch", "wait"), [(0, 1, 0), (1, 0, 0), (1, 1, -1)])
def test_bad_bounds_are_refused(capacity: int, batch: int, wait: float) -> None:
    with pytest.raises(ValueError, match="capacity >= 1"):
        BatchQueue(capacity, batch, wait)


def test_drop_counters_stay_bounded_over_many_cameras() -> None:
    q = make(capacity=1, max_batch=1)
    q.submit("keep", Priority.HIGH, 0)
    for i in range(MAX_CAMERAS + 50):
        q.submit(f"cam-{i}", Priority.NORMAL, i)
    drops = q.snapshot()["drops"]
    assert len(drops) == MAX_CAMERAS + 1
    assert drops[OTHER]["normal"] == 50


def test_take_blocks_until_a_batch_is_due_from_another_thread() -> None:
    q: BatchQueue[int] = BatchQueue(8, 2, 5.0)
    got: list[list[Ticket[int]]] = []
    worker = threading.Thread(target=lambda: got.append(q.take(timeout=10)))
    worker.start()
    q.submit("a", Priority.NORMAL, 1)
    q.submit("b", Priority.NORMAL, 2)  # fills the batch long before max_wait
    worker.join(10)
    assert [t.payload for t in got[0]] == [1, 2]


# One operation: submit (camera index, priority), advance the clock, or serve a due batch.
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), st.integers(0, 5), st.sampled_from(list(Priority))),
        st.tuples(st.just("tick"), st.floats(0, 0.05), st.just(Priority.NORMAL)),
        st.tuples(st.just("serve"), st.just(0), st.just(Priority.NORMAL)),
    ),
    max_size=200,
)


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(1, 6),
    max_batch=st.integers(1, 4),
    max_wait=st.floats(0, 0.03),
    ops=OPS,
)
def test_no_request_is_lost_and_the_priority_rules_hold(
    capacity: int, max_batch: int, max_wait: float, ops: list[tuple[str, float, Priority]]
) -> None:
    clock = Clock()
    q: BatchQueue[int] = BatchQueue(capacity, max_batch, max_wait, clock=clock)
    tickets: list[Ticket[int]] = []
    for kind, arg, prio in ops:
        if kind == "submit":
            normals_before = sum(
                1 for t in tickets if t.outcome is Outcome.QUEUED and t.priority is Priority.NORMAL
            )
            t = q.submit(f"cam-{int(arg)}", prio, len(tickets))
            tickets.append(t)
            if prio is Priority.HIGH and normals_before:  # never refused while a normal waits
                assert t.outcome is Outcome.QUEUED
        elif kind == "tick":
            clock.now += arg
        else:
            batch = q.take_ready()
            assert len(batch) <= max_batch
            q.complete(batch, [t.payload for t in batch])
        assert len(q) <= capacity  # bounded memory
    q.close()
    # Every request ended answered (with its own payload) or dropped and counted.
    answered = [t for t in tickets if t.outcome is Outcome.ANSWERED]
    dropped = [t for t in tickets if t.outcome is Outcome.DROPPED]
    assert len(answered) + len(dropped) == len(tickets)
    assert all(t.result == t.payload for t in answered)
    snap = q.snapshot()
    assert snap["dropped"] == len(dropped) and snap["answered"] == len(answered)
    assert snap["submitted"] == len(tickets)
    per_camera = {cam: counts["normal"] + counts["high"] for cam, counts in snap["drops"].items()}
    for cam, n in per_camera.items():
        assert n == sum(1 for t in dropped if t.camera_id == cam)
