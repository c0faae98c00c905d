from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from vigil import logs
from vigil.config import parse_config


@pytest.fixture
def captured() -> io.StringIO:
    stream = io.StringIO()
    logs.configure("DEBUG", stream=stream)
    return stream


def test_camera_credentials_never_reach_logs(captured: io.StringIO) -> None:
    cfg = parse_config(
        "cameras:\n  - id: gate\n    url: 'rtsp://${U}:${P}@10.0.0.5:554/live'\n",
        environ={"U": "operator7", "P": "Tr0ub4dor&3"},
    )
    url = cfg.cameras[0].url.get_secret_value()
    log = logging.getLogger("vigil.sources.test")
    log.info("connecting to %s", url)
    log.warning(f"camera {cfg.cameras[0]} failed at {url}")
    try:
        raise ConnectionError(f"cannot open {url}")
    except ConnectionError:
        log.exception("stream error")
    log.info("snapshot http://cam.local/snap.jpg?user=x&password=opensesame&x=1")
    out = captured.getvalue()
    for secret in ("operator7", "Tr0ub4dor&3", "opensesame"):
        assert secret not in out
    assert "rtsp://***@10.0.0.5:554/live" in out


def test_json_lines_are_valid_and_redacted() -> None:
    stream = io.StringIO()
    logs.configure("INFO", json_lines=True, stream=stream)
    logging.getLogger("vigil.x").info("open rtsp://a:b@h/s", extra={"camera": "gate"})
    record = json.loads(stream.getvalue().strip())
    assert record["logger"] == "vigil.x" and record["camera"] == "gate"
    assert "a:b@" not in record["message"]


def test_loggers_are_named_not_root() -> None:
    logs.configure("INFO", stream=io.StringIO())
    assert logging.getLogger().handlers == [] or all(
        not isinstance(h, logging.StreamHandler) or h.stream is not None
        for h in logging.getLogger().handlers
    )
    assert logging.getLogger("vigil").propagate is False


def test_log_files_are_redacted_rotated_and_kept_only_keep_days(tmp_path: Path) -> None:
    from logging.handlers import TimedRotatingFileHandler

    logs.configure("INFO", stream=io.StringIO(), log_dir=tmp_path, keep_days=3)
    logging.getLogger("vigil.sources.x").warning("lost rtsp://user:pw@10.0.0.9/s")
    (handler,) = [
        h for h in logging.getLogger("vigil").handlers if isinstance(h, TimedRotatingFileHandler)
    ]
    handler.flush()
    text = (tmp_path / "vigil.log").read_text()
    assert "user:pw" not in text and "rtsp://***@10.0.0.9/s" in text
    assert text[:4].isdigit()  # file lines carry the date
    for day in range(1, 11):  # ten old days of files, as if Vigil had run for ten days
        (tmp_path / f"vigil.log.2026-01-{day:02d}").write_text("old\n")
    handler.doRollover()  # what midnight does
    kept = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("vigil.log."))
    assert len(kept) == 3 and "vigil.log.2026-01-01" not in kept
    logs.configure("INFO", stream=io.StringIO())  # closes the file handler again
    assert not any(
        isinstance(h, TimedRotatingFileHandler) for h in logging.getLogger("vigil").handlers
    )
