"""Where camera actors should run: placement and rebalancing by measured cost, without Ray.

The runner (:mod:`vigil.cluster.runner`) feeds this module plain numbers (each node's CPU
capacity, each camera's cost in CPU cores, where each camera runs now) and acts on the answer
through Ray; keeping the decisions pure lets them be unit- and property-tested without a cluster.

Cost is a camera's measured CPU use in cores (its actor process's CPU seconds per wall second,
smoothed; a configured prior before the first measurement), and a node's *utilisation* is the
sum of its cameras' costs over its CPU capacity, so a node with twice the cores takes twice the
cameras.

* :func:`place` puts new cameras one by one, the most expensive first, on the node whose
  utilisation after the placement is lowest among those where the camera still fits; when it
  fits nowhere, on the least utilised node (overcommitted) rather than not at
  all: a camera that runs slowly drops and counts frames, a camera that is not started sees
  nothing.
* :func:`rebalance` moves single cameras from the most to the least utilised node while the
  spread between them is beyond ``ratio`` and a move lowers the larger of the two without
  taking the source below the old minimum; each move strictly lowers the pair's maximum, so the
  loop ends, the max/min ratio never grows, and a camera moves at most once per pass. Across
  passes the runner adds hysteresis: a skew must last a while, and a moved camera is not moved
  again for a cool-down.

The trade-off: greedy placement is not optimal bin packing (which is NP-hard), but it is
predictable, moves nothing that runs, and fits everything whenever the cluster has at least
twice the room the cameras need (proved by the property tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

EPS = 1e-9


@dataclass(frozen=True)
class Move:
    """One camera to stop on ``source`` and start on ``target``, and why."""

    camera_id: str
    source: str
    target: str
    reason: str


def _check(costs: Mapping[str, float], capacity: Mapping[str, float]) -> None:
    bad_cost = {c: v for c, v in costs.items() if not v >= 0}
    if bad_cost:
        raise ValueError(f"camera costs must be >= 0 cores, got {bad_cost}")
    bad_cap = {n: v for n, v in capacity.items() if not v > 0}
    if bad_cap:
        raise ValueError(f"node capacities must be > 0 CPUs, got {bad_cap}")


def loads(
    costs: Mapping[str, float], placement: Mapping[str, str], capacity: Mapping[str, float]
) -> dict[str, float]:
    """CPU cores used on every node of ``capacity`` by the cameras placed there."""
    out = dict.fromkeys(capacity, 0.0)
    for cam, node in placement.items():
        if node in out:
            out[node] += costs.get(cam, 0.0)
    return out


def utilisation(
    costs: Mapping[str, float], placement: Mapping[str, str], capacity: Mapping[str, float]
) -> dict[str, float]:
    """Load over capacity per node (1.0: every core busy)."""
    return {n: v / capacity[n] for n, v in loads(costs, placement, capacity).items()}


def skew(util: Mapping[str, float]) -> float:
    """Most over least utilised node (1.0: even; infinite when one node is idle and one is not)."""
    if len(util) < 2:
        return 1.0
    hi, lo = max(util.values()), min(util.values())
    if hi <= EPS:
        return 1.0
    return hi / lo if lo > EPS else float("inf")


def place(
    new: Mapping[str, float],
    capacity: Mapping[str, float],
    placement: Mapping[str, str],
    costs: Mapping[str, float],
) -> dict[str, str]:
    """Nodes for the cameras in ``new`` (id -> cost), given where the others run.

    ``placement`` and ``costs`` describe the cameras already running (those on nodes not in
    ``capacity`` are ignored: their node is gone). Returns camera -> node for every new camera;
    empty when there is no node.
    """
    _check(new, capacity)
    _check(costs, capacity)
    if not capacity:
        return {}
    load = loads(costs, placement, capacity)
    out: dict[str, str] = {}
    for cam in sorted(new, key=lambda c: (-new[c], c)):  # the most expensive first, then by id
        cost = new[cam]
        fits = [n for n in capacity if load[n] + cost <= capacity[n] + EPS]
        pool = fits or list(capacity)
        node = min(pool, key=lambda n: ((load[n] + cost) / capacity[n], n))
        out[cam] = node
        load[node] += cost
    return out


def rebalance(
    costs: Mapping[str, float],
    capacity: Mapping[str, float],
    placement: Mapping[str, str],
    *,
    ratio: float,
    max_moves: int,
    frozen: frozenset[str] = frozenset(),
    reason: str = "skew",
) -> list[Move]:
    """The fewest single-camera moves (at most ``max_moves``) that even the load out.

    While the most utilised node is more than ``ratio`` times as busy as the least, move the
    camera from the former to the latter that lowers the larger of their two utilisations the
    most; stop when no camera does. ``frozen`` cameras (moved a moment ago) stay where they are.
    Returns nothing when the load is already within ``ratio`` (so a balanced cluster is left
    alone).
    """
    if ratio < 1:
        raise ValueError(f"ratio must be >= 1, got {ratio}")
    _check(costs, capacity)
    where = {c: n for c, n in placement.items() if n in capacity}
    util = utilisation(costs, where, capacity)
    moves: list[Move] = []
    stay = set(frozen)  # a camera moves at most once per pass (no hop n1 -> n3 -> n2)
    while len(moves) < max_moves and skew(util) > ratio:
        hot = max(util, key=lambda n: (util[n], n))
        cold = min(util, key=lambda n: (util[n], n))
        best: tuple[float, str] | None = None
        for cam, node in sorted(where.items()):
            if node != hot or cam in stay or costs.get(cam, 0.0) <= EPS:
                continue
            cost = costs[cam]
            left = util[hot] - cost / capacity[hot]
            after = max(left, util[cold] + cost / capacity[cold])
            # Lower the pair's maximum without taking the source below the old minimum: the
            # cluster's max never rises and its min never falls, so the spread only narrows.
            if (
                after < util[hot] - EPS
                and left >= util[cold] - EPS
                and (best is None or after < best[0])
            ):
                best = (after, cam)
        if best is None:
            break
        cam = best[1]
        cost = costs[cam]
        util[hot] -= cost / capacity[hot]
        util[cold] += cost / capacity[cold]
        where[cam] = cold
        stay.add(cam)
        moves.append(Move(cam, hot, cold, reason))
    return moves
