"""``vigil investigate footage``: post-event face and plate searches of recorded footage.

The same service as ``/api/v1/investigations/jobs``
(:class:`vigil.governance.postevent.PostEventSearch`, built by the composition root's
:func:`vigil.system.postevent.postevent_runner`) over the configured database, recordings and
audit chain: the same authorisation checks, refusals and audit entries. ``--actor`` is the
investigator acting (their camera scope applies).

A job started here runs here, in the foreground, with a progress bar: the server's worker holds
its queue in memory and does not pick up jobs it was not given. Ctrl-C pauses the job after the
current segment; ``resume`` continues it (a face job with ``--probe`` again: probes are never
stored). ``status --follow`` watches a job running anywhere (here or in the server) until it
stops. Exit codes as every command: 2 bad input or an unknown job, 4 refused (not an
investigator, no approved post-event authorisation: audited ``search.refused``), 1 a conflict
(closed case, job already finished).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from vigil.cli.options import parse_when
from vigil.errors import NotFoundError, PermissionDeniedError, ValidationError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from rich.console import Console

    from vigil.governance.actors import Actor
    from vigil.governance.postevent import PostEventSearch
    from vigil.storage.postevent import JobRow, ResultRow


app = typer.Typer(help="Investigations (audited).", no_args_is_help=True)
footage = typer.Typer(
    help="Search recorded footage for a face or a plate, as a resumable job.",
    no_args_is_help=True,
)
app.add_typer(footage, name="footage")

CONFIG = typer.Option(None, "--config", "-c", help="vigil.yaml to use (default settings if none).")
ACTOR = typer.Option(..., "--actor", help="Username of the investigator acting.")
REASON = typer.Option(..., "--reason", help="Why (written to the audit chain).")


@dataclass
class _Session:
    search: PostEventSearch
    actor: Actor
    allowed: frozenset[str] | None


def _open(config_path: Path | None, username: str) -> _Session:
    """The search service over the configured stores, and the acting investigator."""
    from vigil import logs
    from vigil.config import load_config
    from vigil.core.domain import Role
    from vigil.governance.actors import Actor
    from vigil.governance.audit import AuditLog
    from vigil.governance.deployments import DeploymentService
    from vigil.storage import Repository
    from vigil.storage.factory import media_store_from_config, open_database_from_config
    from vigil.system.postevent import postevent_runner

    config = load_config(config_path)
    logs.configure(config.system.log_level, json_lines=config.system.log_json)
    repo = Repository(open_database_from_config(config))
    audit = AuditLog(repo, anchor_path=config.system.data_dir / "audit-anchor.json")
    deployments = DeploymentService(repo, media_store_from_config(config), audit)
    user = repo.get_user(username=username)
    if user.disabled:
        raise PermissionDeniedError(f"{username} is disabled")
    actor = Actor.from_user(user)
    actor.require(Role.INVESTIGATOR, action="searching recorded footage")
    runner = postevent_runner(config, repo, audit, deployments)
    allowed = None if user.cameras is None else frozenset(user.cameras)
    return _Session(runner.search, actor, allowed)


def _job(s: _Session, job_id: str) -> JobRow:
    """The job, if it exists and its cameras are the actor's (else it reads as missing)."""
    try:
        job = s.search.store.get_job(job_id)
    except NotFoundError:
        raise ValidationError(f"no post-event job {job_id!r}") from None
    if s.allowed is not None and not set(job.camera_ids) <= s.allowed:
        raise ValidationError(f"no post-event job {job_id!r}")
    return job


def _line(job: JobRow) -> str:
    what = f"plate {job.query}" if job.kind == "plate" else "face"
    return (
        f"{job.id}\t{what}\t{job.state}\t{job.segments_done}/{job.segments_total} segments"
        f"\t{','.join(job.camera_ids)}\t{job.start_at.isoformat()}\t{job.end_at.isoformat()}"
    )


def _stderr() -> Console:
    """Progress goes to stderr: stdout carries only the job line or JSON (for scripts)."""
    from rich.console import Console

    return Console(stderr=True)


