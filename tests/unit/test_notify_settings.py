"""What may leave the system (issue 24): webhook targets and secrets, MQTT settings and payloads,
and ``vigil config check|show`` on them."""

from __future__ import annotations

import ipaddress
import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from vigil.cli.main import main
from vigil.config.notify import (
    ALERT_BASE_FIELDS,
    MqttConfig,
    MqttPublishConfig,
    WebhookConfig,
    host_problem,
)
from vigil.core.records import Alert, AlertKind
from vigil.notify.events import AlertEvent, CameraStatusEvent
from vigil.notify.mqtt import topics_for
from vigil.notify.webhooks import WebhookTargetError, pinned, resolve_target

SECRET = "a-signing-secret-of-32-characters"

REFUSED = [
    "http://127.0.0.1:5432/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:8080/hook",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://127.1/",
    "http://0177.0.0.1/",
    "http://10.1.2.3/hook",
    "http://192.168.1.10/hook",
    "http://100.100.100.200/",  # a cloud metadata address in the shared range
    "http://0.0.0.0/",
    "http://[::ffff:127.0.0.1]/",
    "http://[fd00:ec2::254]/",
    "http://localhost:9000/",
    "http://metadata.google.internal/computeMetadata/v1/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_webhook_targets_inside_the_network_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="webhook target refused"):
        WebhookConfig(url=url, secret=SECRET)


@pytest.mark.parametrize("url", ["https://93.184.216.34/hook", "https://hooks.example.org/x"])
def test_public_webhook_targets_pass(url: str) -> None:
    assert WebhookConfig(url=url, secret=SECRET).url == url


def test_a_private_target_needs_allow_private_and_a_reason() -> None:
    url = "http://127.0.0.1:9000/hook"
    with pytest.raises(ValidationError, match="allow_private_reason"):
        WebhookConfig(url=url, secret=SECRET, allow_private=True)
    hook = WebhookConfig(
        url=url, secret=SECRET, allow_private=True, allow_private_reason="relay on this host"
    )
    assert hook.allow_private


@pytest.mark.parametrize("secret", ["", "x", "s3cret", " " * 20, "fifteen-chars!!"])
def test_short_webhook_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        WebhookConfig(url="https://hooks.example.org/x", secret=secret)


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_an_ipv4_literal_passes_only_when_public(n: int) -> None:
    ip = ipaddress.IPv4Address(n)
    public = ip.is_global and not ip.is_multicast
    assert (host_problem(str(ip)) is None) == public
    # The same address spelled as one number or in hex is always refused.
    assert host_problem(str(n)) is not None
    assert host_problem(hex(n)) is not None


def test_resolving_refuses_a_name_that_points_inside() -> None:
    """A host name that passes the pure check is resolved; this machine's own name resolves
    to a loopback or private address on a test runner."""
    name = socket.gethostname()
    if host_problem(name) is not None:
        pytest.skip(f"{name} is refused by name already")
    try:
        addresses = {i[4][0] for i in socket.getaddrinfo(name, 80)}
    except OSError:
        pytest.skip(f"{name} does not resolve here")
    if all(ipaddress.ip_address(str(a).split("%")[0]).is_global for a in addresses):
        pytest.skip(f"{name} resolves to public addresses here")
    with pytest.raises(WebhookTargetError, match="resolves to"):
        resolve_target(f"http://{name}/hook")
    assert resolve_target(f"http://{name}/hook", allow_private=True)


def test_mqtt_credentials_and_tls_are_validated() -> None:
    assert MqttConfig().publish.alerts is False  # alerts never leave unless asked for
    with pytest.raises(ValidationError, match="go together"):
        MqttConfig(username="vigil")
    with pytest.raises(ValidationError, match="in clear"):
        MqttConfig(host="broker.example.org", username="vigil", password="pw-123456")
    with pytest.raises(ValidationError, match="cert_file and key_file"):
        MqttConfig.model_validate({"tls": {"cert_file": "/etc/client.pem"}})
    ok = MqttConfig.model_validate(
        {"host": "broker.example.org", "username": "v", "password": "pw", "tls": {}}
    )
    assert ok.tls is not None and ok.tls.ca_file is None
    assert MqttConfig(username="v", password="pw").host == "127.0.0.1"  # loopback: no TLS needed


def _face_alert() -> Alert:
    return Alert(
        id="a1",
        kind=AlertKind.FACE_MATCH,
        camera_id="cam-1",
        raised_at=datetime(2026, 12, 4, 12, 0, tzinfo=UTC),
        score=0.8,
        deployment_id="dep-1",
        subject_id="subject-7",
        false_alert_rate=1e-5,
        detail="plate=AB123CD hotlist=h1",
    )


def test_mqtt_alerts_are_off_by_default_and_minimal_when_on() -> None:
    event = AlertEvent(_face_alert())
    assert topics_for("v", event) == []
    status = CameraStatusEvent("cam-1", "running", datetime.now(UTC))
    assert {t for t, *_ in topics_for("v", status)} == {
        "v/events",
        "v/cam-1/status",
        "v/cam-1/state",
    }

    on = MqttPublishConfig(alerts=True)
    messages = {t: json.loads(p) for t, p, *_ in topics_for("v", event, on)}
    assert set(messages["v/cam-1/alerts"]) == set(ALERT_BASE_FIELDS)
    assert set(messages["v/events"]["alert"]) == set(ALERT_BASE_FIELDS)
    wire = json.dumps(messages)
    for private in ("subject-7", "dep-1", "AB123CD", "0.8"):
        assert private not in wire

    chosen = MqttPublishConfig(
        alerts=True, alert_fields=["score", "subject_id"], events_topic=False
    )
    messages = {t: json.loads(p) for t, p, *_ in topics_for("v", event, chosen)}
    assert list(messages) == ["v/cam-1/alerts"]
    assert messages["v/cam-1/alerts"]["subject_id"] == "subject-7"
    assert "deployment_id" not in messages["v/cam-1/alerts"]


def _config_file(tmp_path: Path, hook: str) -> Path:
    path = tmp_path / "vigil.yaml"
    path.write_text(
        "system:\n  data_dir: var\n"
        "cameras:\n  - id: cam-1\n    url: rtsp://admin:camera-pw@10.0.0.7/live\n"
        "notify:\n  webhooks:\n" + hook
    )
    return path


def test_config_show_masks_webhook_credentials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = (
        "    - url: https://bot:hook-pw@hooks.example.org/services/T0/B0/path-token?sig=q-token\n"
        f"      secret: {SECRET}\n"
    )
    main(["config", "show", str(_config_file(tmp_path, hook))])
    out = capsys.readouterr().out
    for secret in ("hook-pw", "path-token", "q-token", SECRET, "camera-pw"):
        assert secret not in out
    shown = json.loads(out)["notify"]["webhooks"][0]["url"]
    assert shown == "https://***@hooks.example.org/***"


def test_config_check_refuses_a_private_webhook_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = f"    - url: http://[::1]:5432/\n      secret: {SECRET}\n"
    with pytest.raises(SystemExit) as exc:
        main(["config", "check", str(_config_file(tmp_path, hook))])
    assert exc.value.code == 2
    assert "loopback" in capsys.readouterr().err
    short = "    - url: https://hooks.example.org/x\n      secret: x\n"
    with pytest.raises(SystemExit):
        main(["config", "check", str(_config_file(tmp_path, short))])
    assert "at least 16 characters" in capsys.readouterr().err


def test_a_request_is_pinned_to_the_checked_address() -> None:
    url, headers, ext = pinned("https://u:p@hooks.example.org:8443/x?y=1", "93.184.216.34")
    assert url == "https://u:p@93.184.216.34:8443/x?y=1"
    assert headers == {"Host": "hooks.example.org:8443"}
    assert ext == {"sni_hostname": "hooks.example.org"}  # the certificate is checked for it
    url, headers, ext = pinned("http://hooks.example.org/x", "2001:db8::1")
    assert url == "http://[2001:db8::1]/x" and headers == {"Host": "hooks.example.org"}
    assert ext == {}
