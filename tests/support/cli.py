"""Running ``vigil`` in-process against a test's config file, for the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.cli.main import main


class CliCalls:
    """``ok(...)`` runs a command that must succeed and returns its stdout; ``fails(code, ...)``
    one that must exit with ``code`` and returns its stderr. Mixed into a test's dataclass that
    holds ``cfg`` (the config file) and ``capsys``."""

    cfg: Path
    capsys: pytest.CaptureFixture[str]

    def ok(self, *args: str) -> str:
        self.capsys.readouterr()
        main([*args, "-c", str(self.cfg)])
        return self.capsys.readouterr().out

    def fails(self, code: int, *args: str) -> str:
        self.capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main([*args, "-c", str(self.cfg)])
        assert exc.value.code == code, self.capsys.readouterr()
        return self.capsys.readouterr().err
