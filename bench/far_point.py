"""Why the held-out FPIR point missed the realised rate, and how close any point can get (issue 22).

Two measurements behind docs/false-alert-rates.md, "Why the point under-predicted":

* ``diagnose``: for each identity-disjoint split (the protocols of ``vigil eval far``, N = 1,000,
  one photo each) both halves are scored in full and the impostor comparisons at the threshold
  are counted exactly, split by the kind of search they come from (mated probes: enrolled
  people's other photos; non-mated: people not enrolled), beside the count the stored curve
  reads at the threshold (its grid), the searches whose top impostor score reaches it, and the
  people behind each false match::

      PYTHONPATH=src python -m bench.far_point diagnose \\
          --lfw-dir ../shared/data/lfw/lfw-deepfunneled --seeds 0,1,2,3,4 \\
          --out reports/far_diagnose.json

* ``noise``: a simulation of the target itself. Take an estimator with no bias at all; its fit
  half sees a Poisson (or overdispersed, variance ``D`` x mean) count, so does the test half.
  How often does the point land within 2x of the realised rate in one split, and in five of
  five? (A split where nothing is realised counts as a miss: "within 2x" cannot hold.)

      python -m bench.far_point noise
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

SHIPPED = 0.541261


def _draw(rng: np.random.Generator, mu: float, d: float, size: int) -> np.ndarray:
    """Counts with mean ``mu`` and variance ``d * mu`` (Poisson when ``d`` is 1)."""
    if d <= 1:
        return rng.poisson(mu, size)
    shape = mu / (d - 1)
    return rng.poisson(rng.gamma(shape, mu / shape, size))


def within_2x(
    mu_fit: float | None, mu_test: float, d: float = 1.0, runs: int = 200_000, seed: int = 22
) -> float:
    """P(unbiased point / realised in [0.5, 2]) for one split; ``mu_fit=None``: exact truth."""
    rng = np.random.default_rng(seed)
    x = np.ones(runs) if mu_fit is None else _draw(rng, mu_fit, d, runs) / mu_fit
    y = _draw(rng, mu_test, d, runs) / mu_test
    with np.errstate(divide="ignore", invalid="ignore"):
        r = x / y
    return float(((r >= 0.5) & (r <= 2)).mean())


def noise() -> dict[str, object]:
    rows = []
    for mu, d in [(2.0, 1.0), (3.4, 1.0), (3.4, 1.5), (6.0, 1.0), (6.0, 3.0)]:
        p, q = within_2x(mu, mu, d), within_2x(None, mu, d)
        rows.append({"mean_count": mu, "design_effect": d, "per_split": round(p, 3),
                     "five_of_five": round(p**5, 3), "exact_truth_per_split": round(q, 3),
                     "exact_truth_five_of_five": round(q**5, 3)})  # fmt: skip
        print(rows[-1])
    return {"rows": rows}


def diagnose(lfw_dir: Path, seeds: list[int], threshold: float) -> dict[str, object]:
    from vigil.cli.eval_cmd import _aliases, _templates
    from vigil.eval import protocols
    from vigil.eval.far import cap_probes
    from vigil.identification.calibration import curve_from_scores

    tpl = _templates(lfw_dir, None, None, None)
    ids, scorer, al = tpl.images.identities, tpl.scorer, _aliases(None)

    def count(proto: protocols.OpenSetProtocol) -> dict[str, object]:
        flat = proto.gallery.reshape(-1)
        probes = np.concatenate([proto.mated, proto.nonmated])
        mate = np.concatenate([proto.mated_identity, np.full(len(proto.nonmated), -1)])
        s = np.asarray(scorer.matrix(probes, flat), np.float32)
        rows = np.arange(len(probes))
        s[rows[mate >= 0], mate[mate >= 0]] = -np.inf
        hit, ok, mated = s >= threshold, np.isfinite(s), mate >= 0
        top = s.max(axis=1) >= threshold
        r, c = np.nonzero(hit)
        who = Counter(
            f"{ids[int(probes[a])]} ~ {proto.enrolled[b]}" for a, b in zip(r, c, strict=True)
        )
        return {
            "curve_count_pooled": curve_from_scores(s[ok]).count_at(threshold),
            "exact_pooled": [int(hit.sum()), int(ok.sum())],
            "exact_mated_probes": [int(hit[mated].sum()), int(ok[mated].sum())],
            "exact_nonmated_probes": [int(hit[~mated].sum()), int(ok[~mated].sum())],
            "nonmated_searches": [int(top[~mated].sum()), int((~mated).sum())],
            "pairs": who.most_common(8),
        }

    out: dict[str, object] = {}
    for seed in seeds:
        halves = protocols.split_identities(ids, seed=seed, aliases=al)
        for cap in (None, 1):
            for side, half, s in (("fit", halves[0], seed), ("test", halves[1], seed + 1)):
                proto = protocols.build_open_set(
                    ids, watchlist_size=1000, seed=s, aliases=al, min_images=1, restrict_to=half
                )
                key = f"seed {seed}, {'every image' if cap is None else 'one per person'}, {side}"
                out[key] = count(cap_probes(proto, ids, cap, s))
                print(key, json.dumps(out[key]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["diagnose", "noise"])
    parser.add_argument("--lfw-dir", type=Path, default=Path("../shared/data/lfw/lfw-deepfunneled"))
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--threshold", type=float, default=SHIPPED)
    parser.add_argument("--out", type=Path, default=None)
    a = parser.parse_args()
    if a.what == "noise":
        doc = noise()
    else:
        doc = diagnose(a.lfw_dir, [int(x) for x in a.seeds.split(",")], a.threshold)
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(doc, indent=1, default=str))


if __name__ == "__main__":
    main()
