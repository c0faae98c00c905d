"""``vigil users``: accounts limited to cameras and given roles from the shell, audited, with
clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.cli.main import main
from vigil.config import load_config
from vigil.governance.audit import iter_entries
from vigil.storage import Repository
from vigil.storage.factory import open_database_from_config


def test_users_add_and_cameras(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(
        f"system:\n  data_dir: {tmp_path}\n"
        "cameras:\n"
        "  - {id: north-1, url: /data/n1.mp4}\n"
        "  - {id: south-1, url: /data/s1.mp4}\n"
    )
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a long enough password\n"))
    main(
        [
            "users",
            "add",
            "ana",
            "-r",
            "operator",
            "--camera",
            "north-1",
            "--password-stdin",
            "-c",
            str(cfg),
        ]
    )
    assert "cameras: north-1" in capsys.readouterr().out

    main(["users", "cameras", "ana", "--all", "--reason", "city-wide duty", "-c", str(cfg)])
    assert "now sees cameras: *" in capsys.readouterr().out
    for bad in (["--camera", "no-such"], [], ["--all", "--camera", "north-1"]):
        with pytest.raises(SystemExit) as exc:
            main(["users", "cameras", "ana", *bad, "--reason", "r", "-c", str(cfg)])
        assert exc.value.code == 2, bad
    err = capsys.readouterr().err
    assert "unknown camera(s) ['no-such']" in err

    main(["users", "roles", "ana", "-r", "auditor", "--reason", "audit office", "-c", str(cfg)])
    assert "ana now has roles: auditor" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["users", "roles", "ana", "-r", "janitor", "--reason", "r", "-c", str(cfg)])
    assert exc.value.code == 2

    repo = Repository(open_database_from_config(load_config(cfg)))
    try:
        ana = repo.get_user(username="ana")
        assert ana.cameras is None and ana.roles == ("auditor",)
        entries = [e for e in iter_entries(repo) if e.action.startswith("user.")]
        assert [(e.action, e.reason, dict(e.details).get("roles")) for e in entries] == [
            ("user.create", "created with vigil users add", "operator"),
            ("user.cameras", "city-wide duty", None),
            ("user.roles", "audit office", "auditor"),
        ]
        assert dict(entries[1].details)["cameras"] == "*"
        assert dict(entries[2].details)["before"] == "operator"
    finally:
        repo.db.dispose()


@pytest.mark.parametrize(
    ("password", "says"),
    [("anaanaanaana", "mostly the user's name"), ("password2024", "most common passwords")],
)
def test_users_add_refuses_a_weak_password(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    password: str,
    says: str,
) -> None:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f"system:\n  data_dir: {tmp_path}\n")
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(password + "\n"))
    with pytest.raises(SystemExit) as exc:
        main(["users", "add", "ana", "-r", "operator", "--password-stdin", "-c", str(cfg)])
    assert exc.value.code == 2
    assert says in capsys.readouterr().err
    repo = Repository(open_database_from_config(load_config(cfg)))
    try:
        assert repo.list_users() == []
    finally:
        repo.db.dispose()
