"""``vigil sightings search``: the attribute search on both engines from the CLI, refusing a
protected characteristic in any option (exit 2, audited as search.refused) before anything is
searched, and auditing each search."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.cli import CliCalls
from vigil.core.domain import Role, UserRow
from vigil.core.records import ObjectClass, Sighting
from vigil.governance.audit import iter_entries
from vigil.storage import Database, Repository

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Cli(CliCalls):
    cfg: Path
    repo: Repository
    capsys: pytest.CaptureFixture[str]

    def actions(self) -> list[str]:
        return [e.action for e in iter_entries(self.repo)]


@pytest.fixture
def cli(db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Cli]:
    url = db.url.render_as_string(hide_password=False)
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f"system:\n  data_dir: {tmp_path}\nstorage:\n  url: {url}\n")
    repo = Repository(db)
    for name, roles in [("ivan", (Role.INVESTIGATOR,)), ("olga", (Role.OPERATOR,))]:
        repo.add_user(UserRow(uuid.uuid4().hex, name, "x", NOW, roles))
    repo.add_sightings(
        Sighting(
            f"s-{i}",
            "cam-1",
            cls,
            NOW + timedelta(minutes=i),
            NOW + timedelta(minutes=i),
            0.5,
            upper_colour=up,
            body_colour=body,
            colour_score=score,
        )
        for i, (cls, up, body, score) in enumerate(
            [
                (ObjectClass.PERSON, "red", None, 0.5),
                (ObjectClass.PERSON, "red", None, 0.8),
                (ObjectClass.TRUCK, None, "white", 0.7),
                (ObjectClass.PERSON, "blue", None, 0.9),
            ]
        )
    )
    yield Cli(cfg, repo, capsys)


BASE = ["sightings", "search", "--actor", "ivan", "--reason", "case 3"]


def test_search_ranks_and_is_audited(cli: Cli) -> None:
    out = cli.ok(*BASE, "--upper", "red")
    assert [line.split("\t")[0] for line in out.splitlines()] == ["s-1", "s-0"]
    assert cli.ok(*BASE, "--q", "white van").split("\t")[0] == "s-2"
    assert cli.actions() == ["search.run", "search.run"]


@pytest.mark.parametrize(
    "extra",
    [
        ["--q", "young man in red"],
        ["--upper", "Skin Tone"],
        ["--field", "ethnicity=any"],
        ["--field", "Religions=x", "--upper", "red"],
    ],
)
def test_protected_terms_are_refused_and_audited(cli: Cli, extra: list[str]) -> None:
    err = cli.fails(2, *BASE, *extra)
    assert "does not search people by" in err
    assert cli.actions() == ["search.refused"]


@pytest.mark.parametrize(
    ("code", "args"),
    [
        (2, [*BASE, "--upper", "chartreuse"]),
        (2, [*BASE, "--field", "frobnicate=1"]),
        (2, [*BASE, "--field", "noequals"]),
        (4, ["sightings", "search", "--actor", "olga", "--reason", "x y z", "--upper", "red"]),
    ],
)
def test_bad_input_exits_with_a_message_and_searches_nothing(
    cli: Cli, code: int, args: list[str]
) -> None:
    assert cli.fails(code, *args).strip()
    assert "search.run" not in cli.actions()
