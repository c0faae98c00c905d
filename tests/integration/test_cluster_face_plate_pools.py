"""The face and plate pools on a real Ray cluster answer exactly as the local models do.

One Ray cluster on this machine (a head without CPUs, one "inference" node holding the pools),
started with object spilling off, as docs/cluster.md advises for deployments whose frames must
never reach a disk. The face pool serves the configured detector and fused embedder, the plate
pool the PP-OCR plate reader; this test is the camera side (the same clients a camera actor
builds), on real data: LFW photos and the identification scene (a face walking through
vtest.avi) for faces, OpenALPR US images for plates. Last, a real camera actor (a face camera on
vtest.avi, on a third node) analyses its frames through the face pool.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.data import shared_data
from tests.support.scenes import FACE_FRAMES, scene_frames
from vigil.cluster.batching import Priority
from vigil.cluster.inference import INLINE_LIMIT, start_pool
from vigil.cluster.models import CROPS_PER_REQUEST, PoolClients
from vigil.config.settings import VigilConfig
from vigil.core import FrameRef
from vigil.perception.faces.pipeline import FacePipeline
from vigil.perception.image import load_image
from vigil.perception.plates import PlateReader
from vigil.perception.plates.benchmark import load_benchmark
from vigil.system.plates import profile_from_config

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

ray = pytest.importorskip("ray", reason="cluster mode needs Ray (installed by `make test`)")
cluster_utils = pytest.importorskip("ray.cluster_utils")

pytestmark = pytest.mark.models
US_DIR = ("openalpr_benchmarks_endtoend", "endtoend", "us")


def _config(pg_url: str, address: str, video: Path, data: Path) -> VigilConfig:
    cams = [
        {"id": "door", "url": str(video), "analytics": ["faces"], "loop": True, "fps": 4},
        {"id": "gate", "url": str(video), "analytics": ["plates"]},
    ]
    return VigilConfig.model_validate(
        {
            "system": {"data_dir": str(data)},
            "storage": {"url": pg_url},
            "cluster": {
                "engine": "ray",
                "address": address,
                "namespace": "vigil-fpool",
                "inference": "pooled",
                "pool": {"kinds": ["faces", "plates"], "cpus": 1, "resources": {"inference": 1}},
            },
            "cameras": cams,
        }
    )


def _faces_equal(pooled: FacePipeline, local: FacePipeline, images: list[np.ndarray]) -> int:
    """Compares every image's analysis; returns how many templates were compared."""
    templates = 0
    for i, image in enumerate(images):
        ref = FrameRef("door", datetime.now(UTC), i, image.shape[1], image.shape[0])
        got, want = pooled.analyse(image, ref), local.analyse(image, ref)
        np.testing.assert_array_equal(got.detections.xyxy, want.detections.xyxy)
        np.testing.assert_array_equal(got.detections.confidence, want.detections.confidence)
        np.testing.assert_array_equal(got.detections.landmarks, want.detections.landmarks)
        np.testing.assert_array_equal(got.usable, want.usable)
        for g, w in zip(got.observations, want.observations, strict=True):
            assert (g.embedding is None) == (w.embedding is None)
            if w.embedding is not None:
                np.testing.assert_array_equal(g.embedding, w.embedding)
                templates += 1
    return templates


def _check_faces(config: VigilConfig, clients: PoolClients, lfw: Path, video: Path) -> None:
    door = config.cameras[0]
    pooled = clients.faces(door)
    local = FacePipeline.from_config(config.faces, config.models.dir)
    assert pooled.embedder.dim == local.embedder.dim and pooled.embedder.name == local.embedder.name
    # Templates come back inline: a full embed request's answer is far under Ray's limit.
    assert CROPS_PER_REQUEST * pooled.embedder.dim * 4 < INLINE_LIMIT // 10

    photos = sorted(lfw.glob("*/*.jpg"))[:6]
    frames = scene_frames(video, photos[0])
    images = [load_image(p) for p in photos] + [frames[k] for k in FACE_FRAMES][::3]
    templates = _faces_equal(pooled, local, images)
    print(f"\nface pool: {templates} templates equal to local on {len(images)} images")
    assert templates >= 6

    # Crops of several faces go two per request, in flight together (float-equal within
    # rounding: the local embedder runs them as one batch of five).
    crops = np.concatenate([local.analyse(load_image(p), _ref()).crops for p in photos[:5]])
    assert len(crops) >= 5
    np.testing.assert_allclose(
        pooled.embedder.embed(crops), local.embedder.embed(crops), rtol=0, atol=1e-5
    )


