"""Pool kinds: which kinds start, the server's grouping by operation, size checks (no Ray, no
models: the served model is a fake, as these test one class each)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from vigil.cli.cluster_cmd import pool_kinds
from vigil.cluster import models
from vigil.cluster.batching import Priority
from vigil.cluster.inference import INLINE_LIMIT, PoolServer, pooled_kinds
from vigil.cluster.models import CROP_BYTES, CROPS_PER_REQUEST, Served, inline_sized
from vigil.config.cluster import ClusterConfig
from vigil.config.settings import VigilConfig


def _config(pool: dict[str, Any], *analytics: list[str]) -> VigilConfig:
    cams = [{"id": f"c{i}", "url": "/dev/null", "analytics": a} for i, a in enumerate(analytics)]
    return VigilConfig.model_validate(
        {
            "storage": {"url": "postgresql://localhost/test"},
            "cluster": {"engine": "ray", "inference": "pooled", "pool": pool},
            "cameras": cams,
        }
    )


@pytest.mark.parametrize(
    ("kinds", "analytics", "want"),
    [
        (["objects", "faces", "plates"], [["faces"], ["plates"]], ["objects", "faces", "plates"]),
        (["objects", "faces", "plates"], [["crowd"]], ["objects"]),
        (["faces"], [["faces", "persons"]], ["faces"]),
        (["plates"], [["faces"]], []),
    ],
)
def test_only_configured_kinds_that_a_camera_uses_start(
    kinds: list[str], analytics: list[list[str]], want: list[str]
) -> None:
    assert pooled_kinds(_config({"kinds": kinds}, *analytics)) == want


def test_local_inference_pools_nothing() -> None:
    config = _config({}, ["faces"]).model_copy()
    config.cluster.inference = "local"
    assert pooled_kinds(config) == []


def test_actors_per_kind_override_the_default() -> None:
    pool = ClusterConfig.model_validate({"pool": {"actors": 2, "kind_actors": {"faces": 5}}}).pool
    assert (pool.actors_of("faces"), pool.actors_of("plates")) == (5, 2)


@pytest.mark.parametrize(
    "pool",
    [
        {"kinds": []},
        {"kinds": ["faces", "faces"]},
        {"kinds": ["gait"]},
        {"kind_actors": {"faces": 0}},
        {"kind_actors": {"iris": 1}},
    ],
)
def test_bad_kind_settings_are_refused(pool: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ClusterConfig.model_validate({"pool": pool})


class FakeModel(Served):
    """Answers ``double`` and ``negate``; fails on a payload of 13."""

    kind = "objects"

    def __init__(self, config: VigilConfig, providers: list[str]) -> None:
        self.providers = providers
        self.calls: list[tuple[str, int]] = []
        self.ops = {"double": self._op("double", 2), "negate": self._op("negate", -1)}

    def _op(self, name: str, factor: int) -> Any:
        def run(x: int) -> int:
            if x == 13:
                raise RuntimeError("unlucky")
            self.calls.append((name, x))
            return x * factor

        return run


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> PoolServer:
    monkeypatch.setitem(models.MODELS, "objects", FakeModel)
    srv = PoolServer("objects", _config({"max_wait_ms": 1000}, ["crowd"]), gpu=False)
    srv.stop()  # the test drives batches itself
    return srv


def _submit(srv: PoolServer, op: str, x: int) -> Any:
    return srv.queue.submit("cam", Priority.NORMAL, (op, x))


def test_a_batch_is_grouped_by_operation_and_answered_in_order(server: PoolServer) -> None:
    server.queue = type(server.queue)(8, 8, 1.0)
    tickets = [_submit(server, op, x) for op, x in [("double", 1), ("negate", 2), ("double", 3)]]
    server.run_batch(server.queue._pop_batch())
    assert [t.wait(1) for t in tickets] == [2, -2, 6]
    assert server.model.calls == [("double", 1), ("double", 3), ("negate", 2)]  # type: ignore[attr-defined]
    assert server.stats()["kind"] == "objects"


def test_a_failure_or_an_unknown_operation_fails_the_whole_batch_loudly(
    server: PoolServer,
) -> None:
    server.queue = type(server.queue)(8, 8, 1.0)
    for bad in [("double", 13), ("fly", 1)]:
        tickets = [_submit(server, "double", 1), _submit(server, *bad)]
        server.run_batch(server.queue._pop_batch())
        for t in tickets:
            with pytest.raises((RuntimeError, ValueError)):
                t.wait(1)
    assert server.queue.snapshot()["failed"] == 4


def test_crops_and_templates_stay_under_rays_inline_limit() -> None:
    assert CROPS_PER_REQUEST >= 1
    assert CROPS_PER_REQUEST * CROP_BYTES < INLINE_LIMIT
    small = np.zeros((CROPS_PER_REQUEST, 112, 112, 3), np.uint8)
    assert inline_sized(small, "crops") is small
    with pytest.raises(ValueError, match="object store"):
        inline_sized(np.zeros((CROPS_PER_REQUEST + 1, 112, 112, 3), np.uint8), "crops")


def test_status_sums_each_kinds_actors() -> None:
    rows = [
        {
            "name": "vigil-pool-faces-0",
            "kind": "faces",
            "queue_depth": 2,
            "requests_per_s": 1.5,
            "dropped": 3,
            "failed": 0,
        },
        {
            "name": "vigil-pool-faces-1",
            "kind": "faces",
            "queue_depth": 1,
            "requests_per_s": 2.0,
            "dropped": 0,
            "failed": 1,
        },
        {"name": "vigil-pool-plates-0", "state": "actor died"},
    ]
    got = pool_kinds(rows)
    assert got["faces"] == {
        "actors": 2,
        "answering": 2,
        "requests_per_s": 3.5,
        "queued": 3,
        "dropped": 3,
        "failed": 1,
    }
    assert got["plates"]["actors"] == 1 and got["plates"]["answering"] == 0


def test_a_face_pool_refusal_is_a_counted_drop_not_a_failure() -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from vigil.core import FrameRef
    from vigil.errors import InferenceSaturatedError
    from vigil.sources.frames import DecodedFrame
    from vigil.system.analysis import AnalysisPool

    class Saturated:
        def analyse(self, image: Any, ref: Any) -> Any:
            raise InferenceSaturatedError("camera cam: inference pool saturated")

    cam = SimpleNamespace(camera_id="cam")
    pool = AnalysisPool([cam], Saturated(), frozenset({"cam"}))  # type: ignore[arg-type, list-item]
    frame = DecodedFrame(
        FrameRef("cam", datetime.now(UTC), 0, 64, 48), np.zeros((48, 64, 3), np.uint8)
    )
    for _ in range(3):
        assert pool.analyse("cam", frame) is None
    stats = pool.stats["cam"]
    assert (stats.saturation_drops, stats.failures, stats.frames) == (3, 0, 0)
