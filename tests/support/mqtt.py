"""MQTT for the notification tests: a listening subscriber, and a private TLS broker with
password authentication (a ``mosquitto`` process of the test's own, with a throwaway CA)."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.polling import wait_for


class Listener:
    """Subscribes to ``<prefix>/#`` and keeps every message in arrival order."""

    def __init__(
        self,
        prefix: str,
        *,
        port: int = 1883,
        ca_file: Path | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.prefix = prefix
        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
        if ca_file is not None:
            self.client.tls_set(ca_certs=str(ca_file))
        if username is not None:
            self.client.username_pw_set(username, password)
        self.client.on_message = self._got
        self.client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/#", qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _got(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((msg.topic, msg.payload))

    def payloads(self, suffix: str) -> list[bytes]:
        """Payloads received on ``<prefix>/<suffix>``, oldest first."""
        with self._lock:
            return [p for t, p in self.messages if t == f"{self.prefix}/{suffix}"]

    def topics(self) -> set[str]:
        with self._lock:
            return {t for t, _ in self.messages}

    def wait(self, suffix: str, payload: bytes | None = None, timeout: float = 10) -> None:
        def seen() -> bool:
            got = self.payloads(suffix)
            return bool(got) if payload is None else payload in got

        wait_for(f"a message on {self.prefix}/{suffix}", seen, timeout, period=0.02)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@dataclass(frozen=True)
class TlsBroker:
    port: int
    ca_file: Path
    username: str
    password: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(*cmd: str, cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, timeout=60)


@contextmanager
def tls_broker(folder: Path) -> Iterator[TlsBroker]:
    """A mosquitto on a free loopback port that speaks only TLS (certificate for 127.0.0.1
    signed by a CA made here) and admits only one user with a password."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    for tool in (binary, "openssl", "mosquitto_passwd"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed: the TLS broker test needs it")
    folder.mkdir(parents=True, exist_ok=True)
    subj = ("-subj", "/CN=vigil-test-ca")
    _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key",
         "-out", "ca.pem", "-days", "1", *subj, cwd=folder)  # fmt: skip
    _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
         "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=folder)  # fmt: skip
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
         "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "ext.cnf",
         cwd=folder)  # fmt: skip
    user, password = "vigil-notify", "broker-password-1"
    _run("mosquitto_passwd", "-b", "-c", "passwd", user, password, cwd=folder)
    port = _free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(
        f"user {getpass.getuser()}\npersistence false\nlog_dest stderr\n"
        f"listener {port} 127.0.0.1\ncafile {folder / 'ca.pem'}\n"
        f"certfile {folder / 'server.pem'}\nkeyfile {folder / 'server.key'}\n"
        f"allow_anonymous false\npassword_file {folder / 'passwd'}\n"
    )
    log = (folder / "mosquitto.log").open("w")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=log, stderr=log)
    try:

        def listening() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"mosquitto exited: {(folder / 'mosquitto.log').read_text()}")
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", port)) == 0

        wait_for("the TLS broker to listen", listening, 10, period=0.05)
        yield TlsBroker(port, folder / "ca.pem", user, password)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def refused_connect(broker: TlsBroker, **auth: str) -> bool:
    """Whether the broker refuses a TLS client connecting with ``auth`` (or anonymously)."""
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    client.tls_set(ca_certs=str(broker.ca_file))
    if auth:
        client.username_pw_set(auth["username"], auth.get("password"))
    outcome: list[bool] = []
    client.on_connect = lambda c, u, f, rc, p=None: outcome.append(rc.is_failure)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    deadline = time.monotonic() + 10
    while not outcome and time.monotonic() < deadline:
        time.sleep(0.02)
    client.loop_stop()
    client.disconnect()
    return bool(outcome and outcome[0])
