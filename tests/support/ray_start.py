"""``ray start`` for a worker node on loopback: ``python -m tests.support.ray_start ARGS``.

On Linux ``ray start --address=127.0.0.1:PORT`` replaces loopback with the machine's network
address (for the node and for the head it dials), and the one switch that keeps loopback
(``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``) makes it refuse to join a cluster at all. Tests that
must keep every byte on loopback run the real ``ray start`` through this wrapper, which leaves
``127.0.0.1`` as it is; everything else is Ray's own command.
"""

from __future__ import annotations

import sys

from ray._private import services
from ray.scripts.scripts import main


def _keep(host: str) -> str:
    return host


if __name__ == "__main__":
    services.resolve_ip_for_localhost = _keep
    sys.exit(main())
