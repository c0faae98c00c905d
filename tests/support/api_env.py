"""Builders for the API tests: an app over a fresh SQLite database with one user per role.

Imported by the unit and integration API tests; its ``env`` fixture is registered for every test
by ``tests/conftest.py``.
Passwords are hashed with cheap argon2 parameters here so logins stay fast on a 2-core runner;
production uses argon2-cffi's defaults.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from PIL import Image

from vigil.api.app import create_app
from vigil.api.deps import route_access
from vigil.config import VigilConfig
from vigil.core.domain import CameraRow, DeploymentRow, DeploymentState, Role
from vigil.core.records import Alert, AlertKind, FaceObservation, ObjectClass, Sighting
from vigil.governance.accounts import AccountService, LoginPolicy
from vigil.governance.audit import AuditLog
from vigil.governance.watchlists import WatchlistService
from vigil.storage import Database, DatabaseOptions, Repository
from vigil.storage.archive import ArchiveParams, FaissArchiveIndex
from vigil.storage.media import LocalMediaStore
from vigil.system.assembly import governance_services
from vigil.system.services import Services

PASSWORD = "correct horse battery"
ROLES = list(Role)
FAST_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
# The role a test acts as when several may call an operation: the broadest first, so a probe
# reaches the handler rather than a scope check.
PREFERENCE = [Role.ADMIN, Role.SUPERVISOR, Role.INVESTIGATOR, *Role]
SECRET_URL = "rtsp://admin:hunter2-secret@10.0.0.7/stream"
_TEMPLATE: dict[str, Path] = {}


def migrated_db(folder: Path) -> Database:
    """A fresh migrated SQLite database (the migration runs once per process, then copied)."""
    if "path" not in _TEMPLATE:
        tpl = Path(folder).parent / f"api-template-{id(_TEMPLATE)}.db"
        db = Database(f"sqlite:///{tpl}", DatabaseOptions(write_retry_s=5))
        db.migrate()
        db.dispose()
        _TEMPLATE["path"] = tpl
    path = folder / "vigil.db"
    shutil.copyfile(_TEMPLATE["path"], path)
    return Database(
        f"sqlite:///{path}", DatabaseOptions(write_retry_s=5, sqlite_synchronous="NORMAL")
    )


class FakeFacePipeline:
    """Finds one face in any image unless its top-left pixel is red (then none)."""

    min_quality = 0.3
    min_face_px = 16

    def analyse(self, image: np.ndarray, frame: Any, *, embed: bool = True) -> Any:
        b, g, r = (int(v) for v in image[0, 0])
        if r > 200 and g < 60 and b < 60:
            return SimpleNamespace(observations=[], usable=np.zeros(0, bool), qualities=[])
        rng = np.random.default_rng(int(image.sum()) % 2**32)
        emb = rng.normal(size=128).astype(np.float32)
        emb /= np.linalg.norm(emb)
        lm = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], np.float32)
        obs = FaceObservation(frame, [10, 10, 90, 110], 0.9, lm, 0.8, emb)
        return SimpleNamespace(
            observations=[obs],
            usable=np.ones(1, bool),
            qualities=[SimpleNamespace(score=0.8, pose=0.9, sharpness=0.7)],
        )


def jpeg(colour: tuple[int, int, int] = (90, 120, 150), size: int = 128) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "JPEG")
    return buf.getvalue()


def jpeg_claiming(width: int, height: int) -> bytes:
    """A JPEG of a few hundred bytes whose header claims ``width`` x ``height`` pixels (the
    pixel data is that of a 16x16 picture: decoding it fails, reading the header does not)."""
    data = bytearray(jpeg(size=16))
    sof = data.index(b"\xff\xc0")  # baseline frame header: length, precision, height, width
    data[sof + 5 : sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


@dataclass
class Env:
    app: FastAPI
    svc: Services
    repo: Repository
    users: dict[Role, str]  # role -> user id
    tokens: dict[Role, str]  # role -> bearer token
    tmp: Path

    def client(self, role: Role | None = None, **kw: Any) -> TestClient:
        c = TestClient(self.app, base_url="https://testserver", **kw)
        if role is not None:
            c.headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return c


def config(**api: Any) -> VigilConfig:
    return VigilConfig.model_validate(
        {
            "api": {"secret_key": "test-secret-key", **api},
            "cameras": [
                {"id": "cam-1", "url": SECRET_URL, "analytics": ["faces", "crowd"]},
                {"id": "cam-2", "url": "file:///data/two.mp4"},
            ],
        }
    )


def with_key_in(cfg: VigilConfig, tmp: Path) -> VigilConfig:
    """``cfg`` with its evidence signing key under ``tmp`` (never in the runner's home)."""
    ev = cfg.governance.evidence.model_copy(update={"signing_key_file": tmp / "keys" / "ev.key"})
    gov = cfg.governance.model_copy(update={"evidence": ev})
    return cfg.model_copy(update={"governance": gov})


def build_env(
    tmp: Path,
    *,
    cfg: VigilConfig | None = None,
    now: datetime | None = None,
    db: Database | None = None,
    archive_dim: int = 128,
) -> Env:
    """The API over ``db`` (default: a fresh SQLite file in ``tmp``; pass an empty migrated
    PostgreSQL database to run the same app there). ``archive_dim``: the archive index's
    template size (the fake pipeline's 128 by default; the real face pipeline's for tests that
    archive real faces)."""
    cfg = with_key_in(cfg or config(), tmp)
    db = db or migrated_db(tmp)
    repo = Repository(db)
    media = LocalMediaStore(tmp / "media")
    audit = AuditLog(repo, anchor_path=tmp / "anchor.json")
    accounts = AccountService(
        repo,
        secret=b"test-secret-key",
        audit=audit,
        hasher=FAST_HASH,
        login=LoginPolicy.from_config(cfg.api),
    )

    def watchlists() -> WatchlistService:
        return WatchlistService(
            repo,
            media,
            audit,
            FakeFacePipeline(),
            max_size=lambda: 100,
            model="fake",  # type: ignore[arg-type]
        )

    # A real (small) archive index, as the default assembly always has one: purges reach it and
    # POST /searches/faces searches it (the fake face pipeline makes 128-d templates).
    archive = FaissArchiveIndex(tmp / "archive", ArchiveParams(dim=archive_dim, pq_m=8))
    svc = governance_services(
        repo,
        media,
        audit,
        config=cfg,
        accounts=accounts,
        watchlist_factory=watchlists,
        archive=archive,
    )
    stamp = now or datetime.now(UTC)
    for cam in cfg.cameras:
        repo.upsert_camera(
            CameraRow(
                cam.id, cam.id, cam.url.get_secret_value(), stamp, analytics=tuple(cam.analytics)
            )
        )
    users, tokens = {}, {}
    for role in ROLES:
        u = accounts.create_user(role.value.replace("_", "-"), PASSWORD, [role])
        users[role] = u.id
        tokens[role] = accounts.start_session(u)[0]
    app = create_app(cfg, services=svc, start_background=False)
    return Env(app, svc, repo, users, tokens, tmp)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = build_env(tmp_path)
    yield e
    e.repo.db.dispose()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Env]:
    """An env whose services run: an event watcher announces committed alerts on the hub."""
    from vigil.notify.watcher import EventWatcher

    e = build_env(tmp_path)
    e.svc.background.append(EventWatcher(e.repo, e.svc.hub, poll_s=0.02))
    e.svc.start()
    yield e
    e.svc.stop()
    e.repo.db.dispose()


