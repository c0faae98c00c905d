"""Run every benchmark module ``bench/bench_*.py`` and write one JSON file plus a Markdown table.

Each module exposes ``run(quick: bool) -> dict[str, object]``: a flat mapping of metric name to
value, where every speed figure sits beside its baseline from the same run (and a ``*_ratio``
key). ``python -m bench --quick`` runs bounded versions; ``--only NAME`` runs one module.
Results go to ``reports/bench/<UTC time>.json`` and ``reports/bench/latest.md``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import platform
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

import bench
from bench import summary

OUT = Path("reports/bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="bounded runs (minutes, not hours)")
    parser.add_argument("--only", action="append", default=[], help="module name, e.g. ingest")
    args = parser.parse_args()
    console = Console()
    modules = pkgutil.iter_modules(bench.__path__)
    names = sorted(m.name for m in modules if m.name.startswith("bench_"))
    if args.only:
        names = [n for n in names if n.removeprefix("bench_") in args.only or n in args.only]
    results: dict[str, object] = {
        "started": datetime.now(UTC).isoformat(),
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor(),
            "cores": __import__("os").cpu_count(),
            # Other work on a shared machine shows here; every speed figure is a same-run ratio.
            "load1_at_start": round(__import__("os").getloadavg()[0], 2),
        },
        "quick": args.quick,
        "benchmarks": {},
    }
    for name in names:
        console.rule(name)
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            out = module.run(quick=args.quick)
            out["wall_s"] = round(time.perf_counter() - t0, 2)
        except Exception as exc:  # one failing benchmark must not hide the others
            console.print_exception()
            out = {"error": repr(exc), "traceback": traceback.format_exc()}
        results["benchmarks"][name] = out  # type: ignore[index]
        console.print_json(data=out, default=str)
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    rows = summary.headline(results["benchmarks"])  # type: ignore[arg-type]
    results["headline"] = rows
    (OUT / f"{stamp}.json").write_text(json.dumps(results, indent=2, default=str))
    lines = [
        f"# Benchmarks {stamp} ({'quick' if args.quick else 'full'}; machine: "
        f"{results['machine']})",
        "",
        "## Headline: each figure beside its baseline from the same run",
        "",
        *summary.markdown(rows),
        "",
        "## Every metric",
        "",
        "| benchmark | metric | value |",
        "| --- | --- | --- |",
    ]
    for name, out in results["benchmarks"].items():  # type: ignore[attr-defined]
        for key, value in out.items():
            if key not in ("traceback", "soak_samples"):
                lines.append(f"| {name} | {key} | {value} |")
    (OUT / "latest.md").write_text("\n".join(lines) + "\n")
    console.print(f"wrote {OUT / (stamp + '.json')} and {OUT / 'latest.md'}")


if __name__ == "__main__":
    main()
