"""Outgoing webhooks: each event POSTed as JSON, signed with HMAC-SHA256.

The receiver checks ``X-Vigil-Signature: sha256=<hex>`` where the MAC is computed with the
shared secret over ``<X-Vigil-Timestamp>.<raw body>`` (the timestamp is part of the MAC so a
captured request cannot be replayed later with a fresh timestamp; receivers should reject
timestamps more than a few minutes old). :func:`verify_signature` is the reference check.

Delivery runs on one thread per sender with a bounded queue: a slow or dead receiver never slows
the pipeline; when the queue is full the newest event is dropped and counted. Each event is tried
up to ``attempts`` times with doubling back-off; 2xx counts as delivered, and a delivered alert
is recorded (:mod:`vigil.notify.delivery`), so a restart or a new leader does not send it again.

**Targets.** Before each attempt the URL's host is resolved and every address it resolves to
must be public (:func:`resolve_target`; loopback, private, link-local and metadata addresses are
refused unless the webhook sets ``allow_private`` with a reason), so a name that is changed to
point inside the network later is refused too. The request is then sent to the checked address
itself (:func:`pinned`: the URL's host replaced by the address, the name kept in the ``Host``
header and as the TLS server name, so the certificate is still verified against the name): a
resolver that answers differently a moment later (DNS rebinding) cannot redirect it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import socket
import threading
import time
from urllib.parse import urlsplit

import httpx

from vigil.config.notify import WebhookConfig, address_problem, host_problem
from vigil.errors import ConfigError
from vigil.notify.delivery import DeliveryGuard, sink_name
from vigil.notify.events import AlertEvent, Event, event_json
from vigil.storage.deliveries import DeliveryLog

log = logging.getLogger(__name__)


class WebhookTargetError(ConfigError):
    """A webhook's host is, or resolves to, an address it may not be sent to."""


def resolve_target(url: str, *, allow_private: bool = False) -> list[str]:
    """The addresses ``url``'s host resolves to, each checked (see the module docstring).

    Raises :class:`WebhookTargetError` naming the host and why, when one address is refused or
    the name does not resolve. With ``allow_private`` only the lookup is done.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    problem = None if allow_private else host_problem(host)
    if problem:
        raise WebhookTargetError(f"webhook target refused: {problem}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise WebhookTargetError(f"webhook host {host} does not resolve: {exc}") from None
    # IPv4 first: the address pinned for sending is the first (see pinned()).
    addresses = sorted({str(info[4][0]) for info in infos}, key=lambda a: (":" in a, a))
    if not allow_private:
        for address in addresses:
            if problem := address_problem(address.split("%")[0]):
                raise WebhookTargetError(
                    f"webhook target refused: {host} resolves to {address}; {problem}"
                )
    return addresses


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


def pinned(url: str, address: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """``(url with the host replaced by address, headers, request extensions)`` for sending to
    a checked address while speaking to the name (``Host`` header, TLS server name)."""
    parsed = httpx.URL(url)
    host = parsed.host
    netloc = host if parsed.port is None else f"{host}:{parsed.port}"
    if ":" in host:  # an IPv6 literal
        netloc = f"[{host}]" if parsed.port is None else f"[{host}]:{parsed.port}"
    extensions = {"sni_hostname": host} if parsed.scheme == "https" else {}
    return str(parsed.copy_with(host=address)), {"Host": netloc}, extensions


class WebhookSender:
    """Deliver matching events to one webhook URL (a hub sink)."""

    def __init__(
        self,
        cfg: WebhookConfig,
        *,
        deliveries: DeliveryLog | None = None,
        attempts: int = 3,
        backoff_s: float = 0.5,
        maxsize: int = 1000,
    ) -> None:
        self.cfg = cfg
        self.guard = DeliveryGuard(sink_name("webhook", cfg.url), deliveries)
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
        self.guard.prune()
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
                alert_id = event.alert.id if isinstance(event, AlertEvent) else None
                if alert_id is not None and not self.guard.claim(alert_id):
                    continue  # delivered before (a restart, another leader) or under way
                body = json.dumps(event_json(event), separators=(",", ":")).encode()
                if self._deliver(client, secret, body):
                    self.delivered += 1
                    if alert_id is not None:
                        self.guard.done(alert_id)
                else:
                    self.failed += 1
                    if alert_id is not None:
                        self.guard.release(alert_id)

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
                address = resolve_target(self.cfg.url, allow_private=self.cfg.allow_private)[0]
                url, host, extensions = pinned(self.cfg.url, address)
                resp = client.post(
                    url, content=body, headers={**headers, **host}, extensions=extensions
                )
                if 200 <= resp.status_code < 300:
                    return True
                why = f"HTTP {resp.status_code}"
            except WebhookTargetError as exc:
                why = str(exc)
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
