"""``vigil db ...`` with a malformed or unreachable database URL: one clear line, no traceback,
no password, and the exit code of bad input (2) or of an unreachable service (1)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.cli import CliCalls

SECRET = "s3cr3t-pw"


@dataclass
class Cli(CliCalls):
    cfg: Path
    capsys: pytest.CaptureFixture[str]


def _cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str) -> Cli:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f"system:\n  data_dir: {tmp_path / 'data'}\nstorage:\n  url: '{url}'\n")
    return Cli(cfg, capsys)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        (f"postgresql+psycopg://vigil:{SECRET}@db.local:notaport/vigil", "port is not a number"),
        ("vigil.db", "malformed"),
        ("postgres ql://host/db", "malformed"),
        (f"mysql://vigil:{SECRET}@db.local/vigil", "sqlite or postgresql"),
        ("postgresql+nodriver://db.local/vigil", "driver 'postgresql+nodriver'"),
        ("sqlite://", "SQLite needs a file path"),
        ("sqlite:///:memory:", "SQLite needs a file path"),
    ],
)
@pytest.mark.parametrize("command", [("db", "status"), ("db", "migrate")])
def test_malformed_database_url_is_one_clear_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    url: str,
    says: str,
    command: tuple[str, str],
) -> None:
    err = _cli(tmp_path, capsys, url).fails(2, *command)
    assert err.startswith("error: ") and says in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert SECRET not in err and "sqlite:///path/to/vigil.db" in err


def test_unreachable_database_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql+psycopg://vigil:{SECRET}@127.0.0.1:1/vigil"
    err = _cli(tmp_path, capsys, url).fails(1, "db", "status")
    assert err.startswith("error: cannot reach the postgresql database") and SECRET not in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
