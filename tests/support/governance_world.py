"""Shared set-up for the governance tests: services over one database, a movable clock, users,
and factories for watchlists, deployment requests and alerts."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from vigil.core.domain import Role, SubjectRow, TemplateRow, WatchlistRow
from vigil.core.records import Alert, AlertKind, ObjectClass, Sighting
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditLog
from vigil.governance.deployments import (
    DeploymentKind,
    DeploymentRequest,
    DeploymentService,
    Purpose,
)
from vigil.governance.purge import Purger
from vigil.governance.verification import VerificationService
from vigil.governance.watchlists import version_hash
from vigil.storage import Repository
from vigil.storage.archive import ArchiveParams, FaissArchiveIndex
from vigil.storage.media import LocalMediaStore
from vigil.system.governance import build_purger

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

OPERATOR = Actor.of("olga", Role.OPERATOR)
OPERATOR2 = Actor.of("otto", Role.OPERATOR)
SUPERVISOR = Actor.of("sam", Role.SUPERVISOR)
SUPERVISOR2 = Actor.of("sue", Role.SUPERVISOR)
OFFICER = Actor.of("ada", Role.AUTHORISING_OFFICER)
INVESTIGATOR = Actor.of("ivan", Role.INVESTIGATOR)
AUDITOR = Actor.of("aud", Role.AUDITOR)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@dataclass
class World:
    repo: Repository
    media: LocalMediaStore
    clock: Clock
    audit: AuditLog
    deployments: DeploymentService
    verification: VerificationService
    purger: Purger
    archive: FaissArchiveIndex


def make_world(repo: Repository, tmp_path: Path, *, dim: int = 32) -> World:
    """Services over ``repo`` as the system assembles them (the purger by ``build_purger``, with
    the archive index wired), a movable clock, and a ``dim``-dimensional archive index."""
    clock = Clock()
    media = LocalMediaStore(tmp_path / "media")
    audit = AuditLog(repo, anchor_path=tmp_path / "audit-anchor.json", clock=clock)
    deployments = DeploymentService(repo, media, audit, clock=clock)
    archive = FaissArchiveIndex(tmp_path / "archive", ArchiveParams(dim=dim, pq_m=8))
    return World(
        repo,
        media,
        clock,
        audit,
        deployments,
        VerificationService(repo, audit, clock=clock),
        build_purger(repo, media, audit, deployments, archive, clock=clock),
        archive,
    )


def unit(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def seed_watchlist(w: World, vectors: np.ndarray, *, image: bytes = b"") -> str:
    """A watchlist with one subject per vector, written directly (enrolment is tested apart)."""
    wl = WatchlistRow(
        uuid.uuid4().hex,
        "list",
        "wanted_by_court",
        INVESTIGATOR.id,
        w.clock(),
        "warrants",
        w.clock() + timedelta(days=30),
        0,
    )
    w.repo.add_watchlist(wl)
    for i, vec in enumerate(vectors):
        s = SubjectRow(f"{wl.id[:8]}-s{i}", wl.id, f"subject {i}", INVESTIGATOR.id, w.clock())
        w.repo.add_subject(s)
        key = w.media.put(image + bytes([i % 256])) if image else None
        w.repo.add_templates(
            [
                TemplateRow(
                    f"{s.id}-t",
                    s.id,
                    "test",
                    vec,
                    "court file",
                    0.9,
                    INVESTIGATOR.id,
                    w.clock(),
                    image_key=key,
                )
            ]
        )
    digest = version_hash(wl, w.repo.list_subjects(wl.id), w.repo.templates_for_watchlist(wl.id))
    w.repo.set_watchlist_version(wl.id, 1, digest)
    return wl.id


def request(
    w: World,
    watchlist_id: str,
    *,
    hours: float = 8,
    cams: tuple[str, ...] = ("cam-1",),
    urgent: bool = False,
    purpose: Purpose = Purpose.VICTIM_SEARCH,
) -> str:
    req = DeploymentRequest(
        purpose=purpose,
        legal_reference="Court order 2025/123",
        starts_at=w.clock(),
        ends_at=w.clock() + timedelta(hours=hours),
        watchlist_ids=(watchlist_id,),
        camera_ids=cams,
        reason="missing child reported at 11:30",
    )
    return w.deployments.request(SUPERVISOR, req, urgent=urgent)


def post_event(
    w: World, cams: tuple[str, ...] = ("cam-2",), *, reason: str = "robbery at 10:00"
) -> str:
    """A requested (not yet approved) post-event search authorisation for the next hour."""
    req = DeploymentRequest(
        Purpose.SERIOUS_CRIME_SUSPECT,
        "warrant 7",
        w.clock(),
        w.clock() + timedelta(hours=1),
        camera_ids=cams,
        reason=reason,
        kind=DeploymentKind.POST_EVENT,
    )
    return w.deployments.request(INVESTIGATOR, req)


def fake_alert(w: World, deployment_id: str, n: int = 0) -> Alert:
    """An alert as the live identifier stores it: probe crop in media, a face sighting."""
    key = w.media.put(f"probe-{deployment_id}-{n}".encode())
    s = Sighting(uuid.uuid4().hex, "cam-1", ObjectClass.FACE, w.clock(), w.clock(), 0.8, key)
    w.repo.add_sightings([s])
    w.repo.add_embeddings("test", [(s.id, unit(1)[0])], at=w.clock())
    a = Alert(
        uuid.uuid4().hex,
        AlertKind.FACE_MATCH,
        "cam-1",
        w.clock(),
        0.7,
        deployment_id=deployment_id,
        subject_id=None,
        false_alert_rate=0.01,
    )
    w.repo.add_alert(a, sighting_id=s.id, probe_key=key)
    return a
