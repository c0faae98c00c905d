"""Issue 22's closing measurement: the displayed bound on people never seen (slow).

`vigil eval far` on five identity-disjoint splits of the shared LFW, N = 1,000, one photo each,
both protocols: one search per person, and every image searched (clustered by person: the
identity-cluster bound is what makes it hold, docs/false-alert-rates.md). Gates in
face_targets.json; the point-over-realised gate (single random watchlist) is for one search per
person only (with every image searched one 530-photo person decides a split;
docs/false-alert-rates.md, 2a); the point-over-averaged gate (the realised rate averaged over
every watchlist, section 2b) is for both.

The single-draw floor was 0.4 while the curve's quantile grid over-counted at counts of 1-3.
With the exact tail (issue 22, 5 Dec) seeds 0-4 split 3 reads 0.2498: its fit half holds one
comparison at the threshold, and that one watchlist realised 4 false alerts where 1.9 are
expected over all watchlists. The single-draw floor is now 0.2 (it catches a fivefold
under-prediction against one random watchlist); the gate that judges the point is the averaged
one, which stays at 0.4.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.models]
TARGETS = json.loads((Path(__file__).with_name("face_targets.json")).read_text())


@pytest.mark.parametrize("probes", [["--probes-per-person", "1"], []], ids=["one", "every"])
def test_displayed_bound_holds_on_held_out_people_in_every_split(
    lfw_dir: Path, tmp_path: Path, probes: list[str]
) -> None:
    out = tmp_path / "far.json"
    args = ["eval", "far", "--lfw-dir", str(lfw_dir), "--splits", "5", *probes]
    proc = subprocess.run(
        [sys.executable, "-m", "vigil", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
        timeout=7200,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    assert len(doc["checks"]) == 5
    assert doc["bound_holds_at_shipped_threshold"] is TARGETS["far_bound_holds_at_shipped"]
    # against the realised rate averaged over every watchlist (no draw-to-draw noise), in both
    # protocols, every split defined
    averaged = doc["point_over_averaged_at_shipped_threshold"]
    assert doc["averaged_checks"] == len(averaged) == 5
    assert min(averaged) >= TARGETS["far_point_over_averaged_min"]
    if probes:
        ratios = doc["point_over_realised_at_shipped_threshold"]
        assert min(ratios) >= TARGETS["far_point_over_realised_min"]
