"""``vigil evidence``: the key command (created 0600 outside the data directory, refused inside),
an unredacted export through the CLI that verifies, and the CLI's refusals with their exit codes.
SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.cli import CliCalls
from vigil.cli.main import main
from vigil.core.domain import Role, UserRow
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditAction, AuditLog, iter_entries
from vigil.governance.purge import Purger
from vigil.storage import Database, Repository
from vigil.storage.media import LocalMediaStore

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@dataclass
class Cli(CliCalls):
    cfg: Path
    repo: Repository
    capsys: pytest.CaptureFixture[str]
    tmp: Path


@pytest.fixture
def cli(db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    url = db.url.render_as_string(hide_password=False)
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(
        f"system:\n  data_dir: {tmp_path / 'data'}\nstorage:\n  url: {url}\n"
        f"governance:\n  evidence:\n    signing_key_file: {tmp_path / 'keys' / 'ev.key'}\n"
    )
    repo = Repository(db)
    for name, roles in [("ivan", (Role.INVESTIGATOR,)), ("olga", (Role.OPERATOR,))]:
        repo.add_user(UserRow(uuid.uuid4().hex, name, "x", NOW, roles))
    return Cli(cfg, repo, capsys, tmp_path)


def _purger(cli: Cli) -> tuple[AuditLog, Purger]:
    """The audit log and purger over the CLI's database and data folder (opens cases)."""
    audit = AuditLog(cli.repo, anchor_path=cli.tmp / "data" / "audit-anchor.json")
    purger = Purger(
        cli.repo,
        LocalMediaStore(cli.tmp / "data" / "media"),
        audit,
        post_event_covers=lambda *_: False,
        archive=None,
    )
    return audit, purger


def test_key_export_and_verify_through_the_cli(cli: Cli) -> None:
    out = cli.ok("evidence", "key")
    assert out.startswith("-----BEGIN PUBLIC KEY-----") and "# sha256 " in out
    assert (cli.tmp / "keys" / "ev.key").stat().st_mode & 0o777 == 0o600
    pub = cli.tmp / "pub.pem"
    pub.write_text(out)
    audit, purger = _purger(cli)
    ivan = Actor.from_user(cli.repo.get_user(username="ivan"))
    case = purger.open_case(ivan, "fraud", "report 3").id
    bundle = cli.tmp / "case.zip"
    args = ["evidence", "export", "--case", case, "--out", str(bundle), "--actor"]
    assert "needs --reason" in cli.fails(2, *args, "ivan", "--unredacted")
    assert "not olga's" in cli.fails(4, *args, "olga", "--unredacted", "--reason", "r")
    cli.ok(*args, "ivan", "--unredacted", "--reason", "court order 7")
    assert "exists" in cli.fails(2, *args, "ivan", "--unredacted", "--reason", "again")
    last = [e for e in iter_entries(cli.repo) if e.action == AuditAction.EXPORT.value][-1]
    assert last.actor == ivan.id and ("redacted", "false") in last.details
    cli.capsys.readouterr()
    main(["evidence", "verify", str(bundle), "--key", str(pub)])
    assert "bundle verified" in cli.capsys.readouterr().out
    assert audit.verify().ok


def test_a_key_inside_the_data_directory_is_refused(cli: Cli) -> None:
    cli.cfg.write_text(
        cli.cfg.read_text().replace(str(cli.tmp / "keys"), str(cli.tmp / "data" / "keys"))
    )
    assert "inside the data directory" in cli.fails(2, "evidence", "key")
    assert not (cli.tmp / "data" / "keys" / "ev.key").exists()


def test_the_case_lifecycle_from_the_shell(cli: Cli) -> None:
    audit, purger = _purger(cli)
    cli.repo.add_user(UserRow(uuid.uuid4().hex, "sam", "x", NOW, (Role.SUPERVISOR,)))
    ivan = Actor.from_user(cli.repo.get_user(username="ivan"))
    case = purger.open_case(ivan, "fraud", "report 3").id
    me = ["--actor", "ivan", "--reason"]
    # The camera must exist; then a window of it is kept.
    assert "no camera" in cli.fails(
        1,
        "cases",
        "clip",
        case,
        "--camera",
        "cam-9",
        "--from",
        "2026-12-01T09:00",
        "--to",
        "2026-12-01T09:05",
        *me,
        "seen",
    )
    assert "outcome must be" in cli.fails(
        2, "cases", "outcome", case, "--outcome", "cleared", *me, "r"
    )
    cli.ok("cases", "outcome", case, "--outcome", "charged", *me, "charged at court")
    assert "not sam's" in cli.fails(4, "cases", "close", case, "--actor", "sam", "--reason", "r")
    cli.ok("cases", "close", case, *me, "done")
    assert "reopen it first" in cli.fails(1, "cases", "close", case, *me, "again")
    cli.ok("cases", "release-holds", case, *me, "court case over")
    cli.ok("cases", "reopen", case, *me, "appeal")
    shown = cli.ok("cases", "show", case)
    assert '"status": "open"' in shown and '"charged"' in shown
    actions = [e.action for e in iter_entries(cli.repo)]
    for action in ("case.outcome", "case.close", "case.release_holds", "case.reopen"):
        assert action in actions
    assert audit.verify().ok


@pytest.mark.data
def test_an_export_carries_the_recorded_footage_of_a_clip_window(cli: Cli) -> None:
    """The assembled exporter takes clips from the recording (the same remux playback uses):
    real footage recorded through the source tee into the configured recording directory, a clip
    window linked to the case from the shell, exported, and the bundle holds that clip and
    verifies with the public key alone."""
    import zipfile

    from tests.support.recording import index_over, intel_clip, record_file
    from vigil.core.domain import CameraRow
    from vigil.governance.evidence_verify import MANIFEST

    video = intel_clip()
    cli.cfg.write_text(
        cli.cfg.read_text() + f"cameras:\n  - id: cam-1\n    url: {video}\n    record: continuous\n"
    )
    cli.repo.upsert_camera(CameraRow("cam-1", "door", str(video), NOW))
    index = index_over(cli.repo.db, cli.tmp / "data" / "recordings")
    record_file(video, index, frames=4, segment_s=1.0, fps=0.5)
    rows = index.store.window("cam-1", datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC))
    assert rows
    start, end = rows[0].started_at, rows[-1].ended_at
    audit, purger = _purger(cli)
    ivan = Actor.from_user(cli.repo.get_user(username="ivan"))
    case = purger.open_case(ivan, "robbery", "report 9").id
    when = ["--from", start.isoformat(), "--to", end.isoformat()]
    cli.ok("cases", "clip", case, "--camera", "cam-1", *when, "--actor", "ivan", "--reason", "r")
    pub = cli.tmp / "pub.pem"
    pub.write_text(cli.ok("evidence", "key"))
    bundle = cli.tmp / "case.zip"
    cli.ok(
        "evidence", "export", "--case", case, "--out", str(bundle),
        "--actor", "ivan", "--unredacted", "--reason", "court order 9",
    )  # fmt: skip
    with zipfile.ZipFile(bundle) as z:
        clips = [n for n in z.namelist() if n.startswith("clips/") and n.endswith(".mp4")]
        manifest = z.read(MANIFEST).decode()
        assert len(clips) == 1 and z.getinfo(clips[0]).file_size > 10_000, manifest
    assert json.loads(manifest)["not_exported"] == []
    cli.capsys.readouterr()
    main(["evidence", "verify", str(bundle), "--key", str(pub)])
    assert "bundle verified" in cli.capsys.readouterr().out
    assert audit.verify().ok
