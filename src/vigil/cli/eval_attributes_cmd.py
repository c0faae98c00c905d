"""``vigil eval attributes``: clothing-colour accuracy against the committed hand labels.

Writes a JSON report (stable keys: ``crops``, ``bands.upper|lower.accuracy|labelled|confusion``,
``queries[].precision_at_10``), a Markdown copy and a PNG of both confusion matrices next to
``--out``. Needs the shared data folder (the crops are cut from it; none is committed).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add the ``attributes`` command to the ``vigil eval`` app."""

    @app.command("attributes")
    def attributes(
        data: Path = typer.Option(
            Path("../shared/data"), "--data", help="The shared data folder (crops are cut from it)."
        ),
        labels: Path | None = typer.Option(
            None,
            "--labels",
            help="Labels CSV (default: the committed vigil/eval/attribute_labels.csv).",
        ),
        out: Path = typer.Option(Path("reports/attributes.json"), "--out", help="Report JSON."),
    ) -> None:
        """Per-band colour accuracy, confusion matrices and top-10 precision of five queries."""
        from vigil.errors import InputError
        from vigil.eval.attributes import LABELS, evaluate, markdown, plot, read_labels
        from vigil.eval.report import write_json

        if not data.is_dir():
            console.print(f"[red]{data} is not a folder (the shared data is needed)[/red]")
            raise typer.Exit(2)
        try:
            rows = read_labels(labels or LABELS)
        except (OSError, KeyError, ValueError) as exc:
            console.print(f"[red]cannot read the labels: {exc}[/red]")
            raise typer.Exit(2) from None
        try:
            doc = evaluate(data, rows)
        except InputError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
        write_json(out, doc)
        out.with_suffix(".md").write_text(markdown(doc))
        plot(doc, out.with_suffix(".png"))
        for band, r in doc["bands"].items():
            console.print(f"  {band}: accuracy {r['accuracy']:.3f} on {r['labelled']} crops")
        for q in doc["queries"]:
            console.print(f"  {q['query']}: P@10 {q['precision_at_10']:.1f}")
