"""The default assembly (what `vigil run` builds from a config) wires the safeguards: the purger
and the live identifiers share one archive index, and the housekeeper purges a lapsed template
from the database, the media store and the archive index without anyone calling it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from vigil.config import VigilConfig
from vigil.core.records import ObjectClass, Sighting
from vigil.governance.audit import iter_entries
from vigil.governance.purge import RetentionPolicy
from vigil.storage.archive import FaissArchiveIndex
from vigil.storage.governance import GovernanceStore
from vigil.system.assembly import assemble
from vigil.system.governance import Housekeeper, embedding_dim
from vigil.system.leader import LeaderOnly
from vigil.system.services import Services

pytestmark = pytest.mark.models


def _housekeeper(svc: Services) -> Housekeeper:
    """The assembled housekeeper: run by the leader among processes sharing the database."""
    leaders = [b for b in svc.background if isinstance(b, LeaderOnly)]
    (keeper,) = [p for leader in leaders for p in leader.parts if isinstance(p, Housekeeper)]
    return keeper


def config(tmp_path: Path) -> VigilConfig:
    return VigilConfig.model_validate(
        {
            "system": {"data_dir": str(tmp_path)},
            "api": {"secret_key": "test-secret-key"},
            "cameras": [
                {"id": "cam-1", "url": str(tmp_path / "none.mp4"), "analytics": ["faces"]},
            ],
        }
    )


def test_default_assembly_purges_the_archive_too(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    built = assemble(cfg)
    svc = built.services
    try:
        archive = svc.archive
        assert isinstance(archive, FaissArchiveIndex) and archive.dir == tmp_path / "archive"
        assert archive.params.dim == embedding_dim(cfg.faces.embedder)
        assert svc.purger.archive is archive and svc.archive_search is not None
        assert svc.archive_search.archive is archive
        system = built.system
        assert system is not None and system.identifying == ["cam-1"]
        assert system.analysis.identifiers["cam-1"].recorder.archive is archive
        keeper = _housekeeper(svc)
        assert keeper.catch_up is None  # embedded: the recorder adds to the index itself

        # A template archived under a post-event authorisation that has since lapsed.
        now = datetime.now(UTC)
        crop = svc.media.put(b"crop bytes")
        s = Sighting("s1", "cam-1", ObjectClass.FACE, now - timedelta(minutes=5), now, 0.8, crop)
        svc.repo.add_sightings([s])
        vec = np.random.default_rng(0).standard_normal(archive.params.dim).astype(np.float32)
        ids = svc.repo.add_embeddings("fr_feature", [("s1", vec)], at=now)
        archive.add(np.asarray(ids), vec[None, :])
        keeper.run_once()

        counts = GovernanceStore(svc.repo.db).biometric_counts()
        assert counts["sighting_embeddings"] == 0 and counts["sighting_crops"] == 0
        assert list(svc.media.keys()) == [] and len(archive) == 0
        assert not archive.search(vec, 1).ids[0, 0] >= 0
        actions = [e.action for e in iter_entries(svc.repo)]
        assert actions == ["purge.sightings", "retention.run"]
        keeper.run_once()  # retention is not due again within the hour: no empty entries
        assert [e.action for e in iter_entries(svc.repo)] == actions
        assert svc.audit.verify().ok
    finally:
        svc.repo.db.dispose()


def test_housekeeper_thread_starts_stops_and_survives_a_failing_pass(tmp_path: Path) -> None:
    svc = assemble(config(tmp_path), cameras=False).services
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        raise RuntimeError("database away")

    keeper = Housekeeper(svc.deployments, svc.purger, RetentionPolicy(), every_s=0.01)
    keeper.run_once = failing  # type: ignore[method-assign]
    keeper.start()
    try:
        deadline = datetime.now(UTC) + timedelta(seconds=5)
        while len(calls) < 3 and datetime.now(UTC) < deadline:
            time.sleep(0.01)
        assert len(calls) >= 3  # a failed pass is logged and retried, the thread lives on
    finally:
        keeper.stop()
    assert keeper._thread is None
    report = keeper.status()
    assert report["failures"] == report["passes"] >= 3 and report["last_ok_at"] is None
    assert report["last_error"] == "RuntimeError: database away"
    # The status an auditor sees through the API: the assembled housekeeper, and its failures.
    from fastapi.testclient import TestClient

    from vigil.api.app import create_app
    from vigil.core.domain import Role

    try:
        svc.background.append(keeper)
        auditor = svc.accounts.create_user("aud", "a long enough password 1", [Role.AUDITOR])
        op = svc.accounts.create_user("op", "a long enough password 1", [Role.OPERATOR])
        client = TestClient(create_app(config(tmp_path), services=svc, start_background=False))

        def get(user: object) -> object:
            token = svc.accounts.start_session(user)[0]  # type: ignore[arg-type]
            return client.get("/api/v1/system/status", headers={"Authorization": f"Bearer {token}"})

        resp = get(auditor)
        assert resp.status_code == 200  # type: ignore[attr-defined]
        tasks = {t["name"]: t for t in resp.json()["background"]}  # type: ignore[attr-defined]
        assert tasks["housekeeper"]["last_error"] == "RuntimeError: database away"
        assert "event_watcher" in tasks
        assert get(op).status_code == 403  # type: ignore[attr-defined]
    finally:
        svc.repo.db.dispose()


def test_archive_catches_up_after_a_crash_and_saves_on_a_clean_stop(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    svc = assemble(cfg, cameras=False).services
    archive = svc.archive
    assert isinstance(archive, FaissArchiveIndex)
    dim = archive.params.dim
    now = datetime.now(UTC)
    rng = np.random.default_rng(3)
    svc.repo.add_sightings(
        [Sighting(f"s{i}", "cam-1", ObjectClass.FACE, now, now, 0.8) for i in range(3)]
    )
    vecs = rng.standard_normal((2, dim)).astype(np.float32)
    ids = svc.repo.add_embeddings("fr_feature", [("s0", vecs[0]), ("s1", vecs[1])], at=now)
    other = svc.repo.add_embeddings("old-model", [("s2", np.ones(16, np.float32))], at=now)
    archive.add(np.asarray(ids), vecs)  # archived live, never saved: then the process dies
    svc.repo.db.dispose()

    again = assemble(cfg, cameras=False).services  # start-up after the crash
    try:
        index = again.archive
        assert isinstance(index, FaissArchiveIndex) and len(index) == 2
        found = index.search(vecs[1:2], 1).ids[0, 0]
        assert found == ids[1] and other[0] not in index.search(vecs[:1], 3).ids[0]
        more = again.repo.add_embeddings("fr_feature", [("s2", vecs[0] * -1)], at=now)
        index.add(np.asarray(more), -vecs[:1])
        again.stop()  # a clean stop saves the index
        reopened = FaissArchiveIndex(index.dir, index.params)
        assert len(reopened) == 3
    finally:
        again.repo.db.dispose()


def test_a_cluster_head_brings_templates_archived_on_camera_nodes_into_its_index(
    tmp_path: Path,
) -> None:
    """Camera nodes archive into the database only; the head's housekeeper catches its index up
    every pass, so an authorised archive search finds them without a restart."""
    from tests.support.governance_world import INVESTIGATOR, OFFICER
    from vigil.governance.deployments import DeploymentKind, DeploymentRequest, Purpose

    built = assemble(config(tmp_path), cameras=False)
    svc = built.services
    try:
        archive = svc.archive
        assert isinstance(archive, FaissArchiveIndex) and len(archive) == 0
        now = datetime.now(UTC)
        req = DeploymentRequest(
            Purpose.SERIOUS_CRIME_SUSPECT,
            "warrant 7",
            now - timedelta(hours=1),
            now + timedelta(hours=1),
            camera_ids=("cam-1",),
            reason="robbery at 10:00",
            kind=DeploymentKind.POST_EVENT,
        )
        dep = svc.deployments.request(INVESTIGATOR, req)
        svc.deployments.approve(OFFICER, dep, "necessary")
        # What a camera node's recorder writes for an archived non-match (no index there).
        vec = np.random.default_rng(5).standard_normal(archive.params.dim).astype(np.float32)
        s = Sighting("s1", "cam-1", ObjectClass.FACE, now - timedelta(minutes=2), now, 0.8)
        svc.repo.add_sightings([s])
        (vid,) = svc.repo.add_embeddings("fr_feature", [("s1", vec)], at=now)
        keeper = _housekeeper(svc)
        assert keeper.catch_up is not None
        keeper.run_once()
        assert len(archive) == 1
        assert int(archive.search(vec[None, :], 1).ids[0, 0]) == vid
    finally:
        svc.repo.db.dispose()
