"""Write settings back into a config file without losing its comments or layout.

``vigil calibrate`` must put the threshold it derived into the operator's ``vigil.yaml``: a
rewrite with a plain YAML dumper would drop every comment the operator wrote, so this uses
ruamel.yaml's round-trip mode and touches only the keys it sets. The result is validated before
it replaces the file (atomically), so a bad write can never leave an invalid config.

Every writer takes an ``on_change`` callback that receives the :class:`SettingChange` list after
validation and **before** the file is replaced: the CLI appends the audit entry there, so a
change whose audit entry cannot be written is not made (the reverse failure, an entry for a
replace that then fails, over-records rather than hides). Values of secret-bearing keys (URLs,
keys, passwords, tokens) are never put in a change, only the fact that they changed.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from vigil.config.loader import parse_config
from vigil.errors import ConfigError


@dataclass(frozen=True, slots=True)
class SettingChange:
    """One changed setting: a dotted path (list items by ``id``: ``cameras[gate-1].fps``), the
    old and the new value as short text (``None``: absent; secrets shown as ``(secret)``)."""

    path: str
    old: str | None
    new: str | None


OnChange = Callable[[Sequence[SettingChange]], None]
_SECRET_KEY = re.compile(r"(^|_)(url|secret_key|secret|password|token)$")
MAX_VALUE = 100


def environ_for_checking(text: str) -> dict[str, str]:
    """The environment for validating a config file where it is edited, not where it runs.

    ``${VARIABLES}`` (camera credentials, usually) need only exist on the machine that runs the
    system, so each one not set here gets a stand-in value for the check. The stand-in is not a
    valid URL or key: a value whose *content* matters (the storage URL) still fails loudly.
    """
    env = dict(os.environ)
    for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text):
        env.setdefault(name, "unset-here")
    return env


def diff_settings(before: Any, after: Any, prefix: str = "") -> list[SettingChange]:
    """The leaves that differ between two plain config trees (dicts, lists, scalars).

    A section present on one side only is walked leaf by leaf (as if empty on the other), so a
    secret inside a new section is still reported as ``(secret)``, never by value.
    """
    if isinstance(before, dict) and after is None:
        after = {}
    if isinstance(after, dict) and before is None:
        before = {}
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            out += diff_settings(before.get(key), after.get(key), path)
        return out
    if _by_id(before) and _by_id(after):
        old = {str(i["id"]): i for i in before}
        new = {str(i["id"]): i for i in after}
        out = []
        for key in sorted(set(old) | set(new)):
            path = f"{prefix}[{key}]"
            if key not in new:
                out.append(SettingChange(path, "present", None))
            elif key not in old:
                out.append(SettingChange(path, None, "added"))
            else:
                out += diff_settings(old[key], new[key], path)
        return out
    if before == after:
        return []
    leaf = prefix.rsplit(".", 1)[-1]
    secret = bool(_SECRET_KEY.search(leaf))
    return [SettingChange(prefix, _shown(before, secret), _shown(after, secret))]


def _by_id(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "id" in i for i in value)


def _shown(value: Any, secret: bool) -> str | None:
    if value is None:
        return None
    text = "(secret)" if secret else str(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 3] + "..."


def _plain(data: Any) -> Any:
    """A deep copy of ruamel's round-trip containers as plain dicts and lists."""
    if isinstance(data, dict):
        return {str(k): _plain(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain(v) for v in data]
    return data


def set_values(
    path: Path, updates: dict[tuple[str, ...], Any], *, on_change: OnChange | None = None
) -> list[SettingChange]:
    """Set nested keys (``("faces", "identification", "threshold")`` → value) in a YAML file.

    Returns what changed (also passed to ``on_change`` before the file is replaced).
    """

    def change(data: Any) -> None:
        for keys, value in updates.items():
            node = data
            for key in keys[:-1]:
                if key not in node or node[key] is None:
                    node[key] = {}
                node = node[key]
            node[keys[-1]] = value

    return _edit(path, change, on_change)


def write_calibration_to_config(
    path: Path,
    *,
    threshold: float,
    target_fpir: float,
    watchlist_size: int,
    expected_tpir: float,
    calibration_file: Path,
    on_change: OnChange | None = None,
) -> list[SettingChange]:
    """Record a calibration's operating point in ``faces.identification``."""
    base = ("faces", "identification")
    return set_values(
        path,
        {
            (*base, "threshold"): round(float(threshold), 6),
            (*base, "calibrated_fpir"): float(target_fpir),
            (*base, "calibrated_watchlist_size"): int(watchlist_size),
            (*base, "calibrated_tpir"): round(float(expected_tpir), 6),
            (*base, "calibration_file"): str(calibration_file),
        },
        on_change=on_change,
    )


_LITERAL_CREDENTIALS = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://[^/@\s$]+:[^/@\s]*@")


def _edit(
    path: Path, change: Callable[[Any], None], on_change: OnChange | None = None
) -> list[SettingChange]:
    """Load with comments, apply ``change``, validate, report the changes, replace the file."""
    yaml = YAML()
    yaml.preserve_quotes = True
    try:
        data = yaml.load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    before = _plain(data)
    change(data)
    buf = io.StringIO()
    yaml.dump(data, buf)
    text = buf.getvalue()
    parse_config(text, str(path), environ=environ_for_checking(text))
    changes = diff_settings(before, _plain(data))
    if on_change is not None and changes:
        on_change(changes)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return changes


def add_camera(
    path: Path, camera: dict[str, Any], *, on_change: OnChange | None = None
) -> list[SettingChange]:
    """Append a camera to ``cameras:``; refuses a duplicate id and credentials written in clear.

    A URL such as ``rtsp://user:pass@host`` would put the password in the file; write
    ``rtsp://${CAM_USER}:${CAM_PASS}@host`` and set the variables in the environment instead.
    """
    url = str(camera.get("url", ""))
    if _LITERAL_CREDENTIALS.match(url):
        raise ConfigError(
            "the camera URL holds a password in clear",
            hint="write the credentials as ${VARIABLES} and set them in the environment",
        )

    def change(data: Any) -> None:
        cams = data.setdefault("cameras", [])
        if cams is None:
            data["cameras"] = cams = []
        if any(str(c.get("id")) == camera["id"] for c in cams):
            raise ConfigError(f"camera {camera['id']!r} already exists in {path}")
        cams.append(camera)

    return _edit(path, change, on_change)


def remove_camera(
    path: Path, camera_id: str, *, on_change: OnChange | None = None
) -> list[SettingChange]:
    """Remove the camera ``camera_id`` from ``cameras:`` (an unknown id is an error)."""

    def change(data: Any) -> None:
        cams = data.get("cameras") or []
        keep = [c for c in cams if str(c.get("id")) != camera_id]
        if len(keep) == len(cams):
            raise ConfigError(f"no camera {camera_id!r} in {path}")
        cams[:] = keep

    return _edit(path, change, on_change)
