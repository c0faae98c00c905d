"""Docs checked by tests: every setting and every command is documented, and the README's two
commands are what the Makefile and CI run."""

from __future__ import annotations

from pathlib import Path

from vigil import docsgen

REPO = Path(__file__).resolve().parents[2]


def test_configuration_reference_is_current() -> None:
    current = (REPO / "docs" / "configuration.md").read_text()
    assert current == docsgen.configuration_md(), (
        "docs/configuration.md is out of date: run `python -m vigil.docsgen`"
    )


def test_cli_reference_is_current() -> None:
    current = (REPO / "docs" / "cli.md").read_text()
    assert current == docsgen.cli_md(), "docs/cli.md is out of date: run `python -m vigil.docsgen`"


def test_every_setting_has_a_title_and_description() -> None:
    rows = [line for line in docsgen.configuration_md().splitlines() if line.startswith("| `")]
    assert len(rows) > 40
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert cells[1] and cells[2], f"setting without title/description: {row}"


def test_readme_names_the_two_commands_and_ci_runs_make_test() -> None:
    readme = (REPO / "README.md").read_text()
    assert "make run" in readme and "make test" in readme
    assert "make test" in (REPO / ".ci" / "run").read_text()
    makefile = (REPO / "Makefile").read_text()
    assert "\nrun:" in makefile and "\ntest:" in makefile
