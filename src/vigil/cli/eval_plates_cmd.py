"""``vigil eval plates``: licence-plate detection and reading accuracy on the OpenALPR layout.

Runs the product's plate reader (:class:`vigil.perception.plates.PlateReader`: PP-OCRv4 text
detection; PP-OCRv4, Vigil's plate recogniser or both fused for reading, ``--recogniser``) on
every ``<img>.jpg`` + ``<img>.txt`` (``file x y w h plate``) of a folder and writes a
JSON report with stable keys: ``detection_recall`` (best read's plate box at IoU >= 0.5 with the
truth), ``exact_accuracy``, ``char_accuracy`` (1 - edit distance / length), ``ms_per_image``,
``images``; also ``exact_accuracy_at_plate``, ``confusable_accuracy`` and ``outcomes`` (what went
wrong, see :mod:`vigil.eval.plates`), per-image rows under ``per_image``, files that could not be
decoded under ``unreadable`` (counted as misses), and a plot beside the report (``.png``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from vigil.config.plates import PlatesConfig

if TYPE_CHECKING:
    from vigil.perception.image import BGRImage
    from vigil.perception.plates import PlateCandidate, PlateReader

console = Console(stderr=True)
KEYS = (
    "images",
    "detection_recall",
    "exact_accuracy",
    "exact_accuracy_at_plate",
    "confusable_accuracy",
    "char_accuracy",
    "outcomes",
)


def _stretches(text: str) -> list[float]:
    """``--extra-stretches`` as ``plates.extra_stretches`` validates it (bounds, count)."""
    try:
        return PlatesConfig(
            extra_stretches=[float(v) for v in text.split(",") if v.strip()]
        ).extra_stretches
    except ValueError as exc:
        raise typer.BadParameter(f"--extra-stretches: {exc}") from None


def register(app: typer.Typer) -> None:
    """Add the ``plates`` command to the ``vigil eval`` app."""

    @app.command("plates")
    def plates(
        data_dir: Path = typer.Option(
            ..., "--dir", help="Folder of <img>.jpg + <img>.txt ('file x y w h plate')."
        ),
        out: Path = typer.Option(Path("reports/plates.json"), "--out", help="Report JSON."),
        region: str = typer.Option("us", "--region", help="Plate region profile (us, generic)."),
        skip: int = typer.Option(
            0,
            "--skip",
            min=0,
            help="Skip the first N images (sorted by name): --limit 60 is the reader's tuning "
            "set, --skip 60 the held-out rest.",
        ),
        limit: int | None = typer.Option(
            None, "--limit", min=1, help="First N images only (after --skip; bounded runs)."
        ),
        threads: int | None = typer.Option(
            None, "--threads", min=1, max=64, help="Inference threads (default: all, max 8)."
        ),
        recogniser: str = typer.Option(
            "ppocr",
            "--recogniser",
            help="Text recogniser: ppocr (PP-OCRv4), vigil (Vigil's plate-trained model) or "
            "fused (both, per character; plates.recogniser).",
        ),
        fusion_weight: float = typer.Option(
            PlatesConfig.model_fields["fusion_weight"].default,
            "--fusion-weight",
            min=0.0,
            max=1.0,
            help="Weight of Vigil's recogniser in fused reads (plates.fusion_weight).",
        ),
        extra_stretches: str = typer.Option(
            "",
            "--extra-stretches",
            help="Comma-separated widening factors each row is also read at, e.g. 1.0,1.6 "
            "(plates.extra_stretches).",
        ),
        vehicles: bool = typer.Option(
            False,
            "--vehicles",
            help="Read only inside vehicle boxes found by the object detector (NanoDet), the "
            "largest plates.max_vehicles_per_frame of them, as a camera's plate stage does; "
            "ms_per_image then includes the detector.",
        ),
    ) -> None:
        """Plate reader on a benchmark folder: detection recall, exact and character accuracy."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        from vigil.errors import InputError
        from vigil.eval.plates import ImageScore, plot_outcomes, score_image, summary
        from vigil.eval.report import Json, write_json
        from vigil.perception.image import load_image
        from vigil.perception.plates import PlateReader, get_profile
        from vigil.perception.plates.benchmark import load_benchmark
        from vigil.perception.plates.reader import RECOGNISERS

        try:
            profile = get_profile(region)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        if recogniser not in RECOGNISERS:
            raise typer.BadParameter(
                f"--recogniser must be one of {', '.join(RECOGNISERS)}, got {recogniser!r}"
            )
        if not data_dir.is_dir():
            raise typer.BadParameter(f"{data_dir} is not a folder")
        try:
            items = load_benchmark(data_dir)[skip:][:limit]
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        if not items:
            raise typer.BadParameter(f"no <img>.txt ground truth in {data_dir}")
        stretches = _stretches(extra_stretches)
        reader = PlateReader.from_models(
            profile,
            threads=threads,
            recogniser=recogniser,
            fusion_weight=fusion_weight,
            extra_stretches=stretches,
        )
        read = _vehicle_reader(reader, threads) if vehicles else reader.read
        scores: list[ImageScore] = []
        unreadable: list[Json] = []
        elapsed = 0.0
        columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as bar:
            for item in bar.track(items, description="reading plates"):
                try:
                    image = load_image(item.image)
                except InputError as exc:  # a corrupt file is a miss, reported, not a crash
                    unreadable.append({"image": item.image.name, "error": str(exc)})
                    continue
                start = time.perf_counter()
                reads = read(image)
                elapsed += time.perf_counter() - start
                scores.append(score_image(item.image.name, item.text, item.xyxy, reads, profile))
        doc: Json = {
            "dataset": str(data_dir),
            "region": profile.name,
            "regions": "vehicles" if vehicles else "whole image",
            "recogniser": recogniser,
            "fusion_weight": fusion_weight if recogniser == "fused" else None,
            "extra_stretches": list(stretches),
            "skipped": skip,
            "ms_per_image": 1000.0 * elapsed / max(1, len(scores)),
            **summary(scores, unreadable),
        }
        write_json(out, doc)
        plot = plot_outcomes(scores, out.with_suffix(".png"), len(unreadable))
        for key in KEYS:
            console.print(f"  {key}: {json.dumps(doc[key])}")
        console.print(f"  ms_per_image: {doc['ms_per_image']:.1f}")
        if unreadable:
            console.print(
                f"  [yellow]{len(unreadable)} image(s) could not be read; see 'unreadable'"
            )
        console.print(f"report: {out} (plot: {plot})")


def _vehicle_reader(
    reader: PlateReader, threads: int | None
) -> Callable[[BGRImage], list[PlateCandidate]]:
    """Reads as the live plate stage makes them: one best read per vehicle box, best first."""
    from vigil.config.plates import PlatesConfig
    from vigil.perception.objects.detector import NanoDetDetector
    from vigil.perception.plates.vehicles import VehiclePlateReader

    frame = VehiclePlateReader(
        NanoDetDetector(threads=threads), reader, limit=PlatesConfig().max_vehicles_per_frame
    )

    def read(image: BGRImage) -> list[PlateCandidate]:
        return frame(image).reads

    return read
