"""``vigil cameras enable|disable``: a camera switched in the database from the shell, as a named
user, audited, with clear refusals (exit 2 bad input, 4 wrong role, 1 unknown camera or user)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from vigil.cli.main import main
from vigil.config import load_config
from vigil.governance.audit import AuditLog, iter_entries
from vigil.storage import Repository
from vigil.storage.factory import open_database_from_config
from vigil.system.assembly import AUDIT_ANCHOR


def _config(tmp_path: Path) -> Path:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(
        f"system:\n  data_dir: {tmp_path}\n"
        "cameras:\n"
        "  - {id: north-1, url: /data/n1.mp4}\n"
        "  - {id: south-1, url: /data/s1.mp4}\n"
    )
    return cfg


def _add_user(cfg: Path, name: str, role: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    main(["users", "add", name, "-r", role, "--password-stdin", "-c", str(cfg)])


def test_disable_and_enable_from_the_shell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _config(tmp_path)
    _add_user(cfg, "sam", "supervisor", monkeypatch)
    _add_user(cfg, "olga", "operator", monkeypatch)
    capsys.readouterr()

    switch = ["cameras", "disable", "north-1", "--as", "sam", "-c", str(cfg)]
    main([*switch, "--reason", "pointed at a private garden"])
    out = capsys.readouterr().out
    assert "camera north-1 disabled (audited as sam)" in out
    assert "embedded mode: a running `vigil run` keeps its cameras" in out
    main([*switch, "--reason", "again"])
    assert "already disabled: nothing changed" in capsys.readouterr().out
    # A later `vigil users` command (which writes the file's cameras to the table) keeps it off.
    _add_user(cfg, "ana", "auditor", monkeypatch)

    refusals = [
        ([*switch, "--reason", "  "], 2, "--reason must not be empty"),
        (switch, 2, "Missing option '--reason'"),
        (["cameras", "disable", "north-1", "--as", "olga", "--reason", "r", "-c", str(cfg)], 4,
         "needs the role admin or supervisor"),
        (["cameras", "disable", "west-9", "--as", "sam", "--reason", "r", "-c", str(cfg)], 1,
         "no camera 'west-9'"),
        (["cameras", "disable", "north-1", "--as", "nobody", "--reason", "r", "-c", str(cfg)], 1,
         "no user 'nobody'"),
    ]  # fmt: skip
    for argv, code, says in refusals:
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == code, argv
        assert says in capsys.readouterr().err, argv

    repo = Repository(open_database_from_config(load_config(cfg)))
    try:
        assert repo.get_camera("north-1").enabled is False
        assert repo.get_camera("south-1").enabled is True
        main(["cameras", "enable", "north-1", "--as", "sam", "-c", str(cfg), "--reason", "fixed"])
        assert "camera north-1 enabled" in capsys.readouterr().out
        assert repo.get_camera("north-1").enabled is True
        sam = repo.get_user(username="sam").id
        entries = [e for e in iter_entries(repo) if e.action.startswith("camera.")]
        assert [(e.action, e.actor, e.target, e.reason) for e in entries] == [
            ("camera.disable", sam, "camera:north-1", "pointed at a private garden"),
            ("camera.enable", sam, "camera:north-1", "fixed"),
        ]
        assert AuditLog(repo, anchor_path=tmp_path / AUDIT_ANCHOR).verify().ok
    finally:
        repo.db.dispose()
