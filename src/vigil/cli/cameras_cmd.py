"""``vigil cameras add|remove|list|status|run|enable|disable``: the configured cameras, their
health, ingestion, and switching one off or on in the database.

Cameras come from the config file's ``cameras:`` list (the file is the source of truth; the
database mirrors it when the system starts). ``add`` and ``remove`` edit that list in place,
keeping the file's comments, and validate the result before writing it. ``status`` has no
daemon to ask yet, so it probes: it runs the ingestion runtime on every enabled camera for a
few seconds and prints what each camera did (state, since when, last error, frames, decode
cost saved). ``run`` ingests until SIGTERM or Ctrl-C and then shuts down within five seconds.
URLs are always printed redacted.

``enable`` and ``disable`` act on the database, not the file: they switch a camera's flag through
:class:`vigil.governance.cameras.CameraService` as a named user (``--as``), audited. A cluster
follows the flag while it runs; the embedded ``vigil run`` at its next start (both say so).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from vigil import logs
from vigil.config import load_config
from vigil.config.settings import CameraConfig
from vigil.errors import InputError
from vigil.logs import redact
from vigil.sources.base import SourceSpec

if TYPE_CHECKING:  # the runtime (OpenCV, PyAV) loads only when a command needs it
    from vigil.sources.status import CameraStatus
    from vigil.sources.supervisor import Supervisor

app = typer.Typer(help="Cameras: list, probe status, run ingestion.", no_args_is_help=True)

CONFIG_ARG = typer.Argument(..., help="The YAML config file whose cameras to use.")
ACTOR = typer.Option("cli", "--actor", help="Who makes the change (written to the audit chain).")
REASON = typer.Option("", "--reason", help="Why (written to the audit chain).")


def _cameras(path: Path, only: list[str] | None = None) -> list[CameraConfig]:
    cams = load_config(path).cameras
    if only:
        unknown = sorted(set(only) - {c.id for c in cams})
        if unknown:
            raise InputError(f"no camera {', '.join(unknown)} in {path}")
        cams = [c for c in cams if c.id in only]
    return cams


@app.command("add")
def add(
    path: Path = CONFIG_ARG,
    camera_id: str = typer.Option(..., "--id", help="Stable id: a-z, 0-9, '-' and '_'."),
    url: str = typer.Option(..., "--url", help="Source URL; credentials as ${VARIABLES}."),
    name: str = typer.Option("", "--name", help="Human-readable name."),
    analytics: list[str] = typer.Option(
        ["persons"],
        "--analytics",
        help="faces, persons, vehicles, plates, crowd (repeat the option).",
    ),
    fps: float = typer.Option(2.0, "--fps", help="Frames analysed per second."),
    zone: str | None = typer.Option(None, "--zone", help="Named area used by deployments."),
    actor: str = ACTOR,
    reason: str = REASON,
) -> None:
    """Add a camera to the config file (validated; credentials in clear are refused; audited)."""
    from vigil.cli.audit_cmd import settings_auditor
    from vigil.config.writer import add_camera

    camera: dict[str, Any] = {
        "id": camera_id,
        "name": name,
        "url": url,
        "analytics": list(analytics),
        "fps": fps,
    }
    if zone:
        camera["location"] = {"zone": zone}
    audit = settings_auditor(path, actor=actor, reason=reason, command="vigil cameras add")
    add_camera(path, camera, on_change=audit)
    typer.echo(f"added camera {camera_id} to {path}")


@app.command("remove")
def remove(
    path: Path = CONFIG_ARG,
    camera_id: str = typer.Argument(..., help="Id of the camera to remove."),
    actor: str = ACTOR,
    reason: str = REASON,
) -> None:
    """Remove a camera from the config file (audited)."""
    from vigil.cli.audit_cmd import settings_auditor
    from vigil.config.writer import remove_camera

    audit = settings_auditor(path, actor=actor, reason=reason, command="vigil cameras remove")
    remove_camera(path, camera_id, on_change=audit)
    typer.echo(f"removed camera {camera_id} from {path}")


@app.command("list")
def list_cameras(
    path: Path = CONFIG_ARG,
    as_json: bool = typer.Option(False, "--json", help="One JSON object per camera."),
) -> None:
    """List the cameras of the config file (URLs with credentials redacted)."""
    for cam in _cameras(path):
        spec = SourceSpec.from_config(cam)
        row = {
            "id": cam.id,
            "name": cam.name,
            "kind": spec.kind,
            "url": spec.safe_url,
            "enabled": cam.enabled,
            "fps": cam.fps,
            "decode_mode": cam.decode_mode,
            "zone": cam.location.zone,
            "analytics": list(cam.analytics),
        }
        if as_json:
            typer.echo(json.dumps(row))
        else:
            flag = "" if cam.enabled else " (disabled)"
            typer.echo(f"{cam.id:<20} {spec.kind:<8} {cam.fps:>5.1f} fps  {spec.safe_url}{flag}")


def status_dict(s: CameraStatus) -> dict[str, Any]:
    """A camera status as JSON-ready values (what the API will serve later)."""
    d = s.decode
    return {
        "camera_id": s.camera_id,
        "state": str(s.state),
        "since": s.since.isoformat(),
        "last_error": redact(s.last_error) if s.last_error else None,
        "last_error_at": s.last_error_at.isoformat() if s.last_error_at else None,
        "last_frame_at": s.last_frame_at.isoformat() if s.last_frame_at else None,
        "frames": s.frames,
        "dropped": s.dropped,
        "reconnects": s.reconnects,
        "restarts": s.restarts,
        "resolution": list(s.resolution) if s.resolution else None,
        "resolution_changes": s.resolution_changes,
        "tamper": sorted(str(t) for t in s.tamper),
        "tamper_since": {str(k): v.isoformat() for k, v in s.tamper_since},
        "tamper_raised": s.tamper_raised,
        "keyframe_mode": d.keyframe_mode,
        "packets": d.packets,
        "packets_skipped": d.packets_skipped,
        "decode_saved_fraction": round(d.saved_fraction, 4),
        "decode_cpu_s": round(d.decode_cpu_s, 3),
        "decode_saved_cpu_s_estimate": round(d.saved_cpu_s_estimate, 3),
        "corrupt_packets": d.corrupt_packets,
    }


def _print_statuses(
    statuses: list[CameraStatus],
    as_json: bool,
    recording: dict[str, dict[str, Any]] | None = None,
) -> None:
    recording = recording or {}
    for s in statuses:
        rec = recording.get(s.camera_id)
        if as_json:
            typer.echo(json.dumps({**status_dict(s), "recording": rec}))
            continue
        err = f"  last error: {redact(s.last_error)}" if s.last_error else ""
        since = dict(s.tamper_since)
        tamper = ", ".join(f"{t} since {since[t]:%H:%M:%S}" for t in sorted(since))
        err = (f"  TAMPER: {tamper}" if tamper else "") + err
        typer.echo(
            f"{s.camera_id:<20} {s.state:<8} since {s.since:%H:%M:%S}  frames {s.frames:<5} "
            f"dropped {s.dropped:<4} decode saved {s.decode.saved_fraction:.0%}{err}"
        )
        if rec is not None:
            detail = rec.get("error") or (
                f"{rec['segments_last_hour']} segments and {rec['gaps_last_hour']} gaps in the "
                f"last hour, newest ends {rec['last_segment_end'] or 'never'}"
            )
            typer.echo(f"{'':<20} recording ({rec['mode']}): {detail}")


def _drain(sup: Supervisor, stop: threading.Event) -> None:
    """Stand-in for analysis: take frames off every queue so they do not pile up."""
    while not stop.is_set():
        idle = True
        for worker in sup.workers.values():
            if worker.queue.get(0) is not None:
                idle = False
        if idle:
            stop.wait(0.02)


@app.command("status")
def status(
    path: Path = CONFIG_ARG,
    probe: float = typer.Option(5.0, min=0.5, max=300, help="Seconds to watch the cameras."),
    camera: list[str] = typer.Option(None, "--camera", help="Only these camera ids."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per camera."),
) -> None:
    """Probe the enabled cameras for --probe seconds and print each one's health."""
    from vigil.sources.supervisor import Supervisor

    logs.configure("ERROR")
    cams = _cameras(path, camera)
    sup = Supervisor.from_configs(cams)
    stop = threading.Event()
    sup.start()
    drain = threading.Thread(target=_drain, args=(sup, stop), daemon=True)
    drain.start()
    try:
        stop.wait(probe)
        statuses = sup.statuses()  # before stopping, which takes every camera offline
    finally:
        stop.set()
        sup.stop()
    _print_statuses(statuses, as_json, recording_summary(path, cams))