def _run(s: _Session, job: JobRow, probe: npt.NDArray[np.float32] | None) -> JobRow:
    """Run the job here with a progress bar; Ctrl-C pauses it after the current segment."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    stop = threading.Event()
    result: list[JobRow] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            result.append(s.search.run(job.id, probe, stop=stop))
        except BaseException as exc:  # reported in the calling thread
            errors.append(exc)

    worker = threading.Thread(target=work, name="postevent-cli", daemon=True)
    worker.start()
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, transient=True, console=_stderr()) as bar:
        task = bar.add_task("segments", total=max(job.segments_total, 1))
        try:
            while worker.is_alive():
                worker.join(0.5)
                bar.update(task, completed=s.search.store.get_job(job.id).segments_done)
        except KeyboardInterrupt:
            stop.set()
            worker.join()
    if errors:
        raise errors[0]
    return result[0] if result else s.search.store.get_job(job.id)


def _probe(s: _Session, path: Path) -> npt.NDArray[np.float32]:
    from vigil.governance.postevent import probe_template
    from vigil.perception.image import load_image

    return probe_template(s.search.pipeline, load_image(path))


@footage.command("start")
def start(
    case_id: str = typer.Option(..., "--case", help="The case the search is for."),
    authorisation: str = typer.Option(
        ..., "--authorisation", help="An approved post-event authorisation id."
    ),
    cameras: str = typer.Option(..., "--cameras", help="Comma-separated camera ids."),
    since: str = typer.Option(..., "--from", help="Window start, ISO 8601 with zone."),
    until: str = typer.Option(..., "--to", help="Window end, ISO 8601 with zone."),
    plate: str | None = typer.Option(None, "--plate", help="Search for this plate."),
    max_distance: int = typer.Option(0, "--max-distance", min=0, max=2, help="Plate edits."),
    profile: str | None = typer.Option(None, "--profile", help="Plate region profile."),
    probe: Path | None = typer.Option(None, "--probe", help="Search for this face (a photo)."),
    actor: str = ACTOR,
    reason: str = REASON,
    config_path: Path | None = CONFIG,
) -> None:
    """Start a search (``--plate`` or ``--probe``) and run it here; prints the job line."""
    if (plate is None) == (probe is None):
        raise ValidationError("give exactly one of --plate and --probe")
    s = _open(config_path, actor)
    cams = [c.strip() for c in cameras.split(",") if c.strip()]
    start_at, end_at = parse_when(since, "--from"), parse_when(until, "--to")
    template = None
    if plate is not None:
        job = s.search.start_plate(
            s.actor,
            case_id=case_id,
            authorisation_id=authorisation,
            plate=plate,
            max_distance=max_distance,
            profile=profile,
            cameras=cams,
            start=start_at,
            end=end_at,
            reason=reason,
            allowed=s.allowed,
        )
    else:
        assert probe is not None
        template = _probe(s, probe)  # refused (no face) before anything is recorded
        job = s.search.start(
            s.actor,
            case_id=case_id,
            authorisation_id=authorisation,
            cameras=cams,
            start=start_at,
            end=end_at,
            reason=reason,
            allowed=s.allowed,
        )
    typer.echo(_line(_run(s, job, template)))


@footage.command("status")
def status(
    job_id: str,
    follow: bool = typer.Option(False, "--follow", "-f", help="Watch until it stops running."),
    interval: float = typer.Option(1.0, "--interval", min=0.1, max=60, help="Seconds per poll."),
    actor: str = ACTOR,
    config_path: Path | None = CONFIG,
) -> None:
    """The job's state and progress (``--follow``: a progress bar until it stops running)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    s = _open(config_path, actor)
    job = _job(s, job_id)
    if follow and job.state == "running":
        columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, transient=True, console=_stderr()) as bar:
            task = bar.add_task(job.state, total=max(job.segments_total, 1))
            while job.state == "running":
                bar.update(task, completed=job.segments_done)
                time.sleep(interval)
                job = s.search.store.get_job(job_id)
    typer.echo(_line(job))


@footage.command("cancel")
def cancel(
    job_id: str, actor: str = ACTOR, reason: str = REASON, config_path: Path | None = CONFIG
) -> None:
    """Stop a job for good (audited); its results stay with the case."""
    s = _open(config_path, actor)
    _job(s, job_id)
    typer.echo(_line(s.search.cancel(s.actor, job_id, reason)))


@footage.command("resume")
def resume(
    job_id: str,
    probe: Path | None = typer.Option(None, "--probe", help="Face jobs: the probe photo again."),
    actor: str = ACTOR,
    reason: str = REASON,
    config_path: Path | None = CONFIG,
) -> None:
    """Resume a paused job here from its first unfinished segment (audited)."""
    s = _open(config_path, actor)
    job = _job(s, job_id)
    template = None
    if job.kind == "face":
        if probe is None:
            raise ValidationError("a face job resumes with --probe (probes are never stored)")
        template = _probe(s, probe)
    job = s.search.resume(s.actor, job_id, reason)
    typer.echo(_line(_run(s, job, template)))


@footage.command("results")
def results(
    job_id: str,
    hits: bool = typer.Option(False, "--hits", help="Also list the per-frame hits."),
    actor: str = ACTOR,
    reason: str = REASON,
    config_path: Path | None = CONFIG,
) -> None:
    """The job's appearances (and hits) as JSON (the view is audited)."""
    s = _open(config_path, actor)
    job = _job(s, job_id)
    found, rows, cut = s.search.view_appearances(s.actor, job_id, reason, via="cli")
    pad = s.search.appearance_pad

    def hit(r: ResultRow) -> dict[str, object]:
        return {
            "camera_id": r.camera_id,
            "at": r.at.isoformat(),
            "score": round(r.score, 4),
            "text": r.text,
            "false_match_rate_upper": r.rate_upper,
        }

    doc: dict[str, object] = {
        "job": _line(job),
        "appearances": [
            {
                "camera_id": a.camera_id,
                "first_at": a.first_at.isoformat(),
                "last_at": a.last_at.isoformat(),
                "hits": a.hits,
                "best": hit(a.best),
                "clip_url": a.clip_url(pad),
            }
            for a in found
        ],
        "truncated": cut,
    }
    if hits:
        doc["hits"] = [hit(r) for r in rows]
    typer.echo(json.dumps(doc, indent=2))
