"""A short-lived Ray driver for cluster tests: ``python -m tests.support.cluster_driver ACTION``.

Tests that kill the Ray head must not be Ray drivers themselves (a driver whose GCS stays away
exits its process, which would be pytest), so they run the :class:`ClusterRunner` here, in a
child process, one action at a time; the last line printed is the JSON the test reads.

Actions:
  place CONFIG N     start a runner, wait until N cameras analyse frames, print, detach
  attach CONFIG N    start a runner (it re-attaches by name), wait for N cameras, print, detach
  stop CONFIG        start a runner and stop every camera actor (clean-up)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from vigil.cluster.runner import ClusterRunner
from vigil.config import load_config


def _analysing(rows: dict[str, dict[str, Any]], n: int) -> bool:
    return len(rows) == n and all(
        (r.get("frames_analysed") or 0) > 0 and r.get("state") != "restarting"
        for r in rows.values()
    )


def main(argv: list[str]) -> int:
    action, config_path = argv[0], Path(argv[1])
    runner = ClusterRunner(load_config(config_path))
    started = time.monotonic()
    runner.start()
    attached_s = time.monotonic() - started
    if action == "stop":
        runner.stop()
        print(json.dumps({"stopped": True}))
        return 0
    want = int(argv[2])
    deadline = time.monotonic() + 240
    rows = runner.poll(timeout=5)
    while not _analysing(rows, want):
        if time.monotonic() > deadline:
            runner.detach()
            print(json.dumps({"error": "cameras not analysing", "rows": rows}, default=str))
            return 1
        time.sleep(0.5)
        rows = runner.poll(timeout=5)
    report = runner.report()
    runner.detach()
    print(json.dumps({"attached_s": attached_s, **report}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
