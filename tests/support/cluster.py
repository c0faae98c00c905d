"""Helpers of the cluster-mode tests: a camera node's config, every file a node wrote, and the
head's part of the face scene (a watchlist of enrolled people and an approved deployment)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.governance_world import INVESTIGATOR, OFFICER
from vigil.config.settings import VigilConfig
from vigil.governance.deployments import DeploymentRequest, Purpose
from vigil.governance.watchlists import Category, EnrolmentPhoto
from vigil.system.services import Services


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


def deploy_on(
    svc: Services, people: list[list[Path]], camera_id: str, warrant: str
) -> tuple[str, str]:
    """As the head does it: an investigator enrols the first photo of each of ``people`` in a
    new watchlist and requests a two-hour deployment on ``camera_id``, which a different
    officer approves. Returns the watchlist's and the deployment's ids."""
    now = datetime.now(UTC)
    wl = svc.watchlists.create(
        INVESTIGATOR,
        name="missing persons",
        category=Category.MISSING_OR_VULNERABLE,
        reason="missing persons reports",
        expires_at=now + timedelta(days=7),
    )
    for i, photos in enumerate(people):
        photo = EnrolmentPhoto(photos[0].read_bytes(), f"family photo, report MP-{i}")
        svc.watchlists.enrol(
            INVESTIGATOR, wl, label=f"person {i}", photos=[photo], reason=f"report MP-{i}"
        )
    req = DeploymentRequest(
        Purpose.VICTIM_SEARCH,
        warrant,
        now - timedelta(minutes=1),
        now + timedelta(hours=2),
        watchlist_ids=(wl,),
        camera_ids=(camera_id,),
        reason="child at risk",
    )
    dep = svc.deployments.request(INVESTIGATOR, req)
    svc.deployments.approve(OFFICER, dep, "necessary and proportionate")
    return wl, dep
