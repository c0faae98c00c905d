"""``vigil db migrate|status|backup|restore`` round trip on both engines, through the CLI."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.support.storage import fresh_sqlite, make_sighting
from vigil.cli.main import app
from vigil.errors import InputError
from vigil.storage import Database, Repository


def _config(tmp_path: Path, db: Database) -> Path:
    url = db.url.render_as_string(hide_password=False)
    path = tmp_path / "vigil.yaml"
    path.write_text(f"system:\n  data_dir: {tmp_path}\nstorage:\n  url: '{url}'\n")
    return path


def test_backup_restore_round_trip(db: Database, tmp_path: Path) -> None:
    runner = CliRunner()
    cfg = str(_config(tmp_path, db))
    result = runner.invoke(app, ["db", "migrate", "--config", cfg])
    assert result.exit_code == 0, result.output
    assert "up to date" in runner.invoke(app, ["db", "status", "-c", cfg]).output
    repo = Repository(db)
    repo.add_sightings([make_sighting(i) for i in range(25)])
    backup = tmp_path / "backups" / "vigil.bak"
    result = runner.invoke(app, ["db", "backup", str(backup), "-c", cfg])
    assert result.exit_code == 0, result.output
    assert backup.stat().st_size > 0
    repo.delete_sightings([make_sighting(i).id for i in range(10)])
    repo.add_sightings([make_sighting(100)])
    assert repo.count_sightings() == 16
    db.dispose()
    result = runner.invoke(app, ["db", "restore", str(backup), "-c", cfg, "--yes"])
    assert result.exit_code == 0, result.output
    db.dispose()
    restored = Repository(db)
    assert {s.id for s in restored.list_sightings()} == {make_sighting(i).id for i in range(25)}
    assert db.current_revision() == db.head_revision()


def test_restore_refuses_a_non_backup(sqlite_template: Path, tmp_path: Path) -> None:
    db = fresh_sqlite(sqlite_template, tmp_path)
    bogus = tmp_path / "not-a-backup"
    bogus.write_bytes(b"hello" * 100)
    result = CliRunner().invoke(
        app, ["db", "restore", str(bogus), "-c", str(_config(tmp_path, db)), "--yes"]
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError)
