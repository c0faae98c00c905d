"""The held-out check's verdicts and the refusal rule of ``vigil calibrate``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.errors import ValidationError
from vigil.eval import far, protocols
from vigil.eval.metrics import Rate
from vigil.identification.calibration import RateEstimate


def _result(realised_k: int, bound: float = 0.002) -> far.CheckResult:
    row = far.CheckRow("shipped threshold", 0.54, RateEstimate(0.001, bound, 6, 10**7),
                       Rate(realised_k, 3000))  # fmt: skip
    return far.CheckResult("split seed 0", 1000, 1, 3000, (row,))


def test_a_held_out_rate_above_the_bound_is_refused_unless_forced_with_a_reason() -> None:
    far.refuse_unless_forced(_result(3), force=False, reason="")  # 0.001 <= 0.002: fine
    with pytest.raises(ValidationError, match="exceeds the bound") as err:
        far.refuse_unless_forced(_result(9), force=False, reason="")  # 0.003 > 0.002
    assert "--force" in str(err.value.hint)
    with pytest.raises(ValidationError, match="--reason"):
        far.refuse_unless_forced(_result(9), force=True, reason=" ")
    far.refuse_unless_forced(_result(9), force=True, reason="local data says otherwise")


def test_summary_states_the_verdicts_it_measured() -> None:
    doc = far.summary_json([_result(3), _result(9)])
    assert doc["bound_holds_at_shipped_threshold"] is False
    assert doc["point_over_realised_at_shipped_threshold"] == pytest.approx([1.0, 1 / 3])
    assert doc["point_within_2x_of_realised_at_shipped_threshold"] is False
    assert "| shipped threshold 0.5400 |" in far.summary_markdown([_result(3)])


@settings(max_examples=40, deadline=None)
@given(
    cap=st.integers(1, 4),
    seed=st.integers(0, 1000),
    sizes=st.lists(st.integers(1, 9), min_size=3, max_size=12),
)
def test_capping_keeps_at_most_cap_searches_per_person(
    cap: int, seed: int, sizes: list[int]
) -> None:
    identities = [f"p{i}" for i, n in enumerate(sizes) for _ in range(n)]
    proto = protocols.build_open_set(identities, watchlist_size=1, seed=seed, min_images=1)
    capped = far.cap_probes(proto, identities, cap, seed)
    for images in (capped.nonmated, capped.mated):
        names = [identities[i] for i in images.tolist()]
        assert all(names.count(n) <= cap for n in set(names))
    assert set(capped.nonmated.tolist()) <= set(proto.nonmated.tolist())
    people = {identities[i] for i in proto.nonmated.tolist()}
    assert {identities[i] for i in capped.nonmated.tolist()} == people  # nobody dropped
    assert np.array_equal(capped.gallery, proto.gallery)
