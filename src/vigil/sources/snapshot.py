"""Periodic HTTP JPEG snapshots: the cheapest camera integration, polled at the analysis rate.

Many municipal cameras only expose ``/snapshot.jpg``. Each poll is one GET with a timeout; the
JPEG is decoded with OpenCV (a still image needs no demuxer). Snapshots carry no stream clock, so
capture time is the wall clock at receipt. A 4xx answer other than 408/429 means a wrong URL or
credentials: it is reported as a transient error all the same, because a camera being
reconfigured answers 404 for a while, and backoff keeps the polling polite.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit, urlunsplit

import cv2
import httpx
import numpy as np

from vigil.core.keys import live_epoch
from vigil.errors import SourceError
from vigil.logs import redact
from vigil.sources.base import DecodeCounters, SourceSpec
from vigil.sources.frames import Image, RawFrame

MAX_SNAPSHOT_BYTES = 20_000_000


def split_credentials(url: str) -> tuple[str, httpx.BasicAuth | None]:
    """Move ``user:pass@`` out of the URL into an auth object.

    httpx logs request URLs at INFO through its own logger, which Vigil's redacting filter does
    not see; a URL without user-info cannot leak there.
    """
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return clean, httpx.BasicAuth(unquote(parts.username), unquote(parts.password or ""))


class SnapshotSource:
    """Poll a JPEG URL at ``spec.fps`` (see the module docstring)."""

    def __init__(self, spec: SourceSpec, *, transport: httpx.BaseTransport | None = None) -> None:
        self.spec = spec
        self.counters = DecodeCounters()
        self._transport = transport
        self._segment = 0
        parts = urlsplit(spec.url)
        self._userinfo = (unquote(parts.username or ""), unquote(parts.password or ""))

    def frames(self, stop: threading.Event) -> Iterator[RawFrame]:
        spec = self.spec
        self._segment += 1
        epoch = live_epoch(datetime.now(UTC))
        timeout = httpx.Timeout(spec.stall_timeout_s, connect=spec.connect_timeout_s)
        interval = 1.0 / spec.fps
        url, auth = split_credentials(spec.url)
        with httpx.Client(timeout=timeout, transport=self._transport, auth=auth) as client:
            next_at = time.monotonic()
            while not stop.is_set():
                image = self._fetch(client, url)
                yield RawFrame(image, None, True, self._segment, epoch)
                next_at = max(next_at + interval, time.monotonic())
                if stop.wait(max(0.0, next_at - time.monotonic())):
                    return

    def _fetch(self, client: httpx.Client, url: str) -> Image:
        spec = self.spec
        try:
            response = client.get(url)
            challenge = response.headers.get("www-authenticate", "").lower()
            if response.status_code == 401 and challenge.startswith("digest") and client.auth:
                # Many cameras want digest auth; switch once and keep it for this connection.
                user, password = self._userinfo
                client.auth = httpx.DigestAuth(user, password)
                response = client.get(url)
        except httpx.HTTPError as exc:
            raise SourceError(
                f"camera {spec.camera_id}: snapshot from {spec.safe_url} failed: "
                f"{redact(str(exc)) or type(exc).__name__}"
            ) from None
        if response.status_code != 200:
            raise SourceError(
                f"camera {spec.camera_id}: snapshot from {spec.safe_url} answered "
                f"HTTP {response.status_code}"
            )
        body = response.content
        with self.counters._lock:
            self.counters.packets += 1
        t0 = time.thread_time()
        image = None
        if 0 < len(body) <= MAX_SNAPSHOT_BYTES:
            image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        spent = time.thread_time() - t0
        with self.counters._lock:
            self.counters.decode_cpu_s += spent
            self.counters.packets_decoded += 1
            if image is None:
                self.counters.corrupt_packets += 1
            else:
                self.counters.frames_decoded += 1
                self.counters.frames_sampled += 1
        if image is None:
            raise SourceError(
                f"camera {spec.camera_id}: snapshot from {spec.safe_url} is not a JPEG image "
                f"({len(body)} bytes, content-type {response.headers.get('content-type')!r})"
            )
        return np.asarray(image, dtype=np.uint8)
