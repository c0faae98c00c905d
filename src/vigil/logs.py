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

import contextlib
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# A URL's user-info ends at the LAST "@" before the host: passwords typed into a config file
# contain "/", ":", "?", "#" and "@" unescaped (``rtsp://admin:p@ss/1@cam/live``), so the
# user-info is any run of non-blank characters, and the greedy ``\S*`` backtracks to the last
# "@" that is followed by something shaped like a host (a name or [IPv6] literal, then a port,
# path, query, fragment, colon, quote, bracket, blank or the end). Checking the host shape keeps
# an "@" inside a query value (``?user=ops@example.com&...``) from being read as the user-info end.
# Camera URLs cannot contain blanks (the config refuses them), so a blank always ends a URL.
_URL_USERINFO = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)\S*@"
    r"(?=(?:[\w.~%\-]+|\[[0-9A-Fa-f:.%\w]*\])(?::\d*)?(?:[/?#:!\s\"'<>()\[\]{},;|\\`]|$))"
)
# Secret query (or fragment) parameters: any name containing one of these words, any case.
# The value runs to the next "&" or blank, so a "#" inside a secret value does not end it.
SECRET_PARAM_WORDS = (
    "pass",
    "pwd",
    "token",
    "key",
    "secret",
    "auth",
    "signature",
    "credential",
    "session",
)
_QUERY_SECRET = re.compile(
    r"(?P<key>[?&;#][\w.\-\[\]]*?(?:" + "|".join(SECRET_PARAM_WORDS) + r")[\w.\-\[\]]*=)[^&\s]*",
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


@contextlib.contextmanager
def scoped_secrets() -> Iterator[None]:
    """Forget, on exit, the secrets registered inside the block (the registry is process-wide:
    one test's camera password must not redact another test's ordinary words)."""
    with _secrets_lock:
        before = set(_secrets)
    try:
        yield
    finally:
        with _secrets_lock:
            _secrets.intersection_update(before)


def redact(text: str) -> str:
    """Remove credentials from ``text``: URL user-info, secret query parameters, known secrets.

    This is the one redactor of the project: logs, API answers (camera status, errors), MQTT
    and webhook payloads, CLI output and the stored camera URL all go through it. Query
    parameters are scrubbed first, so an "@" inside a secret value (``?password=p@ss``) cannot
    be mistaken for the end of a user-info. It errs towards hiding: in a string with several
    URLs and no blank between them, text between them may be hidden too.
    """
    text = _QUERY_SECRET.sub(lambda m: f"{m.group('key')}{REDACTED}", text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
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
