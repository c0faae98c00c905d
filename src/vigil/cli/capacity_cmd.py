"""``vigil capacity``: how many cores, nodes, Gbit/s and terabytes a fleet of cameras needs.

A thin command over :mod:`vigil.system.capacity`, which holds the model and every per-unit figure
with where it was measured. Text (a table, then the assumptions with their sources) by default,
the same content as one JSON object with ``--json``. Bad input exits 2 with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from vigil.system.capacity import GpuBench, Scenario, size


def _print_table(result: dict[str, object]) -> None:
    console = Console()
    table = Table(title="vigil capacity", show_header=True)
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key in (
        "cpu_ms_per_frame",
        "cpu_cores",
        "gpus",
        "nodes",
        "network_gbps",
        "storage_tb_per_day",
        "storage_tb_total",
        "index_memory_gb",
    ):
        value = result[key]
        table.add_row(key, "not measured" if value is None else f"{value:,}")
    console.print(table)
    rows = Table(title="assumptions (per unit, with where each was measured)")
    for col in ("name", "value", "unit", "source"):
        rows.add_column(col, overflow="fold")
    assumptions = result["assumptions"]
    assert isinstance(assumptions, list)
    for a in assumptions:
        value = "null" if a["value"] is None else f"{a['value']:,}"
        rows.add_row(a["name"], value, a["unit"], a["source"])
    console.print(rows)
    notes = result["notes"]
    assert isinstance(notes, list)
    for note in notes:
        console.print(f"note: {note}")


def register(app: typer.Typer) -> None:
    """Add ``vigil capacity`` to the top-level app."""

    @app.command("capacity")
    def capacity(
        cameras: int = typer.Option(..., help="Cameras to analyse."),
        fps: float = typer.Option(..., help="Analysed frames per second per camera."),
        faces_per_frame: float = typer.Option(
            1.0, help="Faces embedded per analysed frame (inside deployments; an input)."
        ),
        archived_faces_per_hour: float = typer.Option(
            0.0,
            help="Face sightings archived per camera-hour under post-event authorisations "
            "(default 0: without one, non-match faces are never stored).",
        ),
        plates: bool = typer.Option(False, "--plates", help="Read plates on every camera."),
        plate_reads_per_hour: float = typer.Option(
            60.0, help="Plate reads stored per camera-hour with --plates (an input)."
        ),
        gpu: str = typer.Option(
            "none", help="GPU per node: none, h100 or h200 (GPUs need --gpu-bench)."
        ),
        gpu_bench: Path | None = typer.Option(
            None,
            "--gpu-bench",
            help="JSON written by bench/gpu.py on a CUDA machine: its cameras-per-GPU figure "
            "sizes the GPUs.",
        ),
        retention_days: float = typer.Option(31.0, help="Days records are kept."),
        cores_per_node: int = typer.Option(16, help="CPU cores per node."),
        utilisation: float = typer.Option(0.7, help="Target CPU utilisation, in (0, 1]."),
        bitrate_mbps: float = typer.Option(2.0, help="Stream bitrate per camera (Mbit/s)."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    ) -> None:
        """Size a deployment from this project's measured per-frame and per-record costs."""
        scenario = Scenario(
            cameras=cameras,
            fps=fps,
            faces_per_frame=faces_per_frame,
            archived_faces_per_camera_hour=archived_faces_per_hour,
            plates=plates,
            plate_reads_per_camera_hour=plate_reads_per_hour,
            gpu=gpu,
            retention_days=retention_days,
            cores_per_node=cores_per_node,
            utilisation=utilisation,
            bitrate_mbps=bitrate_mbps,
        )
        result = size(scenario, GpuBench.from_file(gpu_bench) if gpu_bench else None)
        if as_json:
            typer.echo(json.dumps(result, indent=1))
        else:
            _print_table(result)
