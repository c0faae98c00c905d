"""Line crossings stored over time: bucketing, the exactly-once write through the decision
writer on both engines, the record's outbox codec, and the chart route (buckets, bad input)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.api_env import Env
from vigil.analytics.crossings import bucket_crossings, bucket_start
from vigil.analytics.zones import LineCrossing
from vigil.api.routes.console_data import crossing_series_of
from vigil.core.domain import Role
from vigil.core.keys import record_key
from vigil.core.records import CrossingCount
from vigil.errors import ValidationError
from vigil.storage import Repository
from vigil.storage.console import ConsoleStore
from vigil.system.decisions import CrossingRecord, DecisionWriter, decode, encode

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

crossing = st.builds(
    LineCrossing,
    line=st.sampled_from(["mid", "door"]),
    track_id=st.integers(1, 50),
    direction=st.sampled_from(["in", "out"]),
    at=st.integers(0, 7200).map(lambda s: T0 + timedelta(seconds=s, microseconds=137)),
)


@given(st.lists(crossing, max_size=80), st.sampled_from([1, 60, 900]))
def test_bucket_totals_equal_the_crossing_events(events: list[LineCrossing], size: int) -> None:
    counts = bucket_crossings("cam", events, size)
    assert sum(c.count for c in counts) == len(events)
    keys = [(c.bucket_start, c.line, c.direction) for c in counts]
    assert keys == sorted(set(keys))  # one row per bucket, line and direction
    for c in counts:
        assert c.bucket_start.timestamp() % size == 0
        inside = [
            e
            for e in events
            if (e.line, e.direction) == (c.line, c.direction)
            and c.bucket_start <= e.at < c.bucket_start + timedelta(seconds=size)
        ]
        assert len(inside) == c.count


def test_bucket_edges_and_bad_times() -> None:
    assert bucket_start(T0 + timedelta(seconds=59.999)) == T0
    assert bucket_start(T0 + timedelta(seconds=60)) == T0 + timedelta(minutes=1)
    with pytest.raises(ValueError, match="timezone"):
        bucket_start(datetime(2026, 12, 1))
    with pytest.raises(ValueError, match="bucket_s"):
        bucket_start(T0, 0)
    with pytest.raises(ValidationError):
        CrossingCount("cam", "mid", "sideways", T0, 1)
    with pytest.raises(ValidationError):
        CrossingCount("cam", "mid", "in", T0, 0)


def _record(i: int, *, line: str = "mid", n: int = 1) -> CrossingRecord:
    key = record_key("cam-1", "f:ab:0", str(i), "crossings")
    return CrossingRecord(key, (CrossingCount("cam-1", line, "in", T0, n),))


def test_a_record_survives_the_outbox_codec() -> None:
    rec = CrossingRecord(
        _record(1).key,
        (CrossingCount("cam-1", "mid", "in", T0, 2), CrossingCount("cam-1", "mid", "out", T0, 1)),
    )
    assert decode(encode(rec)) == rec
    with pytest.raises(ValueError, match="one camera"):
        CrossingRecord(
            "k", (CrossingCount("a", "l", "in", T0, 1), CrossingCount("b", "l", "in", T0, 1))
        )


def test_records_add_to_their_bucket_exactly_once(repo: Repository) -> None:
    write = DecisionWriter(repo)
    first = write(_record(1, n=2))
    assert not first.duplicate
    assert write(_record(1, n=2)).duplicate  # a replay (lost ack, outbox spool) adds nothing
    write(_record(2, n=3))  # another frame, same minute: added to the same row
    write(_record(3, line="door"))
    rows, more = ConsoleStore(repo.db).crossing_window(
        "cam-1", None, T0 - timedelta(hours=1), T0 + timedelta(hours=1)
    )
    assert not more
    assert sorted(rows) == [("door", "in", T0, 1), ("mid", "in", T0, 5)]
    only, _ = ConsoleStore(repo.db).crossing_window("cam-1", "door", T0, T0 + timedelta(minutes=1))
    assert only == [("door", "in", T0, 1)]
    assert ConsoleStore(repo.db).crossing_lines("cam-1") == ["door", "mid"]


@given(st.lists(st.tuples(st.integers(0, 3599), st.integers(1, 9)), max_size=60))
def test_chart_buckets_keep_every_crossing(rows: list[tuple[int, int]]) -> None:
    stored = [("mid", "in" if s % 2 else "out", T0 + timedelta(seconds=s), n) for s, n in rows]
    series = crossing_series_of(stored, T0, 900)
    assert sum(s.total for s in series) == sum(n for _, n in rows)
    for s in series:
        assert s.total == sum(p.count for p in s.points)
        assert [p.at for p in s.points] == sorted({p.at for p in s.points})


def test_the_route_charts_the_stored_buckets_per_direction(env: Env) -> None:
    now = datetime.now(UTC)
    counts = [
        CrossingCount("cam-1", "mid", d, bucket_start(now - timedelta(minutes=m)), m + 1)
        for m in range(5)
        for d in ("in", "out")
    ]
    env.repo.add_crossing_counts(counts)
    c = env.client(Role.OPERATOR)
    r = c.get("/api/v1/cameras/cam-1/crossings/series?window=1h")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["bucket_s"] == 60 and doc["lines"] == ["mid"]
    assert {(s["line"], s["direction"], s["total"]) for s in doc["series"]} == {
        ("mid", "in", 15),
        ("mid", "out", 15),
    }
    none = c.get("/api/v1/cameras/cam-1/crossings/series", params={"line": "door"}).json()
    assert none["series"] == []
    assert c.get("/api/v1/cameras/nope/crossings/series").status_code == 404


@pytest.mark.parametrize(
    "query",
    ["window=2d", "until=2026-12-01T00:00:00", "line=" + "x" * 101, "line="],
)
def test_bad_crossing_queries_get_the_envelope(env: Env, query: str) -> None:
    r = env.client(Role.OPERATOR).get(f"/api/v1/cameras/cam-1/crossings/series?{query}")
    assert r.status_code == 422, r.text
    assert set(r.json()) == {"error"}
