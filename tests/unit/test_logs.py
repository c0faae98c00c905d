from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

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


# -- the one URL-credential redactor ------------------------------------------------------------


# Any printable character but blanks: a camera URL cannot hold a blank (the config refuses one).
_PRINTABLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
_ANY = st.text(_PRINTABLE, min_size=1, max_size=24)
_HOSTS = st.one_of(
    st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,12}[a-z0-9])?(\.[a-z]{2,6}){0,2}\Z"),
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t))),
    st.just("[fe80::1]"),
)
_TAILS = st.from_regex(r"\A(:[0-9]{1,5})?(/[A-Za-z0-9._~-]{0,10}){0,3}\Z")
_SECRET_NAMES = st.sampled_from(
    [
        *("pass", "password", "passwd", "pwd", "token", "key", "secret", "auth", "api_key"),
        *("access_token", "signature", "X-Amz-Signature", "apiKey", "PASSWORD"),
    ]
)


@pytest.mark.parametrize(
    ("url", "password", "host"),
    [
        ("rtsp://admin:pa/ss@10.0.0.5/live", "pa/ss", "10.0.0.5/live"),
        ("rtsp://admin:p@ss@cam.local:554/s", "p@ss", "cam.local:554/s"),
        ("rtsp://admin:a:b?c#d@cam/s", "a:b?c#d", "cam/s"),
        ("http://cam/snap.jpg?user=admin&pass=opensesame", "opensesame", "cam/snap.jpg"),
        ("http://cam/snap?PassWord=p@ss&x=1", "p@ss", "cam/snap"),
        ("http://cam/x?user=ops@example.com&token=t0k", "t0k", "cam/x?user=ops@example.com"),
        ("https://cam/cb#access_token=abc123&state=1", "abc123", "cam/cb"),
        ("rtsp://u:pw1@[fe80::1]:554/s?signature=zz9", "zz9", "[fe80::1]:554/s"),
    ],
)
def test_redact_hides_every_credential_shape(url: str, password: str, host: str) -> None:
    for text in (url, f"cannot open {url}: 401", f'{{"url":"{url}","n":1}}'):
        out = logs.redact(text)
        assert password not in out and host in out, out


@settings(max_examples=400, deadline=None)
@given(
    scheme=st.sampled_from(["rtsp", "rtsps", "http", "https", "srt", "x-cam+tls"]),
    user=_ANY,
    password=_ANY,
    host=_HOSTS,
    tail=_TAILS,
    before=st.sampled_from(["", "open ", "error: ", "(", "'", '"url": "']),
    after=st.sampled_from(["", " failed", ": 401 Unauthorized", ")", "'", '", "x": 1']),
)
def test_redact_property_userinfo_password_never_survives(
    *, scheme: str, user: str, password: str, host: str, tail: str, before: str, after: str
) -> None:
    """Any user-info (with '/', '@', ':', '?', '#' ...) is hidden and the host stays visible."""
    text = f"{before}{scheme}://{user}:{password}@{host}{tail}{after}"
    # A password that is also a piece of the rest of the line (or of the redacted form) cannot
    # be told apart from it.
    assume(password not in f"{before}{scheme}://{logs.REDACTED}@{host}{tail}{after}")
    # A password that itself looks like a secret query parameter ("x&token=y") is cut there:
    # its head stays hidden but the host may be hidden with the rest (documented limitation).
    assume(logs._QUERY_SECRET.search(f"{user}:{password}") is None)
    out = logs.redact(text)
    assert password not in out
    assert f"{host}{tail}" in out
    if user not in f"{before}{scheme}://{logs.REDACTED}@{host}{tail}{after}":
        assert user not in out


@settings(max_examples=300, deadline=None)
@given(
    host=_HOSTS,
    tail=_TAILS,
    name=_SECRET_NAMES,
    value=st.text(_PRINTABLE.filter(lambda c: c != "&"), min_size=1, max_size=24),
    sep=st.sampled_from(["?", "?a=1&", "?x=y;", "#"]),
    after=st.sampled_from(["", "&b=2", " failed"]),
)
def test_redact_property_secret_query_value_never_survives(
    *, host: str, tail: str, name: str, value: str, sep: str, after: str
) -> None:
    text = f"http://{host}{tail}{sep}{name}={value}{after}"
    assume(value not in f"http://{host}{tail}{sep}{name}={logs.REDACTED}{after}")
    out = logs.redact(text)
    assert value not in out
    assert f"http://{host}{tail}" in out


def test_secrets_registered_in_a_scope_are_forgotten_after_it() -> None:
    logs.register_secret("kept-outside")
    with logs.scoped_secrets():
        logs.register_secret("inside-only")
        assert logs.redact("inside-only kept-outside") == "*** ***"
    assert logs.redact("inside-only kept-outside") == "inside-only ***"
