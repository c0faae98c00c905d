"""Serving an app over real HTTP in the test process: uvicorn on a free loopback port, in a
thread, configured as ``vigil run`` configures it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI

from vigil.cli.run_cmd import server_config


@contextmanager
def served(app: FastAPI, timeout: float = 15.0) -> Iterator[int]:
    """Serve ``app`` (its lifespan included) and yield the port; stop it on exit."""
    import uvicorn

    server = uvicorn.Server(server_config(app, "127.0.0.1", 0))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(15)