def recording_summary(path: Path, cams: list[CameraConfig]) -> dict[str, dict[str, Any]]:
    """Per recording camera, from the segment index: segments and gaps in the last hour and the
    end of the newest segment (a probe does not record; the running system's live recording
    errors are in ``GET /cameras/status``). A database that cannot be read is reported as such
    per camera instead of failing the probe."""
    from datetime import UTC, datetime, timedelta

    from vigil.storage.factory import open_database_from_config
    from vigil.storage.recordings import RecordingStore

    recording = [c for c in cams if c.record != "off"]
    if not recording:
        return {}
    now = datetime.now(UTC)
    out: dict[str, dict[str, Any]] = {}
    try:
        db = open_database_from_config(load_config(path))
    except Exception as exc:  # the probe's own answer stands; say why the index is missing
        return {c.id: {"mode": c.record, "error": redact(str(exc))[:200]} for c in recording}
    try:
        store = RecordingStore(db)
        for cam in recording:
            rows = store.window(cam.id, now - timedelta(hours=1), now)
            out[cam.id] = {
                "mode": cam.record,
                "segments_last_hour": len(rows),
                "gaps_last_hour": len(store.gaps(cam.id, now - timedelta(hours=1), now)),
                "last_segment_end": rows[-1].ended_at.isoformat() if rows else None,
            }
    except Exception as exc:
        return {c.id: {"mode": c.record, "error": redact(str(exc))[:200]} for c in recording}
    finally:
        db.dispose()
    return out


