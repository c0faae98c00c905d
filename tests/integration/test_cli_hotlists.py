"""``vigil hotlists``: the CLI goes through the hotlist service, refuses what the API refuses (with
the rule and the right exit code, before anything is written), and every change lands in an intact
audit chain under the actor's user id. SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.cli import CliCalls
from vigil.core.domain import Role, UserRow
from vigil.governance.audit import AuditLog, iter_entries
from vigil.storage import Database, Repository
from vigil.storage.plates import PlateStore

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ID = r"([0-9a-f]{32})"


@dataclass
class Cli(CliCalls):
    cfg: Path
    repo: Repository
    capsys: pytest.CaptureFixture[str]
    tmp: Path

    def actions(self) -> list[tuple[str, str]]:
        return [(e.action, e.actor) for e in iter_entries(self.repo)]

    @property
    def store(self) -> PlateStore:
        return PlateStore(self.repo.db)


@pytest.fixture
def cli(db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Cli]:
    url = db.url.render_as_string(hide_password=False)
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f"system:\n  data_dir: {tmp_path}\nstorage:\n  url: {url}\n")
    repo = Repository(db)
    for name, roles in [("ivan", (Role.INVESTIGATOR,)), ("olga", (Role.OPERATOR,))]:
        repo.add_user(UserRow(uuid.uuid4().hex, name, "x", NOW, roles))
    yield Cli(cfg, repo, capsys, tmp_path)


def create_args(*extra: str, priority: str = "80", actor: str = "ivan") -> list[str]:
    return [
        "hotlists",
        "create",
        "--name",
        "stolen vehicles",
        "--priority",
        priority,
        "--retention-days",
        "90",
        "--reason",
        "theft reports",
        "--actor",
        actor,
        *extra,
    ]


def add_args(hotlist: str, plate: str, actor: str = "ivan") -> list[str]:
    return ["hotlists", "add", hotlist, "--plate", plate, "--reason", "case 17", "--actor", actor]


def new_list(cli: Cli) -> str:
    out = cli.ok(*create_args("--expires-at", "2099-01-01"))
    m = re.search(rf"created hotlist {ID} \(priority 80, hits kept 90 days\)", out)
    assert m, out
    return m.group(1)


def test_round_trip_is_audited_under_the_actor(cli: Cli) -> None:
    hl = new_list(cli)
    listed = cli.ok("hotlists", "list").strip().split("\t")
    expiry = "2099-01-01T00:00:00+00:00"
    assert listed == [hl, "stolen vehicles", "priority 80", "0 entries", expiry, "90 days"]
    out = cli.ok(*add_args(hl, "ab-1234"))
    exact = re.search(rf"added entry {ID} \(AB1234\)", out)
    assert exact, out
    out = cli.ok(
        "hotlists",
        "add",
        hl,
        "--pattern",
        "AB?12*",
        "--reason",
        "witness",
        "--expires-at",
        "2098-06-01T10:00:00+02:00",
        "--actor",
        "ivan",
    )
    wild = re.search(rf"added entry {ID} \(AB\?12\*\)", out)
    assert wild, out
    assert "2 entries" in cli.ok("hotlists", "list")
    shown = cli.ok("hotlists", "show", hl)
    assert "stolen vehicles" in shown and "theft reports" in shown
    assert f"entry {exact.group(1)}\tAB1234\tcase 17\t-" in shown
    assert f"entry {wild.group(1)}\tAB?12*\twitness\t2098-06-01T08:00:00+00:00" in shown

    err = cli.fails(1, *add_args(hl, "AB 1234"))  # the same plate after normalisation
    assert "already holds AB1234" in err
    cli.ok(
        "hotlists", "remove-entry", hl, exact.group(1), "--reason", "recovered", "--actor", "ivan"
    )
    assert [e.pattern for e in cli.store.list_entries(hl)] == ["AB?12*"]
    cli.ok("hotlists", "delete", hl, "--reason", "case closed", "--actor", "ivan")
    assert cli.store.list_hotlists() == [] and cli.store.list_entries(hl) == []
    assert cli.ok("hotlists", "list") == ""

    ivan = cli.repo.get_user(username="ivan").id
    assert cli.actions() == [
        ("hotlist.create", ivan),
        ("hotlist.add_entry", ivan),
        ("hotlist.add_entry", ivan),
        ("hotlist.remove_entry", ivan),
        ("hotlist.delete", ivan),
    ]
    entries = list(iter_entries(cli.repo))
    assert {e.target for e in entries} == {f"hotlist:{hl}"}
    assert [e.reason for e in entries] == [
        "theft reports",
        "case 17",
        "witness",
        "recovered",
        "case closed",
    ]
    assert dict(entries[2].details)["wildcard"] == "true"
    assert all("AB" not in v for e in entries for _, v in e.details)  # plates stay out of the chain
    assert AuditLog(cli.repo, anchor_path=cli.tmp / "audit-anchor.json").verify().ok


def test_a_user_without_the_role_is_refused_and_nothing_is_written(cli: Cli) -> None:
    err = cli.fails(4, *create_args(actor="olga"))
    assert "needs the role supervisor or investigator" in err
    hl = new_list(cli)
    assert "needs the role" in cli.fails(4, *add_args(hl, "AB1234", actor="olga"))
    entry = cli.ok(*add_args(hl, "CD5678")).split()[2]
    args = ["--reason", "not mine", "--actor", "olga"]
    assert "needs the role" in cli.fails(4, "hotlists", "remove-entry", hl, entry, *args)
    assert "needs the role" in cli.fails(4, "hotlists", "delete", hl, *args)
    cli.repo.update_user(cli.repo.get_user(username="ivan").id, disabled=True)
    assert "disabled" in cli.fails(4, *add_args(hl, "EF9012"))
    assert [e.pattern for e in cli.store.list_entries(hl)] == ["CD5678"]
    assert [a for a, _ in cli.actions()] == ["hotlist.create", "hotlist.add_entry"]


def test_unknown_users_hotlists_and_entries(cli: Cli) -> None:
    assert "no user 'nobody'" in cli.fails(1, *create_args(actor="nobody"))
    assert cli.store.list_hotlists() == []
    assert "no hotlist 'nope'" in cli.fails(1, "hotlists", "show", "nope")
    assert "no hotlist 'nope'" in cli.fails(1, *add_args("nope", "AB1234"))
    args = ["--reason", "gone", "--actor", "ivan"]
    assert "no hotlist 'nope'" in cli.fails(1, "hotlists", "delete", "nope", *args)
    hl = new_list(cli)
    assert "no entry 'nope'" in cli.fails(1, "hotlists", "remove-entry", hl, "nope", *args)
    assert cli.actions() == [("hotlist.create", cli.repo.get_user(username="ivan").id)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (create_args(priority="101"), "--priority: Input should be less than or equal to 100"),
        (create_args(priority="-1"), "--priority: Input should be greater than or equal to 0"),
        (create_args("--expires-at", "soon"), "--expires-at must be an ISO 8601"),
        (create_args("--expires-at", "2000-01-01"), "expires_at must be in the future"),
        ([*create_args()[:-2], "--actor", "ivan", "--retention-days", "0"], "--retention-days"),
        (
            ["hotlists", "create", "--name", "x", "--priority", "high"],
            "Invalid value for '--priority'",
        ),
    ],
)
def test_bad_hotlists_are_refused_with_the_rule(cli: Cli, args: list[str], message: str) -> None:
    assert message in cli.fails(2, *args)
    assert cli.store.list_hotlists() == [] and cli.actions() == []


@pytest.mark.parametrize(
    ("plate", "message"),
    [
        ("AB_1234", "--pattern: String should match pattern"),
        ("AB12345678901234567890123", "--pattern: String should match pattern"),
        ("AB1234567890123456", "a plate pattern is 1-16 letters"),
        ("**", "only '*' matches every plate"),
        ("", "--pattern: String should match pattern"),
        ("?*", "at least 4 are needed"),  # issue 24: the services' one validator
        ("AB?1*", "has 3 fixed character(s)"),
    ],
)
def test_malformed_plate_patterns_are_refused(cli: Cli, plate: str, message: str) -> None:
    hl = new_list(cli)
    err = cli.fails(2, *add_args(hl, plate))
    assert message in err, err
    assert cli.store.list_entries(hl) == []
    assert [a for a, _ in cli.actions()] == ["hotlist.create"]


def test_short_reasons_are_refused_like_the_api(cli: Cli) -> None:
    hl = new_list(cli)
    err = cli.fails(2, *[*add_args(hl, "AB1234")[:-4], "--reason", "x", "--actor", "ivan"])
    assert "--reason: String should have at least 3 characters" in err
    err = cli.fails(2, "hotlists", "delete", hl, "--reason", "  ", "--actor", "ivan")
    assert "--reason" in err
    assert [h.id for h in cli.store.list_hotlists()] == [hl]
    assert [a for a, _ in cli.actions()] == ["hotlist.create"]
