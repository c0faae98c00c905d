"""The cluster scheduler's placement and rebalancing (pure: no Ray)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.cluster.scheduler import Move, loads, place, rebalance, skew, utilisation

costs_st = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=4), st.floats(0.05, 2.0), min_size=1, max_size=30
)
caps_st = st.dictionaries(
    st.sampled_from(["n1", "n2", "n3", "n4", "n5"]),
    st.sampled_from([1.0, 2.0, 4.0, 8.0, 16.0]),
    min_size=1,
)


def test_new_cameras_go_to_the_least_utilised_node_relative_to_its_size() -> None:
    capacity = {"big": 8.0, "small": 2.0}
    out = place({f"c{i}": 0.5 for i in range(10)}, capacity, {}, {})
    counts = {n: list(out.values()).count(n) for n in capacity}
    assert counts == {"big": 8, "small": 2}


def test_existing_cameras_count_and_cameras_on_gone_nodes_are_ignored() -> None:
    out = place({"new": 1.0}, {"a": 4.0, "b": 4.0}, {"x": "a", "y": "gone"}, {"x": 2.0, "y": 9.0})
    assert out == {"new": "b"}


def test_a_camera_that_fits_nowhere_still_runs_on_the_least_utilised_node() -> None:
    out = place({"huge": 10.0}, {"a": 4.0, "b": 2.0}, {}, {})
    assert out == {"huge": "a"}


def test_no_node_no_placement() -> None:
    assert place({"c": 1.0}, {}, {}, {}) == {}


def test_bad_numbers_are_refused_with_what_was_wrong() -> None:
    with pytest.raises(ValueError, match="capacities must be > 0"):
        place({"c": 1.0}, {"head": 0.0}, {}, {})
    with pytest.raises(ValueError, match="costs must be >= 0"):
        place({"c": float("nan")}, {"a": 1.0}, {}, {})
    with pytest.raises(ValueError, match="ratio must be >= 1"):
        rebalance({}, {"a": 1.0}, {}, ratio=0.5, max_moves=1)


def test_a_joining_node_takes_the_fewest_cameras_that_even_the_load() -> None:
    costs = {f"c{i}": 0.5 for i in range(8)}
    placement = dict.fromkeys(costs, "old")
    moves = rebalance(
        costs, {"old": 4.0, "new": 4.0}, placement, ratio=1.5, max_moves=10, reason="joined"
    )
    assert len(moves) == 4
    assert all(m.source == "old" and m.target == "new" and m.reason == "joined" for m in moves)


def test_frozen_cameras_stay_and_max_moves_is_respected() -> None:
    costs = {f"c{i}": 0.5 for i in range(8)}
    placement = dict.fromkeys(costs, "old")
    frozen = frozenset(f"c{i}" for i in range(7))
    moves = rebalance(
        costs, {"old": 4.0, "new": 4.0}, placement, ratio=1.5, max_moves=10, frozen=frozen
    )
    assert moves == [Move("c7", "old", "new", "skew")]
    assert len(rebalance(costs, {"old": 4.0, "new": 4.0}, placement, ratio=1.5, max_moves=2)) == 2


def test_skew_is_infinite_with_an_idle_node_and_one_when_all_are_idle() -> None:
    assert skew({"a": 0.5, "b": 0.0}) == float("inf")
    assert skew({"a": 0.0, "b": 0.0}) == 1.0
    assert skew({"a": 0.5}) == 1.0


@settings(max_examples=200, deadline=None)
@given(costs=costs_st, capacity=caps_st)
def test_placement_never_exceeds_capacity_when_the_cluster_has_twice_the_room(
    costs: dict[str, float], capacity: dict[str, float]
) -> None:
    # Greedy placement always fits when every camera is at most half the smallest node and
    # all of them together at most half the cluster (a camera that fits nowhere would mean
    # every node is over half full, more than the total cost).
    room = sum(capacity.values())
    fits = max(costs.values()) <= min(capacity.values()) / 2 and sum(costs.values()) <= room / 2
    out = place(costs, capacity, {}, {})
    assert set(out) == set(costs)  # every camera placed exactly once
    assert set(out.values()) <= set(capacity)
    if fits:
        for node, load in loads(costs, out, capacity).items():
            assert load <= capacity[node] + 1e-6, (node, load, capacity[node])


@settings(max_examples=200, deadline=None)
@given(costs=costs_st, capacity=caps_st, data=st.data(), ratio=st.floats(1.0, 3.0))
def test_rebalance_narrows_the_spread_moves_each_camera_once_and_keeps_every_camera(
    costs: dict[str, float], capacity: dict[str, float], data: st.DataObject, ratio: float
) -> None:
    nodes = sorted(capacity)
    placement = {c: data.draw(st.sampled_from(nodes)) for c in sorted(costs)}
    before = utilisation(costs, placement, capacity)
    moves = rebalance(costs, capacity, placement, ratio=ratio, max_moves=len(costs))
    moved = [m.camera_id for m in moves]
    assert len(moved) == len(set(moved)), "a camera was moved twice in one pass"
    after_placement = dict(placement)
    for m in moves:
        assert after_placement[m.camera_id] == m.source and m.source != m.target
        after_placement[m.camera_id] = m.target
    assert set(after_placement) == set(placement)  # nothing lost, nothing duplicated
    after = utilisation(costs, after_placement, capacity)
    assert max(after.values()) <= max(before.values()) + 1e-9
    assert min(after.values()) >= min(before.values()) - 1e-9
    assert skew(after) <= skew(before) + 1e-9
    if moves:
        assert skew(before) > ratio
    # Idempotent: a second pass, with the cameras just moved in their cool-down as the runner
    # keeps them, moves nothing; and a balanced cluster is left alone.
    again = rebalance(
        costs,
        capacity,
        after_placement,
        ratio=ratio,
        max_moves=len(costs),
        frozen=frozenset(moved),
    )
    assert again == []
    if skew(after) <= ratio:
        assert rebalance(costs, capacity, after_placement, ratio=ratio, max_moves=99) == []