@app.command("run")
def run(
    path: Path = CONFIG_ARG,
    report_every: float = typer.Option(30.0, min=0.5, help="Seconds between status lines."),
    duration: float = typer.Option(0.0, min=0, help="Stop after this many seconds (0: never)."),
    as_json: bool = typer.Option(False, "--json", help="Status lines as JSON."),
) -> None:
    """Ingest the enabled cameras until SIGTERM/Ctrl-C (frames are discarded: no analysis yet)."""
    from vigil.sources.supervisor import Supervisor, stop_on_signals

    config = load_config(path)
    logs.configure(config.system.log_level, json_lines=config.system.log_json)
    sup = Supervisor.from_configs(config.cameras)
    stop = threading.Event()
    restore = stop_on_signals(stop)
    sup.start()
    threading.Thread(target=_drain, args=(sup, stop), daemon=True).start()
    typer.echo(f"ingesting {len(sup.workers)} camera(s); SIGTERM or Ctrl-C stops", err=True)
    started = time.monotonic()
    try:
        while not stop.wait(report_every if not duration else min(report_every, duration)):
            _print_statuses(sup.statuses(), as_json)
            if duration and time.monotonic() - started >= duration:
                break
    finally:
        stop.set()
        stuck = sup.stop(timeout=4.0)
        restore()
    _print_statuses(sup.statuses(), as_json)
    typer.echo(
        f"stopped in {time.monotonic() - started:.1f} s of running; "
        f"{len(stuck)} worker(s) still blocked",
        err=True,
    )


AS_USER = typer.Option(
    ...,
    "--as",
    help="Username the change is made for (an admin or supervisor; the audit chain names them).",
)
WHY = typer.Option(..., "--reason", help="Why (required; written to the audit chain).")
DB_CONFIG = typer.Option(None, "--config", "-c", help="vigil.yaml to use (default settings).")


def _switch(camera_id: str, enabled: bool, username: str, reason: str, path: Path | None) -> None:
    """Switch one camera in the database through the API's own service (roles, reason rules,
    the audit entry in the same transaction); the file's cameras are written to the table first
    (keeping the flags already there), so a camera of the file is known before the first run.

    Trade-off: like ``vigil hotlists``, this trusts the shell (the host already holds the
    database credentials), so it asks for no password; the account must exist, be enabled and
    hold the role.
    """
    from datetime import UTC, datetime

    from vigil.governance.actors import Actor
    from vigil.governance.audit import AuditLog
    from vigil.governance.cameras import CameraService
    from vigil.storage import Repository
    from vigil.storage.factory import open_database_from_config
    from vigil.system.assembly import AUDIT_ANCHOR, sync_cameras

    if not reason.strip():
        raise InputError("--reason must not be empty")
    config = load_config(path)
    logs.configure(config.system.log_level, json_lines=config.system.log_json)
    repo = Repository(open_database_from_config(config))
    sync_cameras(repo, config, datetime.now(UTC), keep_enabled=True)
    audit = AuditLog(repo, anchor_path=config.system.data_dir / AUDIT_ANCHOR)
    actor = Actor.from_user(repo.get_user(username=username))
    done = CameraService(repo, audit).set_enabled(actor, camera_id, enabled, reason)
    state = "enabled" if enabled else "disabled"
    if not done.changed:
        typer.echo(f"camera {camera_id} was already {state}: nothing changed, nothing recorded")
        return
    typer.echo(f"camera {camera_id} {state} (audited as {username})")
    if config.cluster.engine == "ray":
        typer.echo(
            f"the cluster's scheduler {'starts' if enabled else 'stops'} it within "
            f"{config.cluster.failover_check_s:g} s"
        )
    else:
        typer.echo(
            "embedded mode: a running `vigil run` keeps its cameras; "
            "the flag applies when it next starts"
        )


@app.command("enable")
def enable(
    camera_id: str = typer.Argument(..., help="Id of the camera to switch on."),
    user: str = AS_USER,
    reason: str = WHY,
    path: Path | None = DB_CONFIG,
) -> None:
    """Switch a camera back on in the database (audited as camera.enable)."""
    _switch(camera_id, True, user, reason, path)


@app.command("disable")
def disable(
    camera_id: str = typer.Argument(..., help="Id of the camera to switch off."),
    user: str = AS_USER,
    reason: str = WHY,
    path: Path | None = DB_CONFIG,
) -> None:
    """Switch a camera off in the database (audited as camera.disable): a cluster stops it on
    whichever node runs it."""
    _switch(camera_id, False, user, reason, path)
