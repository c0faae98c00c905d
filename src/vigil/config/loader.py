"""Load ``vigil.yaml`` into :class:`VigilConfig`, reporting each error with its YAML line.

Two ways to keep secrets out of the file:

* ``${NAME}`` inside any string value is replaced by the environment variable ``NAME`` (a missing
  variable is an error naming the line, not an empty string);
* ``VIGIL__SECTION__FIELD=value`` overrides a scalar setting, e.g. ``VIGIL__API__SECRET_KEY``.

Values taken from the environment are registered with the log redactor, so they cannot leak into
log lines even when they are not URLs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import yaml

from vigil.config.settings import VigilConfig
from vigil.errors import ConfigError
from vigil.logs import register_secret

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
ENV_PREFIX = "VIGIL__"
MAX_CONFIG_BYTES = 1_000_000


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file: where (line, dotted field) and what."""

    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "line ?"
        return f"{where}: {self.field or '<root>'}: {self.message}"


class ConfigFileError(ConfigError):
    """A config file with one or more issues; ``issues`` lists them all."""

    def __init__(self, path: str, issues: list[ConfigIssue]) -> None:
        lines = "\n".join(f"  {i}" for i in issues)
        super().__init__(f"{path}: {len(issues)} error(s)\n{lines}")
        self.issues = issues


def _node_lines(node: yaml.Node, prefix: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map every key path in a composed YAML tree to its 1-based line number."""
    lines: dict[tuple[Any, ...], int] = {prefix: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = (*prefix, key_node.value)
            lines.update(_node_lines(value_node, path))
            lines[path] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_node_lines(item, (*prefix, i)))
    return lines


def _line_for(loc: tuple[Any, ...], lines: Mapping[tuple[Any, ...], int]) -> int | None:
    # pydantic puts the union tag into the location (faces.detector.yunet.score_threshold); drop
    # path parts the YAML does not have until a known path is found.
    path = tuple(loc)
    while path:
        if path in lines:
            return lines[path]
        filtered = tuple(p for p in path if p not in ("yunet", "centerface"))
        if filtered in lines:
            return lines[filtered]
        path = path[:-1]
    return lines.get((), None)


def _interpolate(
    value: Any,
    lines: Mapping[tuple[Any, ...], int],
    path: tuple[Any, ...],
    issues: list[ConfigIssue],
    environ: Mapping[str, str],
) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, lines, (*path, k), issues, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, lines, (*path, i), issues, environ) for i, v in enumerate(value)]
    if isinstance(value, str) and "${" in value:

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in environ:
                issues.append(
                    ConfigIssue(
                        _line_for(path, lines),
                        ".".join(map(str, path)),
                        f"environment variable {name} is not set",
                    )
                )
                return ""
            register_secret(environ[name])
            return environ[name]

        return _ENV_REF.sub(sub, value)
    return value


def _apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in key[len(ENV_PREFIX) :].split("__") if p]
        if not parts:
            continue
        register_secret(raw)
        node = data
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else raw


def parse_config(
    text: str, source: str = "<string>", environ: Mapping[str, str] | None = None
) -> VigilConfig:
    """Validate YAML text; raise :class:`ConfigFileError` listing every issue with its line."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigFileError(source, [ConfigIssue(line, "", f"not valid YAML: {exc}")]) from exc
    if data is None:
        data, root = {}, None
    if not isinstance(data, dict):
        raise ConfigFileError(source, [ConfigIssue(1, "", "the top level must be a mapping")])
    lines = _node_lines(root) if root is not None else {}
    issues: list[ConfigIssue] = []
    env = os.environ if environ is None else environ
    data = _interpolate(data, lines, (), issues, env)
    _apply_env_overrides(data, env)
    try:
        config = VigilConfig.model_validate(data)
    except pydantic.ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            issues.append(ConfigIssue(_line_for(loc, lines), ".".join(map(str, loc)), err["msg"]))
        raise ConfigFileError(source, issues) from None
    if issues:
        raise ConfigFileError(source, issues)
    return config


def load_config(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None
) -> VigilConfig:
    """Load and validate a config file (``None`` gives the defaults plus env overrides).

    Relative ``system.data_dir`` is resolved against the file's folder, so the same file works
    from any working directory.
    """
    if path is None:
        return parse_config("{}", "<defaults>", environ)
    p = Path(path)
    try:
        if p.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{p}: larger than {MAX_CONFIG_BYTES} bytes; not a config file?")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {p} is not UTF-8 text") from None
    config = parse_config(text, str(p), environ)
    if not config.system.data_dir.is_absolute():
        config.system.data_dir = (p.parent / config.system.data_dir).resolve()
    ident = config.faces.identification
    if ident.calibration_file is not None and not ident.calibration_file.is_absolute():
        ident.calibration_file = (p.parent / ident.calibration_file).resolve()
    return config
