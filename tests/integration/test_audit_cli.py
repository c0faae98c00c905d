"""``vigil audit head`` and ``vigil audit verify --expect-head``: the oversight body's check."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import update

from tests.support.cli import CliCalls
from vigil.cli.main import main
from vigil.config import load_config
from vigil.core.domain import Role, UserRow
from vigil.governance.audit import make_entry
from vigil.storage import Repository
from vigil.storage import schema as t
from vigil.storage.factory import open_database_from_config


@dataclass
class Shell(CliCalls):
    cfg: Path
    capsys: pytest.CaptureFixture[str]


def test_a_head_kept_elsewhere_detects_a_rewrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f"system:\n  data_dir: {tmp_path}\ncameras:\n  - {{id: c1, url: /d/c1.mp4}}\n")
    sh = Shell(cfg, capsys)
    assert sh.ok("audit", "head").strip() == "empty"
    for name in ("ana", "bob"):
        monkeypatch.setattr("sys.stdin", __import__("io").StringIO("Plenty-of-entropy-42!\n"))
        sh.ok("users", "add", name, "-r", "operator", "--password-stdin")
    head = sh.ok("audit", "head").strip()
    seq, _, digest = head.partition(":")
    assert seq == "1" and len(digest) == 64
    assert "intact" in sh.ok("audit", "verify", "--expect-head", head)

    # Someone with database and data-folder access rewrites entry 1 and re-anchors it: the
    # local checks cannot tell any more, the head kept elsewhere can.
    repo = Repository(open_database_from_config(load_config(cfg)))
    try:
        first = repo.audit_entry_at(0)
        assert first is not None
        second = repo.audit_entry_at(1)
        assert second is not None  # same action and target, another reason: "who knew why"
        forged = make_entry(
            first, at=first.at, actor="cli", action=second.action, target=second.target, reason="r"
        )
        row = {"actor": forged.actor, "target": forged.target, "reason": forged.reason}
        repo.db.write(
            lambda c: c.execute(
                update(t.audit_entries)
                .where(t.audit_entries.c.seq == 1)
                .values(**row, at=forged.at, details="[]", entry_hash=forged.entry_hash)
            )
        )
    finally:
        repo.db.dispose()
    anchor = tmp_path / "audit-anchor.json"
    anchor.write_text(json.dumps({"seq": 1, "entry_hash": forged.entry_hash}))
    assert "intact" in sh.ok("audit", "verify")  # locally consistent: nothing inside can tell
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["audit", "verify", "--expect-head", head, "-c", str(cfg)])
    assert exc.value.code == 1
    assert "BROKEN at seq 1" in capsys.readouterr().out
    err = sh.fails(2, "audit", "verify", "--expect-head", "1:not-a-hash")
    assert "SEQ:SHA256" in err


def test_verify_names_records_written_around_the_audit_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f"system:\n  data_dir: {tmp_path}\ncameras:\n  - {{id: c1, url: /d/c1.mp4}}\n")
    sh = Shell(cfg, capsys)
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("Plenty-of-entropy-42!\n"))
    sh.ok("users", "add", "ana", "-r", "operator", "--password-stdin")
    assert "has its entry" in sh.ok("audit", "verify")
    # An account inserted straight into the database (no Vigil code path, no entry).
    repo = Repository(open_database_from_config(load_config(cfg)))
    try:
        ghost = UserRow("ghost-id", "ghost", "x", repo.list_users()[0].created_at, (Role.ADMIN,))
        repo.add_user(ghost)
    finally:
        repo.db.dispose()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(["audit", "verify", "-c", str(cfg)])
    assert exc.value.code == 1
    out = capsys.readouterr().out
    assert "intact" in out  # the chain itself is fine...
    assert "1 user record(s) without their audit entry: ghost-id" in out  # ...the gap is named
