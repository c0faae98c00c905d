"""Rebuild the packaged calibration's curves at its own threshold, and say how its rates moved.

``vigil calibrate --target-fpir 0.001 --watchlist-size 1000`` no longer writes a file on LFW
(the clustered bound for 1,000 people cannot reach 1e-3; docs/false-alert-rates.md, section
1a), and the packaged default keeps its threshold 0.541261 with the watchlist-size cap carrying
the target. So when the way a curve is measured changes, the packaged file is rebuilt the way
``vigil calibrate`` measures it, keeping everything else (threshold, target, expected TPIR,
fit holdout, cascade band):

* ``fmr_curve``: :func:`vigil.eval.clustered.nonmated_curve` on the calibration protocol
  (seed 0, default aliases, N = 1,000 people with >= 2 photos), as
  :func:`vigil.eval.faces.run_calibration` measures it;
* ``person_curves``: :func:`vigil.eval.faces.person_curves` (2 and 3 photos, 500 people);
* ``validation``: the held-out check ``vigil calibrate`` runs before writing (seed 0, one
  search per person, target 1e-3), at the kept threshold.

It prints the point and bound for 1,000 people, the watchlist-size caps at 1e-3 and
``threshold_for(1e-3, P)`` before and after::

    PYTHONPATH=src python -m bench.rebuild_calibration \\
        --lfw-dir ../shared/data/lfw/lfw-deepfunneled [--write]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from vigil.errors import ValidationError
from vigil.identification.calibration import FalseAlertModel

PACKAGED = Path(__file__).resolve().parents[1] / "src/vigil/identification/data"
FILE = PACKAGED / "faces-default-calibration.json"


def figures(doc: dict[str, object]) -> dict[str, object]:
    """The packaged file's policy numbers at its threshold (what the docs tabulate)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cal.json"
        path.write_text(json.dumps(doc))
        model = FalseAlertModel.from_file(path)
    t = float(doc["threshold"])  # type: ignore[arg-type]
    rate = model.fpir(t, 1000)

    def thr(p: int) -> float | str:
        try:
            return round(model.threshold_for(1e-3, p), 4)
        except ValidationError:
            return "unreachable"

    return {
        "count": rate.count,
        "comparisons": rate.comparisons,
        "point_N1000": rate.point,
        "bound_N1000": rate.upper,
        "caps_1e-3": [model.max_watchlist_size(t, 1e-3, k) for k in (1, 2, 3)],
        "threshold_for_1e-3": {p: thr(p) for p in (100, 200, 500)},
        "grid_points": [len(c.scores) for c in model.curves],
        "design_effect": [c.design_effect for c in model.curves],
    }


def rebuild(lfw_dir: Path) -> dict[str, object]:
    from vigil.cli.eval_cmd import _aliases, _templates
    from vigil.eval import faces, far, protocols
    from vigil.eval.clustered import nonmated_curve

    doc: dict[str, object] = json.loads(FILE.read_text())
    tpl = _templates(lfw_dir, None, None, None)
    ids, al = tpl.images.identities, _aliases(None)
    n, threshold = int(doc["watchlist_size"]), float(doc["threshold"])  # type: ignore[call-overload, arg-type]
    proto = protocols.build_open_set(ids, watchlist_size=n, seed=0, aliases=al, min_images=2)
    doc["fmr_curve"] = nonmated_curve(proto, ids, tpl.scorer).to_json()
    doc["person_curves"] = faces.person_curves(tpl, n, seed=0, aliases=al)  # type: ignore[assignment]
    check = far.validate_split(
        ids, tpl.scorer, seed=0, watchlist_size=n, threshold=threshold,
        targets=(float(doc["target_fpir"]),), aliases=al, probes_per_person=1,  # type: ignore[arg-type]
    )  # fmt: skip
    doc["validation"] = check.to_json()
    return doc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lfw-dir", type=Path, default=Path("../shared/data/lfw/lfw-deepfunneled"))
    parser.add_argument("--write", action="store_true", help="replace the packaged file")
    a = parser.parse_args()
    before = json.loads(FILE.read_text())
    after = rebuild(a.lfw_dir)
    print(json.dumps({"before": figures(before), "after": figures(after)}, indent=1))
    if a.write:
        FILE.write_text(json.dumps(after, indent=2) + "\n")
        print(f"wrote {FILE} ({FILE.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
