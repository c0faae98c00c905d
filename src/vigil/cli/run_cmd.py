"""``vigil run`` and ``vigil demo``: start the embedded system with its API and a live view."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

import typer
from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from vigil import logs
from vigil.config import VigilConfig, load_config
from vigil.errors import ValidationError

if TYPE_CHECKING:
    import uvicorn
    from starlette.types import ASGIApp

    from vigil.cluster.runner import ClusterRunner
    from vigil.system.assembly import Assembly
    from vigil.system.embedded import EmbeddedSystem
    from vigil.system.services import Services

console = Console()


# Live view columns: header, key in EmbeddedSystem.camera_view(), minimum width. Short headers
# and numbers only, so the table stays readable in an 80-column terminal; the caption explains.
_COLUMNS = (
    ("camera", "camera_id", 11),
    ("state", "state", 7),
    ("frames", "frames_analysed", 0),
    ("people", "people_now", 0),
    ("tracks", "person_tracks_total", 0),
    ("crowd", "crowd_count", 0),
    ("faces", "face_tracks_closed", 0),
    ("alerts", "alerts", 0),
    ("drop", "dropped_frames", 0),
)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _notes(row: dict[str, object]) -> str:
    """Tamper signals and the last error, the only free text of a row."""
    tamper = row.get("tamper") or []
    parts = [f"tamper: {', '.join(map(str, tamper))}"] if tamper else []  # type: ignore[call-overload]
    if row.get("last_error"):
        parts.append(str(row["last_error"]))
    return "; ".join(parts)[:80]


def _table(system: CameraView, url: str, started: float) -> Group:
    table = Table(
        title=f"Vigil — console {url}/console/ — API {url}/api/v1 (spec /openapi.json) — "
        f"up {time.monotonic() - started:.0f} s",
        caption="people: in the last frame; tracks: people followed so far; crowd: last stored "
        "sample; faces: face tracks closed; drop: frames dropped (analysis behind). Ctrl-C stops.",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        pad_edge=False,
        collapse_padding=True,
    )
    for header, _, width in _COLUMNS:
        table.add_column(header, min_width=max(width, len(header)), no_wrap=True)
    notes = []
    for row in system.camera_view():
        table.add_row(*[_cell(row.get(key)) for _, key, _ in _COLUMNS])
        if note := _notes(row):  # free text goes under the table, where it has the full width
            notes.append(Text(f"{row['camera_id']}: {note}", style="yellow"))
    return Group(table, *notes, *_batching_lines(system))


def _batching_lines(system: CameraView) -> list[Text]:
    """One line per shared model when cross-camera batching is on (runtime.batching)."""
    report = getattr(system, "inference_status", None)
    stats: dict[str, dict[str, Any]] = report() if callable(report) else {}
    return [
        Text(
            f"batching {name}: {s['batches']} batches, mean {s['mean_batch']} requests, "
            f"wait p50/p90 {s['wait_ms']['p50']}/{s['wait_ms']['p90']} ms, "
            f"dropped {s['dropped']}"
        )
        for name, s in stats.items()
    ]


class CameraView(Protocol):
    """What the live terminal view reads: the embedded system or the cluster runner."""

    def camera_view(self) -> list[dict[str, Any]]: ...


def _build(config: VigilConfig, *, api_only: bool = False) -> tuple[Assembly, ClusterRunner | None]:
    """The embedded assembly, or (cluster mode) the head's part of it and a cluster runner:
    cameras run as Ray actors across the cluster, the API and housekeeping here; or
    (``api_only``) the API alone over the shared database, one of several behind a load
    balancer (no cameras, no runner; notifications and housekeeping only while it leads)."""
    from vigil.system.assembly import assemble

    if api_only:
        if config.storage.url.get_secret_value().startswith("sqlite"):
            raise ValidationError(
                "--api-only needs PostgreSQL: several processes serve one database",
                hint="set storage.url to postgresql+psycopg://..., or run `vigil run` alone",
            )
        return assemble(config, cameras=False, index=False), None
    if config.cluster.engine != "ray":
        return assemble(config), None
    from vigil.cluster.runner import ClusterRunner

    return assemble(config, cameras=False), ClusterRunner(config)


class _NoCameras:
    """The live view of an API-only process: its cameras run elsewhere."""

    def camera_view(self) -> list[dict[str, Any]]:
        return []


def _running(system: EmbeddedSystem | None) -> EmbeddedSystem:
    assert system is not None
    return system


def server_config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    """How uvicorn serves the API.

    ``log_config=None`` keeps Vigil's redacting handlers (uvicorn's default dictConfig would
    close every handler configured so far). ``proxy_headers=False``: uvicorn would otherwise
    replace the peer address with ``X-Forwarded-For`` whenever the peer is 127.0.0.1, so anyone
    on the host (or any proxy there that passes the header through) could pick a fresh address
    per login guess; ``api.trusted_proxies`` decides instead (:mod:`vigil.api.clients`).
    """
    import uvicorn

    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", log_config=None, proxy_headers=False
    )


def serve(
    config: VigilConfig,
    host: str | None,
    port: int | None,
    *,
    live: bool = True,
    duration: float | None = None,
    seed: Callable[[Services], None] | None = None,
    api_only: bool = False,
) -> None:
    """Run the system and the API until SIGINT/SIGTERM (or ``duration`` seconds).

    ``seed`` runs once the services exist and before cameras start (the demo's users,
    watchlist and deployment). ``api_only``: see :func:`_build`.
    """
    import uvicorn

    from vigil.api.app import create_app

    built, runner = _build(config, api_only=api_only)
    system, services = built.system, built.services
    cameras: CameraView = (
        runner if runner is not None else _NoCameras() if api_only else _running(system)
    )
    if system is not None and system.counting:
        console.print(f"counting people on {', '.join(system.counting)} (crowd samples are stored)")
    if system is not None and system.identifying:
        console.print(
            f"live identification ready on {', '.join(system.identifying)} (it matches only "
            "inside an approved deployment)"
        )
    if seed is not None:
        seed(services)
    api = create_app(
        config,
        model_dir=config.models.dir,
        system=system,
        services=services,
        start_background=False,  # the assembly starts and stops them, in order
    )
    bind_host, bind_port = host or config.api.host, port or config.api.port
    server = uvicorn.Server(server_config(api, bind_host, bind_port))
    stop = threading.Event()

    def on_signal(signum: int, _: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    api_thread = threading.Thread(target=server.run, name="vigil-api", daemon=True)
    url = f"http://{bind_host}:{bind_port}"
    started = time.monotonic()
    try:
        built.start()
        if runner is not None:
            runner.start()
            console.print(f"cluster mode: {len(runner.cameras)} camera actor(s) on Ray")
        api_thread.start()
        console.print(f"Vigil API on {url}/api/v1 (spec: {url}/openapi.json; Ctrl-C to stop)")
        console.print(f"Web console on {url}/console/  (sign in with a user's password)")
        deadline = None if duration is None else started + duration
        if live:
            with Live(_table(cameras, url, started), console=console, refresh_per_second=1) as view:
                while not stop.wait(1.0) and (deadline is None or time.monotonic() < deadline):
                    view.update(_table(cameras, url, started))
        else:
            while not stop.wait(1.0) and (deadline is None or time.monotonic() < deadline):
                pass
    finally:
        server.should_exit = True
        if runner is not None:
            runner.close()
        built.stop()
        api_thread.join(5)
        for s, handler in previous.items():
            signal.signal(s, handler)
        console.print("stopped")


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        config_path: Path | None = typer.Option(None, "--config", "-c", help="vigil.yaml to use."),
        host: str | None = typer.Option(None, help="Override api.host."),
        port: int | None = typer.Option(None, help="Override api.port."),
        live: bool = typer.Option(True, "--live/--no-live", help="Live terminal view."),
        duration: float | None = typer.Option(None, help="Stop after this many seconds."),
        api_only: bool = typer.Option(
            False,
            "--api-only",
            help="Serve only the API over the shared PostgreSQL (one of several processes "
            "behind a load balancer; no cameras). Webhooks, MQTT and housekeeping run in "
            "whichever process holds the database's leader lock.",
        ),
    ) -> None:
        """Start Vigil on the embedded default: cameras, analysis and the API."""
        config = load_config(config_path)
        log_dir = config.system.log_dir
        logs.configure(
            config.system.log_level,
            json_lines=config.system.log_json,
            log_dir=None if log_dir is None else config.system.data_dir / log_dir,
            keep_days=config.governance.retention.logs_days,
        )
        serve(config, host, port, live=live, duration=duration, api_only=api_only)

    @app.command("demo")
    def demo(
        video: Path | None = typer.Option(
            None, "--video", help="Footage to use instead of OpenCV's vtest.avi."
        ),
        data_dir: Path = typer.Option(
            Path("var/demo"), "--data-dir", help="Where the demo's video, config and database go."
        ),
        host: str | None = typer.Option(None, help="Override api.host."),
        port: int | None = typer.Option(None, help="Override api.port."),
        live: bool = typer.Option(True, "--live/--no-live", help="Live terminal view."),
        duration: float | None = typer.Option(None, help="Stop after this many seconds."),
    ) -> None:
        """Build the demo (real footage + real face photos) and run the system on it."""
        from vigil.config.settings import YuNetDetectorConfig
        from vigil.perception.faces.detectors import make_detector
        from vigil.system.demo import build_demo_video, demo_config_text, find_footage

        logs.configure("WARNING")
        data_dir = data_dir.resolve()
        footage = find_footage(video)
        out = data_dir / f"demo-{footage.stem}.mp4"
        if not out.is_file():
            console.print(f"building the demo video from {footage} (once)...")
            build_demo_video(footage, out, make_detector(YuNetDetectorConfig()))
        cfg_path = data_dir / "vigil-demo.yaml"
        cfg_path.write_text(demo_config_text(out, data_dir))
        console.print(f"demo config: {cfg_path}")

        def seed(services: Services) -> None:
            from vigil.system.demo_world import seed_demo

            world = seed_demo(services, "demo-street")
            console.print(
                f"demo watchlist {world.watchlist_id} (one enrolled photo) inside "
                f"approved deployment {world.deployment_id} on camera demo-street"
            )
            for user, password in world.passwords.items():
                console.print(f"  demo user {user}  password {password}")
            if not world.passwords:
                console.print(
                    "  demo users exist from an earlier run (passwords shown then; "
                    "`vigil users add` makes new ones)"
                )

        serve(load_config(cfg_path), host, port, live=live, duration=duration, seed=seed)
