"""``vigil eval plates``: licence-plate detection and reading accuracy on the OpenALPR layout.

Runs the product's plate reader (:class:`vigil.perception.plates.PlateReader`, PP-OCRv4 text
models) on every ``<img>.jpg`` + ``<img>.txt`` (``file x y w h plate``) of a folder and writes a
JSON report with stable keys: ``detection_recall`` (best read's plate box at IoU >= 0.5 with the
truth), ``exact_accuracy``, ``char_accuracy`` (1 - edit distance / length), ``ms_per_image``,
``images``, plus per-image rows under ``per_image``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)


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
    ) -> None:
        """Plate reader on a benchmark folder: detection recall, exact and character accuracy."""
        from vigil.eval.report import Json, JsonValue, write_json
        from vigil.perception.image import load_image
        from vigil.perception.plates import PlateReader, get_profile
        from vigil.perception.plates.benchmark import char_accuracy, iou, load_benchmark

        try:
            profile = get_profile(region)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        if not data_dir.is_dir():
            raise typer.BadParameter(f"{data_dir} is not a folder")
        items = load_benchmark(data_dir)[skip:][:limit]
        if not items:
            raise typer.BadParameter(f"no <img>.txt ground truth in {data_dir}")
        reader = PlateReader.from_models(profile, threads=threads)
        rows: list[JsonValue] = []
        found = exact = 0
        chars = elapsed = 0.0
        for item in items:
            image = load_image(item.image)
            start = time.perf_counter()
            best = reader.best(image)
            elapsed += time.perf_counter() - start
            text = best.text if best else ""
            overlap = iou(best.xyxy, item.xyxy) if best else 0.0
            found += overlap >= 0.5
            exact += text == item.text
            chars += char_accuracy(text, item.text)
            rows.append(
                {
                    "image": item.image.name,
                    "truth": item.text,
                    "read": text,
                    "confidence": round(best.confidence, 4) if best else None,
                    "iou": round(overlap, 4),
                }
            )
        n = len(items)
        doc: Json = {
            "dataset": str(data_dir),
            "region": profile.name,
            "images": n,
            "skipped": skip,
            "detection_recall": found / n,
            "exact_accuracy": exact / n,
            "char_accuracy": chars / n,
            "ms_per_image": 1000.0 * elapsed / n,
            "per_image": rows,
        }
        write_json(out, doc)
        for key in ("images", "detection_recall", "exact_accuracy", "char_accuracy"):
            console.print(f"  {key}: {json.dumps(doc[key])}")
        console.print(f"  ms_per_image: {doc['ms_per_image']:.1f}")
        console.print(f"report: {out}")
