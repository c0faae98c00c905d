"""Watching the flow of live events on a real WebSocket while access is cut.

The tests of :mod:`vigil.api.live` keep writing events the way a camera node writes them (rows
through the repository, picked up by the server's event watcher) and read what the socket
delivers: :func:`until_closed` until the server closes it, :func:`until_hidden_stops` until
events of something the credential may no longer see stop arriving while the rest still flows.
Times are measured and returned for printing, never asserted (the machine is shared); a
deadline only turns "never" into a failure with a clear message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from tests.support.api_env import add_alert
from vigil.core.records import CrowdSample
from vigil.storage import Repository
from vigil.storage.media import MediaStore

Raise = Callable[[], str]
"""Writes one event and returns what identifies its message (an alert id, a crowd marker)."""


@dataclass
class Closed:
    code: int | None
    reason: str
    after_s: float  # from the cut to the close
    delivered: int  # events delivered after the cut, before the close


def alert_on(repo: Repository, media: MediaStore, camera: str) -> Raise:
    """Raise a plate-hit alert on ``camera``; the message is identified by the alert id."""
    return lambda: add_alert(repo, media, camera=camera).id  # type: ignore[arg-type]


def crowd_on(repo: Repository, camera: str) -> Raise:
    """Write a crowd sample on ``camera``; the message is identified by ``crowd:<camera>``."""

    def write() -> str:
        repo.add_crowd_samples([CrowdSample(camera, datetime.now(UTC), 3.0, "boxes")])
        return f"crowd:{camera}"

    return write


def message_key(text: str | bytes) -> str:
    msg = json.loads(text)
    if msg["type"] == "alert":
        return str(msg["alert"]["id"])
    return f"{msg['type']}:{msg.get('camera_id', '')}"


def receive_key(ws: ClientConnection, timeout: float) -> str | None:
    """The next message's key, or ``None`` if nothing came within ``timeout``."""
    try:
        return message_key(ws.recv(timeout=timeout))
    except TimeoutError:
        return None


def expect(ws: ClientConnection, key: str, timeout: float = 15.0) -> None:
    """Read until the message ``key`` arrives (the flow works); fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        got = receive_key(ws, deadline - time.monotonic())
        if got == key:
            return
        if got is not None:
            seen.append(got)
    pytest.fail(f"{key} never arrived (got {seen[:10]})")


def until_closed(
    ws: ClientConnection, cut_at: float, raise_event: Raise, deadline_s: float
) -> Closed:
    """Keep raising events every 0.3 s and reading them until the server closes the socket.

    ``cut_at``: ``time.monotonic()`` when access was cut. Fails if the socket is still open
    ``deadline_s`` after the cut (the events kept flowing).
    """
    delivered = 0
    next_raise = 0.0
    while time.monotonic() - cut_at < deadline_s:
        if time.monotonic() >= next_raise:
            raise_event()
            next_raise = time.monotonic() + 0.3
        try:
            ws.recv(timeout=0.3)
            delivered += 1
        except TimeoutError:
            continue
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            return Closed(
                rcvd.code if rcvd else None,
                rcvd.reason if rcvd else "",
                time.monotonic() - cut_at,
                delivered,
            )
    pytest.fail(
        f"the socket stayed open {deadline_s:.0f} s after access was cut "
        f"({delivered} events delivered meanwhile)"
    )


def until_hidden_stops(
    ws: ClientConnection,
    cut_at: float,
    hidden: Raise,
    visible: Raise,
    *,
    deadline_s: float,
    confirm: int = 3,
) -> float:
    """Raise one ``hidden`` then one ``visible`` event per round until a round delivers the
    visible one without the hidden one, then ``confirm`` more such rounds; returns the seconds
    from ``cut_at`` to the first clean round.

    The hidden event is written first, so if the socket still carried it, it would come first.
    Fails if the hidden events still flow ``deadline_s`` after the cut, or if the visible ones
    stop (the connection was closed instead of narrowed).
    """
    clean_at: float | None = None
    clean = 0
    late: set[str] = set()  # hidden events raised after the first clean round
    while clean < confirm + 1:
        if time.monotonic() - cut_at > deadline_s and clean_at is None:
            pytest.fail(f"events the credential may no longer see still flow {deadline_s:.0f} s on")
        hidden_key, visible_key = hidden(), visible()
        if clean_at is not None:
            late.add(hidden_key)
        got: list[str] = []
        while visible_key not in got:
            key = receive_key(ws, 15.0)
            if key is None:
                pytest.fail(f"the visible event {visible_key} never arrived (got {got})")
            got.append(key)
        assert not late & set(got), f"a hidden event raised after a clean round arrived: {got}"
        if hidden_key in got:
            continue
        clean_at = time.monotonic() if clean_at is None else clean_at
        clean += 1
    assert clean_at is not None
    return clean_at - cut_at
