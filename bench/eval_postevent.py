"""Post-event face search recall on a multi-person recording (issue 19's first target).

``python -m bench.eval_postevent [--quick] [--out reports/eval/postevent.json]``

The recording (:mod:`tests.support.postevent_cast`): OpenCV's real pedestrian clip on two
cameras with real LFW faces composited one at a time at known seconds: 4 enrolled people, 3
appearances each (photos other than their probe photo), and 6 non-enrolled people, 2
appearances each; recorded through the real recorder into encrypted 4 s segments. One real
post-event job per enrolled person (probe = that person's probe photo) searches both cameras.

Threshold: the packaged calibration's lowest score whose bounded FPIR for the watchlist size in
question is at most 1e-3 (:meth:`FalseAlertModel.threshold_for`; the watchlist is the set of
enrolled people searched for, so every face in the footage is compared with each of them). The
jobs run at that threshold; the report also judges their hits at the configured
``faces.identification.threshold`` (stricter), as a filter of the same hits: a job run there
would analyse a subset of the frames (narrower dense windows), so the filter's recall is an
upper bound of such a job's.

Reported per threshold: recall of the known appearances (an appearance is found when at least
one frame of it is a hit), wrong-person reports (hits on another enrolled person), non-enrolled
people reported, unexplained hits; and the jobs' speed (video seconds of both cameras over wall
seconds, each job). ``--quick``: 2 enrolled and 2 non-enrolled people.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from vigil.config.settings import PACKAGED_CALIBRATION, FacesConfig
from vigil.identification.calibration import FalseAlertModel

TARGET_FPIR = 1e-3


def run(quick: bool = False) -> dict[str, object]:
    from tests.support.postevent_cast import best_scores, build_cast, evaluate, score_rows, tally

    cast = build_cast(2, 2) if quick else build_cast()
    model = FalseAlertModel.from_file(PACKAGED_CALIBRATION)
    persons = len(cast.probes)
    threshold = model.threshold_for(TARGET_FPIR, persons)
    configured = FacesConfig().identification.threshold
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        ev = evaluate(Path(tmp), cast, threshold)
    at_fpir = tally(cast, ev.hits, threshold)
    at_configured = tally(cast, ev.hits, configured)
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "load1_at_start": round(os.getloadavg()[0], 2)},
        "calibration": {
            "file": PACKAGED_CALIBRATION.name,
            "model": model.model,
            "target_fpir": TARGET_FPIR,
            "watchlist_size": persons,
            "threshold_for_target": threshold,
            "fpir_at_threshold": _rate(model, threshold, persons),
            "configured_threshold": configured,
            "fpir_at_configured": _rate(model, configured, persons),
        },
        "cast": {
            "enrolled": list(cast.probes),
            "probe_photos": {p: f.name for p, f in cast.probes.items()},
            "non_enrolled": sorted({a.person for a in cast.appearances if not a.enrolled}),
            "appearances": len(cast.appearances),
            "cameras": 2,
            "clip_seconds_per_camera": cast.seconds,
            "schedule": [
                {
                    "person": a.person,
                    "photo": a.photo.name,
                    "camera": a.camera,
                    "start_s": a.start,
                    "end_s": a.end,
                    "enrolled": a.enrolled,
                }
                for a in cast.appearances
            ],
        },
        "at_fpir_threshold": at_fpir.as_json(),
        "at_configured_threshold": at_configured.as_json(),
        "speed": {
            "segments": ev.segments,
            "video_s_per_job": round(ev.video_s_per_job, 1),
            "job_wall_s": [round(x, 1) for x in ev.wall_s],
            "job_x_realtime": [round(ev.video_s_per_job / x, 2) for x in ev.wall_s],
        },
        "best_scores": best_scores(ev),
        "hits": score_rows(ev),
        "wall_s": round(time.perf_counter() - started, 1),
    }


def _rate(model: FalseAlertModel, score: float, persons: int) -> dict[str, float | int]:
    r = model.fpir(score, persons)
    return {"point": r.point, "upper95": r.upper, "count": r.count, "comparisons": r.comparisons}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 enrolled, 2 non-enrolled people")
    parser.add_argument("--out", type=Path, default=Path("reports/eval/postevent.json"))
    args = parser.parse_args()
    report = run(args.quick)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    summary = {k: report[k] for k in ("at_fpir_threshold", "at_configured_threshold", "speed")}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
