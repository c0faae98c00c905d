"""Write settings back into a config file without losing its comments or layout.

``vigil calibrate`` must put the threshold it derived into the operator's ``vigil.yaml``: a
rewrite with a plain YAML dumper would drop every comment the operator wrote, so this uses
ruamel.yaml's round-trip mode and touches only the keys it sets. The result is validated before
it replaces the file (atomically), so a bad write can never leave an invalid config.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from vigil.config.loader import parse_config
from vigil.errors import ConfigError


def set_values(path: Path, updates: dict[tuple[str, ...], Any]) -> None:
    """Set nested keys (``("faces", "identification", "threshold")`` → value) in a YAML file."""
    yaml = YAML()
    yaml.preserve_quotes = True
    try:
        data = yaml.load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    for keys, value in updates.items():
        node = data
        for key in keys[:-1]:
            if key not in node or node[key] is None:
                node[key] = {}
            node = node[key]
        node[keys[-1]] = value
    buf = io.StringIO()
    yaml.dump(data, buf)
    text = buf.getvalue()
    parse_config(text, str(path))  # validate before replacing the file
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


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
