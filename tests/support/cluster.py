"""Helpers of the cluster-mode tests: a camera node's config, and every file a node wrote."""

from __future__ import annotations

from pathlib import Path

from vigil.config.settings import VigilConfig


def node_config(config: VigilConfig, address: str, data_dir: Path) -> VigilConfig:
    """``config`` as the camera actors get it: joining ``address``, with their own data folder
    (as on their own machine), so what a node writes locally is told apart from the head's."""
    return config.model_copy(
        update={
            "cluster": config.cluster.model_copy(update={"address": address}),
            "system": config.system.model_copy(update={"data_dir": data_dir}),
        }
    )


def files_under(root: Path) -> list[str]:
    """Every file under ``root``, as sorted paths relative to it (``[]`` if it does not exist)."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def media_path(key: str) -> str:
    """Where the local media store keeps ``key``, relative to the data folder."""
    return f"media/{key[:2]}/{key[2:4]}/{key}"
