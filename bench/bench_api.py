"""API benchmarks: commit-to-WebSocket alert latency, and sustained mixed reads on loopback.

* ``ws_alert_p95_ms``: an alert is committed to the database (SQLite, the embedded default) and
  the time until an authenticated WebSocket client receives it is measured, ``n`` times; the
  event watcher polls every 50 ms (the shipped default). Target: p95 <= 200 ms.
* ``reads_*``: uvicorn serves the real app on 127.0.0.1; worker threads in a separate process
  issue a fixed mix of authenticated reads (cameras, alerts page, deployments, one alert, one
  camera) at a paced 200 requests/s for 60 s (quick: 10 s), bounded by count and time.
  Errors = any non-2xx. Then ``capacity_*``: the same mix unpaced for 10 s, and
  ``health_capacity_*``: the unauthenticated health route unpaced, the baseline in the same run.
* ``live_recheck_*``: one re-check of ``n`` open live connections (``vigil.api.live``: every
  credential re-read in one query per 500) against the baseline of resolving each connection's
  token on its own (a read per socket, what a per-socket timer would cost), same database, same
  run. The ratio is what batching saves per ``api.live_recheck_s``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


def _env(tmp: Path) -> Any:
    from tests.support.api_env import build_env

    return build_env(tmp)


def ws_latency(n: int) -> dict[str, float]:
    from tests.support.api_env import add_alert

    from vigil.core.domain import Role
    from vigil.notify.watcher import EventWatcher

    with tempfile.TemporaryDirectory() as d:
        env = _env(Path(d))
        env.svc.background.append(EventWatcher(env.repo, env.svc.hub, poll_s=0.05))
        env.svc.start()
        lat = []
        try:
            with env.client(Role.OPERATOR).websocket_connect("/api/v1/events?kinds=alert") as ws:
                time.sleep(0.2)
                for _ in range(n):
                    t0 = time.perf_counter()
                    alert = add_alert(env.repo, env.svc.media)
                    while ws.receive_json()["alert"]["id"] != alert.id:
                        pass
                    lat.append((time.perf_counter() - t0) * 1000)
                    time.sleep(0.013)  # de-phase from the poll period
        finally:
            env.svc.stop()
            env.repo.db.dispose()
    lat.sort()
    return {
        "ws_alert_n": float(n),
        "ws_alert_p50_ms": round(statistics.median(lat), 1),
        "ws_alert_p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 1),
        "ws_alert_max_ms": round(lat[-1], 1),
    }


@dataclass(frozen=True)
class LoadJob:
    """What one client process does: GETs of ``paths`` in turn for ``seconds``."""

    port: int
    token: str
    paths: list[str]
    seconds: float
    rate: float | None  # requests/s, paced; None: as fast as possible
    threads: int = 8


def _client_process(job: LoadJob) -> dict[str, Any]:
    """Issue GETs from ``job.threads`` threads, paced at ``job.rate``/s.

    Runs in its own process (spawned): a load generator in the server's interpreter would
    compete with it for the GIL and measure the client as much as the server.
    """
    port, token, paths, seconds, rate = job.port, job.token, job.paths, job.seconds, job.rate
    lock = threading.Lock()
    lat: list[float] = []
    errors = [0]
    nxt = [0]
    total = int(seconds * rate) if rate else 10**9
    start = time.perf_counter()

    def worker() -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as c:
            while True:
                with lock:
                    i = nxt[0]
                    nxt[0] += 1
                elapsed = time.perf_counter() - start
                if i >= total or elapsed > seconds + (30 if rate else 0):
                    return
                if rate and (wait := start + i / rate - time.perf_counter()) > 0:
                    time.sleep(wait)
                t0 = time.perf_counter()
                try:
                    ok = c.get(paths[i % len(paths)]).status_code == 200
                except httpx.HTTPError:
                    ok = False
                with lock:
                    lat.append((time.perf_counter() - t0) * 1000)
                    errors[0] += not ok

    ws = [threading.Thread(target=worker) for _ in range(job.threads)]
    for w in ws:
        w.start()
    for w in ws:
        w.join()
    return {"lat": lat, "errors": errors[0], "elapsed": time.perf_counter() - start}


def _summary(prefix: str, res: dict[str, Any]) -> dict[str, float]:
    lat = sorted(res["lat"])
    return {
        f"{prefix}_requests": float(len(lat)),
        f"{prefix}_achieved_rps": round(len(lat) / res["elapsed"], 1),
        f"{prefix}_errors": float(res["errors"]),
        f"{prefix}_p50_ms": round(statistics.median(lat), 2),
        f"{prefix}_p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 2),
    }


def load(seconds: float, rate: float, threads: int = 8) -> dict[str, float]:
    """Paced mixed reads at ``rate``/s, then unpaced capacity of the same mix and of ``/health``.

    The server (uvicorn, one process, the real app on SQLite) runs here; the clients run in a
    spawned process. ``/api/v1/health`` (no authentication, no database) is the baseline: the
    ratio says what authentication, database reads and serialisation cost per request.
    """
    import multiprocessing as mp

    import uvicorn
    from tests.support.api_env import add_alert

    from vigil.core.domain import Role

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as d:
        env = _env(Path(d))
        alert = add_alert(env.repo, env.svc.media)
        server = uvicorn.Server(
            uvicorn.Config(env.app, host="127.0.0.1", port=0, log_level="error", access_log=False)
        )
        t = threading.Thread(target=server.run, daemon=True)
        t.start()
        while not server.started:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        paths = [
            "/api/v1/cameras",
            "/api/v1/alerts?limit=20",
            "/api/v1/deployments",
            f"/api/v1/alerts/{alert.id}",
            "/api/v1/cameras/cam-1",
        ]
        token = env.tokens[Role.SUPERVISOR]
        burst = min(10.0, seconds)
        try:
            with mp.get_context("spawn").Pool(1) as pool:
                jobs = [
                    LoadJob(port, token, paths, seconds, rate, threads),
                    LoadJob(port, token, paths, burst, None, threads),
                    LoadJob(port, token, ["/api/v1/health"], burst, None, threads),
                ]
                paced, cap, health = (pool.apply(_client_process, (j,)) for j in jobs)
        finally:
            server.should_exit = True
            t.join(5)
            env.repo.db.dispose()
    out["reads_target_rps"] = rate
    out.update(_summary("reads", paced))
    out.update(_summary("capacity", cap))
    out.update(_summary("health_capacity", health))
    out["capacity_over_health_ratio"] = round(
        out["capacity_achieved_rps"] / out["health_capacity_achieved_rps"], 2
    )
    return out


def live_recheck(n: int, repeats: int = 5) -> dict[str, float]:
    import asyncio

    from vigil.api.live import LiveRegistry
    from vigil.core.domain import Role

    with tempfile.TemporaryDirectory() as d:
        env = _env(Path(d))
        accounts = env.svc.accounts
        user = env.repo.get_user(env.users[Role.OPERATOR])
        tokens = [accounts.start_session(user)[0] for _ in range(n)]
        # recheck_s: its own timer stays out of the measurement (the check is called here).
        reg = LiveRegistry(accounts, env.svc.audit, recheck_s=30.0, max_connections=n)
        kinds = frozenset({"alert"})
        loop = asyncio.new_event_loop()  # never run: the re-check only schedules on it
        try:
            for token in tokens:
                reg.open(accounts.resolve(token, "bearer"), "bench", kinds, None, loop)
            batched, each = [], []
            for _ in range(repeats):
                t0 = time.perf_counter()
                reg.check_once()
                batched.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                for token in tokens:
                    accounts.resolve(token, "bearer")
                each.append(time.perf_counter() - t0)
        finally:
            reg.stop()
            loop.close()
            env.repo.db.dispose()
    b, e = statistics.median(batched) * 1000, statistics.median(each) * 1000
    return {
        "live_recheck_n": float(n),
        "live_recheck_ms": round(b, 1),
        "live_recheck_per_socket_baseline_ms": round(e, 1),
        "live_recheck_ratio": round(b / e, 3),
    }


def run(quick: bool) -> dict[str, object]:
    out: dict[str, object] = {}
    out.update(live_recheck(200 if quick else 1000))
    out.update(ws_latency(40 if quick else 200))
    out.update(load(10.0 if quick else 60.0, 200.0))
    return out


if __name__ == "__main__":
    print(run("--quick" in sys.argv))
