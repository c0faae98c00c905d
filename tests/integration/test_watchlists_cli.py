"""``vigil watchlists``: the CLI goes through the governance service, refuses what the API refuses
(with the reason and the right exit code), and every change lands in an intact audit chain.
Real face models and LFW photos; SQLite and PostgreSQL."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.cli import CliCalls
from vigil.core.domain import Role, UserRow
from vigil.core.records import ObjectClass, Sighting
from vigil.governance.audit import AuditLog, iter_entries
from vigil.perception.image import load_image
from vigil.storage import Database, Repository
from vigil.storage.media import LocalMediaStore

pytestmark = [pytest.mark.models, pytest.mark.data]

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Cli(CliCalls):
    cfg: Path
    repo: Repository
    media: LocalMediaStore
    capsys: pytest.CaptureFixture[str]
    photos: list[Path]
    tmp: Path

    def png(self, name: str, img: np.ndarray) -> Path:
        path = self.tmp / f"{name}.png"
        cv2.imwrite(str(path), img)
        return path

    def actions(self) -> list[str]:
        return [e.action for e in iter_entries(self.repo)]


@pytest.fixture
def cli(
    db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str], lfw_dir: Path
) -> Iterator[Cli]:
    url = db.url.render_as_string(hide_password=False)
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f"system:\n  data_dir: {tmp_path}\nstorage:\n  url: {url}\n")
    repo = Repository(db)
    for name, roles in [("ivan", (Role.INVESTIGATOR,)), ("olga", (Role.OPERATOR,))]:
        repo.add_user(UserRow(uuid.uuid4().hex, name, "x", NOW, roles))
    folders = sorted(d for d in lfw_dir.iterdir() if d.is_dir() and len(list(d.iterdir())) >= 2)
    photos = [sorted(d.iterdir())[0] for d in folders[:3]]
    yield Cli(cfg, repo, LocalMediaStore(tmp_path / "media"), capsys, photos, tmp_path)


def created_id(out: str) -> str:
    m = re.search(r"created watchlist ([0-9a-f]{32})", out)
    assert m, out
    return m.group(1)


def new_list(cli: Cli) -> str:
    return created_id(
        cli.ok(
            "watchlists",
            "create",
            "--name",
            "missing persons",
            "--category",
            "missing_or_vulnerable",
            "--expires-at",
            "2099-01-01",
            "--actor",
            "ivan",
            "--reason",
            "report MP-7",
        )
    )


def enrol_args(wl: str, photo: Path, provenance: str = "court file 2025/9") -> list[str]:
    return [
        "watchlists",
        "enrol",
        wl,
        "--label",
        "person A",
        "--photo",
        str(photo),
        "--provenance",
        provenance,
        "--actor",
        "ivan",
        "--reason",
        "warrant 12",
    ]


def test_create_enrol_show_versions_remove_all_audited(cli: Cli) -> None:
    wl = new_list(cli)
    assert wl in cli.ok("watchlists", "list") and "v0" in cli.ok("watchlists", "list")
    out = cli.ok(*enrol_args(wl, cli.photos[0]))
    sid = re.search(r"enrolled subject ([0-9a-f]{32})", out)
    assert sid and "version 1" in out
    shown = cli.ok("watchlists", "show", wl)
    assert "person A" in shown and "court file 2025/9" in shown and "1 photo(s)" in shown
    w = cli.repo.get_watchlist(wl)
    assert w.version == 1 and w.version_hash in shown
    cli.ok(
        "watchlists",
        "remove-subject",
        wl,
        sid.group(1),
        "--actor",
        "ivan",
        "--reason",
        "warrant withdrawn",
    )
    assert cli.repo.list_subjects(wl) == [] and list(cli.media.keys()) == []
    history = cli.ok("watchlists", "versions", wl).splitlines()
    assert [line.split("\t")[3] for line in history] == [
        "watchlist.create",
        "watchlist.enrol",
        "watchlist.remove_subject",
    ]
    assert history[1].split("\t")[4] == w.version_hash
    user = cli.repo.get_user(username="ivan")
    assert {e.actor for e in iter_entries(cli.repo)} == {user.id}
    assert AuditLog(cli.repo, anchor_path=cli.tmp / "audit-anchor.json").verify().ok


def test_bad_photos_are_refused_with_the_reason_and_audited(cli: Cli) -> None:
    wl = new_list(cli)
    a, b = (cv2.resize(load_image(p), (250, 250)) for p in cli.photos[:2])
    cases = {
        "no face found": cli.png("blank", np.full((240, 240, 3), 128, np.uint8)),
        "2 faces found": cli.png("two", np.hstack([a, b])),
        "quality bar": cli.png("small", cv2.resize(a, (50, 50))),
        "unreadable image": cli.tmp / "vigil.yaml",
    }
    for reason, path in cases.items():
        err = cli.fails(2, *enrol_args(wl, path))
        assert "enrolment refused" in err and reason in err, err
    assert cli.actions().count("watchlist.enrol_refused") == 4
    assert cli.repo.list_subjects(wl) == [] and list(cli.media.keys()) == []


def test_faces_from_the_camera_archive_are_refused(cli: Cli) -> None:
    wl = new_list(cli)
    crop = cli.photos[2].read_bytes()
    key = cli.media.put(crop)
    cli.repo.add_sightings([Sighting("s1", "cam-1", ObjectClass.FACE, NOW, NOW, 0.9, key)])
    err = cli.fails(4, *enrol_args(wl, cli.photos[2]))
    assert "camera archive" in err
    err = cli.fails(4, *enrol_args(wl, cli.photos[1], provenance="sighting:s1"))
    assert "points at the camera archive" in err
    assert cli.actions().count("watchlist.enrol_refused") == 2
    assert cli.repo.list_subjects(wl) == []


def test_bad_input_roles_and_unknown_records(cli: Cli) -> None:
    base = ["--name", "l", "--expires-at", "2099-01-01", "--reason", "r"]
    err = cli.fails(2, "watchlists", "create", "--category", "dissidents", "--actor", "ivan", *base)
    assert "--category must be one of" in err
    err = cli.fails(
        4, "watchlists", "create", "--category", "wanted_by_court", "--actor", "olga", *base
    )
    assert "needs the role supervisor or investigator" in err
    err = cli.fails(
        1, "watchlists", "create", "--category", "wanted_by_court", "--actor", "nobody", *base
    )
    assert "nobody" in err
    bad_date = ["--name", "l", "--expires-at", "soon", "--reason", "r", "--actor", "ivan"]
    err = cli.fails(2, "watchlists", "create", "--category", "wanted_by_court", *bad_date)
    assert "ISO 8601" in err
    past = ["--name", "l", "--expires-at", "2000-01-01", "--reason", "r", "--actor", "ivan"]
    err = cli.fails(2, "watchlists", "create", "--category", "wanted_by_court", *past)
    assert "future" in err
    wl = new_list(cli)
    assert "no subject" in cli.fails(
        1, "watchlists", "remove-subject", wl, "nope", "--actor", "ivan", "--reason", "r"
    )
    assert "no watchlist" in cli.fails(1, "watchlists", "show", "nope")
    err = cli.fails(2, *enrol_args(wl, cli.tmp / "missing.jpg"))
    assert "cannot read --photo" in err
    cli.fails(2, "watchlists", "enrol", wl, "--label", "x")  # usage error: options missing
    assert cli.actions() == ["watchlist.create"]  # refusals before the service leave no entry
