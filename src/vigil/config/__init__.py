"""Configuration: the schema (:mod:`.settings`) and the YAML loader (:mod:`.loader`)."""

from vigil.config.loader import ConfigFileError, ConfigIssue, load_config, parse_config
from vigil.config.settings import CameraConfig, VigilConfig

__all__ = [
    "CameraConfig",
    "ConfigFileError",
    "ConfigIssue",
    "VigilConfig",
    "load_config",
    "parse_config",
]
