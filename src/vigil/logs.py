"""Logging set-up: named loggers, optional JSON lines, and credential scrubbing.

Every module logs through ``logging.getLogger(__name__)``; nothing logs to the root logger and
nothing configures logging at import. :func:`configure` is called once by the CLI.

Camera URLs carry credentials (``rtsp://user:pass@host/...``) and must never reach a log line.
:class:`RedactingFilter` rewrites every record's final message, so a URL that slips into an
f-string, an exception text or a third-party library's message is still scrubbed. Secrets that are
not URLs (API keys, passwords from the environment) are registered with :func:`register_secret`
and replaced wherever they appear.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<userinfo>[^/@\s]+)@")
_QUERY_SECRET = re.compile(
    r"(?P<key>[?&](?:password|passwd|pwd|token|api_key|apikey|key|secret|auth)=)[^&\s]+",
    re.IGNORECASE,
)
_secrets: set[str] = set()
_secrets_lock = threading.Lock()
REDACTED = "***"


def register_secret(value: str | None) -> None:
    """Have every later log line replace ``value`` with ``***`` (ignored if short or empty)."""
    if value and len(value) >= 4:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Remove credentials from ``text``: URL user-info, secret query parameters, known secrets."""
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    text = _QUERY_SECRET.sub(lambda m: f"{m.group('key')}{REDACTED}", text)
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """Scrub the formatted message (and exception text) of every record passing through."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        record.msg = message
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any ``extra`` fields."""

    _standard = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()) | {
        "message",
        "asctime",
    }

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._standard and not key.startswith("_"):
                payload[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_text:
            payload["exception"] = record.exc_text
        return redact(json.dumps(payload, ensure_ascii=False))


def configure(
    level: str = "INFO",
    *,
    json_lines: bool = False,
    stream: Any = None,
    log_dir: Path | None = None,
    keep_days: int = 31,
) -> None:
    """Configure the ``vigil`` logger tree (not the root logger) once, idempotently.

    With ``log_dir``, lines also go to ``log_dir/vigil.log``, rotated at midnight UTC; the
    rotation deletes files older than ``keep_days`` (the log retention timer). Every handler
    redacts registered secrets.
    """
    from logging.handlers import TimedRotatingFileHandler

    logger = logging.getLogger("vigil")
    logger.setLevel(level.upper())
    logger.propagate = False
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    handlers: list[logging.Handler] = [logging.StreamHandler(stream or sys.stderr)]
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            TimedRotatingFileHandler(
                log_dir / "vigil.log", when="midnight", utc=True, backupCount=keep_days
            )
        )
    for handler in handlers:
        handler.addFilter(RedactingFilter())
        if json_lines:
            handler.setFormatter(JsonFormatter())
        else:  # a file outlives the day: its lines carry the date too
            on_file = isinstance(handler, logging.FileHandler)
            fmt = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
            handler.setFormatter(logging.Formatter(fmt, None if on_file else "%H:%M:%S"))
        logger.addHandler(handler)