def _ref() -> FrameRef:
    return FrameRef("door", datetime.now(UTC), 0, 250, 250)


def _camera_actor_uses_the_face_pool(config: VigilConfig, faces: Any) -> None:
    """A real camera actor (face camera, vtest.avi) analyses through the face pool."""
    from vigil.cluster.actor import remote_class

    before = ray.get(faces.stats.remote(), timeout=30)["submitted"]
    actor = remote_class().options(num_cpus=0.5).remote(config, "door")
    try:
        deadline = time.monotonic() + 90
        row: dict[str, Any] = {}
        while time.monotonic() < deadline and (row.get("frames_analysed") or 0) < 8:
            time.sleep(1)
            row = ray.get(actor.status.remote(), timeout=60)
        print(f"camera through the face pool: {row}")
        assert (row.get("frames_analysed") or 0) >= 8, row
        assert row["analysis_failures"] == 0 and row["priority"] == "normal"
        stats = ray.get(faces.stats.remote(), timeout=30)
        assert stats["submitted"] - before >= 8 and stats["failed"] == 0
    finally:
        ray.get(actor.stop.remote(), timeout=30)
        ray.kill(actor, no_restart=True)


def _check_plates(config: VigilConfig, clients: PoolClients) -> None:
    pooled = clients.plates(config.cameras[1])
    local = PlateReader.from_models(profile_from_config(config.plates), config.models.dir)
    items = load_benchmark(shared_data(*US_DIR))[-4:]
    reads = 0
    for item in items:
        image = load_image(item.image)
        want = local.read(image)
        assert pooled.read(image) == want  # a dedicated plate camera: the whole frame
        x1, y1, x2, y2 = item.xyxy
        box = [(x1 - 60, y1 - 40, x2 + 60, y2 + 40)]  # a vehicle camera: around the plate
        assert pooled.read(image, box) == local.read(image, box)
        reads += len(want)
    print(f"plate pool: {reads} reads equal to local on {len(items)} images")
    assert reads >= 2


@pytest.mark.timeout(240)
def test_face_and_plate_pools_answer_as_the_local_models(
    pg_url: str, lfw_dir: Path, vtest_video: Path, tmp_path: Path
) -> None:
    cluster = cluster_utils.Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 0,
            "_system_config": {"automatic_object_spilling_enabled": False},
        },
    )
    servers: dict[str, list[Any]] = {}
    try:
        pool_node = cluster.add_node(num_cpus=2, resources={"inference": 2})
        cluster.add_node(num_cpus=1)  # the camera's node
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, namespace="vigil-fpool", log_to_driver=False)
        config = _config(pg_url, cluster.address, vtest_video, tmp_path)
        servers = dict(start_pool(config))
        assert sorted(servers) == ["faces", "plates"]
        clients = PoolClients(config, lambda: Priority.NORMAL)
        _check_faces(config, clients, lfw_dir, vtest_video)
        _check_plates(config, clients)
        _camera_actor_uses_the_face_pool(config, servers["faces"][0])
        for kind, actors in servers.items():
            stats = ray.get(actors[0].stats.remote(), timeout=30)
            print(f"{kind} pool: {stats}")
            assert stats["kind"] == kind and stats["node"] == pool_node.node_id
            assert stats["answered"] > 0 and stats["failed"] == 0 and stats["dropped"] == 0
    finally:
        for actors in servers.values():
            for actor in actors:
                ray.kill(actor, no_restart=True)
        ray.shutdown()
        cluster.shutdown()
