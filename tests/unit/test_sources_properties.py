"""Property tests of the ingestion invariants: backoff bounds, queue boundedness, monotonic
capture times and sampler spacing, for any input hypothesis can think of."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.sources import Backoff, DropOldestQueue, Sampler, TimestampMapper


@given(
    base=st.floats(0.01, 10),
    factor=st.floats(1, 100),
    attempts=st.integers(1, 200),
    seed=st.integers(0, 2**32),
)
def test_backoff_delays_stay_within_bounds(
    base: float, factor: float, attempts: int, seed: int
) -> None:
    cap = base * factor
    b = Backoff(base, cap, rng=random.Random(seed))
    for i in range(attempts):
        delay = b.next()
        assert min(base / 2, cap) <= delay <= min(cap, base * 2**i) + 1e-9


@given(
    maxsize=st.integers(1, 16),
    ops=st.lists(st.sampled_from(["put", "get"]), max_size=300),
)
def test_queue_never_exceeds_maxsize_and_accounts_for_every_item(
    maxsize: int, ops: list[str]
) -> None:
    q: DropOldestQueue[int] = DropOldestQueue(maxsize)
    got = []
    for i, op in enumerate(ops):
        if op == "put":
            q.put(i)
        else:
            item = q.get(0)
            if item is not None:
                got.append(item)
        assert len(q) <= maxsize
    assert q.put_count == len(got) + len(q) + q.dropped
    assert got == sorted(got)  # FIFO among survivors


events = st.lists(
    st.tuples(
        st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False)),
        st.integers(0, 3),
        st.floats(-100, 100, allow_nan=False),
    ),
    max_size=200,
)


@given(live=st.booleans(), seq=events)
def test_capture_times_strictly_increase_whatever_the_stream_does(
    live: bool, seq: list[tuple[float | None, int, float]]
) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    mapper = TimestampMapper(live=live, clock=lambda: now[0])
    last = None
    for media, segment, clock_step in seq:
        now[0] += timedelta(seconds=clock_step)  # the wall clock may even step back
        t = mapper.map(media, segment)
        assert t.tzinfo is not None
        if last is not None:
            assert t > last
        last = t


@settings(max_examples=50)
@given(
    fps=st.floats(0.2, 30),
    src_fps=st.floats(1, 60),
    seconds=st.floats(1, 60),
)
def test_sampler_spacing_and_rate(fps: float, src_fps: float, seconds: float) -> None:
    s = Sampler(fps)
    times = [i / src_fps for i in range(int(seconds * src_fps))]
    picked = [t for t in times if s.due(t)]
    # The schedule keeps the average rate (a frame may come early when the source's frames do
    # not line up with the slots) but never bursts: any window of one interval holds at most 2.
    interval = 1.0 / fps
    for i, t in enumerate(picked):
        assert sum(1 for u in picked[i:] if u < t + interval * 0.89) <= 2
    assert len(picked) <= fps * seconds * 1.1 + 1
    assert len(picked) >= min(fps, src_fps) * seconds * 0.5 - 1