def add_alert(
    repo: Repository,
    media: LocalMediaStore,
    camera: str = "cam-1",
    kind: AlertKind = AlertKind.PLATE_HIT,
) -> Alert:
    """A pending alert with a probe crop and its sighting. A plate hit by default (no deployment
    needed; one confirmation makes it actionable); ``FACE_MATCH`` adds an approved deployment
    row, as a face alert needs one (and two confirmations)."""
    now = datetime.now(UTC)
    deployment = None
    if kind is AlertKind.FACE_MATCH:
        deployment = f"dep{now.timestamp():.6f}".replace(".", "")
        repo.add_deployment(
            DeploymentRow(
                deployment,
                "victim_or_missing_person",
                "court order 1",
                now - timedelta(minutes=5),
                now + timedelta(hours=1),
                DeploymentState.APPROVED,
                "requester",
                now,
                camera_ids=(camera,),
            )
        )
    crop = media.put(jpeg((10, 200, 10)))
    sid = f"s{now.timestamp():.6f}".replace(".", "")
    repo.add_sightings(
        [Sighting(sid, camera, ObjectClass.FACE, now - timedelta(seconds=3), now, 0.8, crop)]
    )
    alert = Alert(
        id=f"a{now.timestamp():.6f}".replace(".", ""),
        kind=kind,
        camera_id=camera,
        raised_at=now,
        score=0.9,
        deployment_id=deployment,
        false_alert_rate=1e-6 if deployment else None,
    )
    repo.add_alert(alert, sighting_id=sid, probe_key=crop)
    return alert


def roles_by_operation(env: Env) -> dict[tuple[str, str], tuple[Role, ...]]:
    """Each operation of ``env``'s app (method, path) and the roles its access rule admits
    (empty when it needs no login), read from the routes' dependencies as the app declares them."""
    out: dict[tuple[str, str], tuple[Role, ...]] = {}
    for route in env.app.routes:
        if not isinstance(route, APIRoute):
            continue
        stack = list(route.dependant.dependencies)
        roles: tuple[Role, ...] = ()
        while stack:
            d = stack.pop()
            found = route_access(d.call) if d.call is not None else None
            if found is not None:
                roles = found[0]
                break
            stack += d.dependencies
        for method in (route.methods or set()) - {"HEAD"}:
            out[(method, route.path)] = roles
    return out
