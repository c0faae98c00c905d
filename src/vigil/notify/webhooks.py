"""Outgoing webhooks: each event POSTed as JSON, signed with HMAC-SHA256.

The receiver checks ``X-Vigil-Signature: sha256=<hex>`` where the MAC is computed with the
shared secret over ``<X-Vigil-Timestamp>.<raw body>`` (the timestamp is part of the MAC so a
captured request cannot be replayed later with a fresh timestamp; receivers should reject
timestamps more than a few minutes old). :func:`verify_signature` is the reference check.

Delivery runs on one thread per sender with a bounded queue: a slow or dead receiver never slows
the pipeline; when the queue is full the newest event is dropped and counted. Each event is tried
up to ``attempts`` times with doubling back-off; 2xx counts as delivered.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time

import httpx

from vigil.config.settings import WebhookConfig
from vigil.notify.events import Event, event_json

log = logging.getLogger(__name__)


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` MAC of ``timestamp.body``."""
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


def verify_signature(
    secret: bytes, timestamp: str, body: bytes, signature: str, *, max_age_s: float = 300
) -> bool:
    """Receiver-side check: constant-time MAC comparison and a freshness window."""
    try:
        age = abs(time.time() - float(timestamp))
    except ValueError:
        return False
    return age <= max_age_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


class WebhookSender:
    """Deliver matching events to one webhook URL (a hub sink)."""

    def __init__(
        self, cfg: WebhookConfig, *, attempts: int = 3, backoff_s: float = 0.5, maxsize: int = 1000
    ) -> None:
        self.cfg = cfg
        self.attempts = attempts
        self.backoff_s = backoff_s
        self._queue: queue.Queue[Event | None] = queue.Queue(maxsize)
        self._thread: threading.Thread | None = None
        self.delivered = 0
        self.failed = 0
        self.dropped = 0

    def __call__(self, event: Event) -> None:
        if event.kind not in self.cfg.events:
            return
        if self.cfg.cameras and event.camera_id not in self.cfg.cameras:
            return
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="vigil-webhook", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(self.cfg.timeout_s * self.attempts + 5)

    def _run(self) -> None:
        secret = self.cfg.secret.get_secret_value().encode()
        with httpx.Client(timeout=self.cfg.timeout_s, follow_redirects=False) as client:
            while (event := self._queue.get()) is not None:
                body = json.dumps(event_json(event), separators=(",", ":")).encode()
                if self._deliver(client, secret, body):
                    self.delivered += 1
                else:
                    self.failed += 1

    def _deliver(self, client: httpx.Client, secret: bytes, body: bytes) -> bool:
        delay = self.backoff_s
        for attempt in range(1, self.attempts + 1):
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "vigil-webhook/1",
                "X-Vigil-Timestamp": ts,
                "X-Vigil-Signature": sign(secret, ts, body),
            }
            try:
                resp = client.post(self.cfg.url, content=body, headers=headers)
                if 200 <= resp.status_code < 300:
                    return True
                why = f"HTTP {resp.status_code}"
            except httpx.HTTPError as exc:
                why = type(exc).__name__
            # The URL may embed credentials: log only its host.
            log.warning(
                "webhook to %s failed (%s), attempt %d/%d",
                httpx.URL(self.cfg.url).host,
                why,
                attempt,
                self.attempts,
            )
            if attempt < self.attempts:
                time.sleep(delay)
                delay *= 2
        return False
