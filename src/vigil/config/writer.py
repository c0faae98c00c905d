"""Write settings back into a config file without losing its comments or layout.

``vigil calibrate`` must put the threshold it derived into the operator's ``vigil.yaml``: a
rewrite with a plain YAML dumper would drop every comment the operator wrote, so this uses
ruamel.yaml's round-trip mode and touches only the keys it sets. The result is validated before
it replaces the file (atomically), so a bad write can never leave an invalid config.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from vigil.config.loader import parse_config
from vigil.errors import ConfigError


def set_values(path: Path, updates: dict[tuple[str, ...], Any]) -> None:
    """Set nested keys (``("faces", "identification", "threshold")`` → value) in a YAML file."""

    def change(data: Any) -> None:
        for keys, value in updates.items():
            node = data
            for key in keys[:-1]:
                if key not in node or node[key] is None:
                    node[key] = {}
                node = node[key]
            node[keys[-1]] = value

    _edit(path, change)


def write_calibration_to_config(
    path: Path,
    *,
    threshold: float,
    target_fpir: float,
    watchlist_size: int,
    expected_tpir: float,
    calibration_file: Path,
) -> None:
    """Record a calibration's operating point in ``faces.identification``."""
    base = ("faces", "identification")
    set_values(
        path,
        {
            (*base, "threshold"): round(float(threshold), 6),
            (*base, "calibrated_fpir"): float(target_fpir),
            (*base, "calibrated_watchlist_size"): int(watchlist_size),
            (*base, "calibrated_tpir"): round(float(expected_tpir), 6),
            (*base, "calibration_file"): str(calibration_file),
        },
    )


_LITERAL_CREDENTIALS = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://[^/@\s$]+:[^/@\s]*@")


def _edit(path: Path, change: Callable[[Any], None]) -> None:
    """Load with comments, apply ``change``, validate the result, then replace the file."""
    yaml = YAML()
    yaml.preserve_quotes = True
    try:
        data = yaml.load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    change(data)
    buf = io.StringIO()
    yaml.dump(data, buf)
    text = buf.getvalue()
    # Validate the structure; ${VARIABLES} only need to exist where the system runs, so any
    # that are not set here get a placeholder for this check.
    env = dict(os.environ)
    for name in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text):
        env.setdefault(name, "placeholder")
    parse_config(text, str(path), environ=env)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def add_camera(path: Path, camera: dict[str, Any]) -> None:
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

    _edit(path, change)


def remove_camera(path: Path, camera_id: str) -> None:
    """Remove the camera ``camera_id`` from ``cameras:`` (an unknown id is an error)."""

    def change(data: Any) -> None:
        cams = data.get("cameras") or []
        keep = [c for c in cams if str(c.get("id")) != camera_id]
        if len(keep) == len(cams):
            raise ConfigError(f"no camera {camera_id!r} in {path}")
        cams[:] = keep

    _edit(path, change)
