"""Seed the demo's people and authorisations — through the same services a real force uses.

The demo needs a watchlist, an approved deployment covering the demo camera and one user per role
so a visitor can verify an alert through the API. Each is created by the governance services with
the policy checks on (an investigator requests, a *different* authorising officer approves, the
enrolment photo passes the quality gate), so every step is in the audit chain like any other.
Passwords are random per run and printed once; nothing here is a back door.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from vigil.core.domain import Role
from vigil.errors import NotFoundError
from vigil.governance.actors import Actor
from vigil.governance.audit import utc_now
from vigil.governance.deployments import DeploymentRequest, Purpose
from vigil.governance.watchlists import Category, EnrolmentPhoto
from vigil.models.installer import model_path
from vigil.system.services import Services

DEMO_ROLES = (
    Role.OPERATOR,
    Role.SUPERVISOR,
    Role.INVESTIGATOR,
    Role.AUTHORISING_OFFICER,
    Role.AUDITOR,
    Role.ADMIN,
)


@dataclass(frozen=True)
class DemoWorld:
    """What the demo seeded: credentials to print and the ids to point at."""

    passwords: dict[str, str]
    watchlist_id: str
    deployment_id: str


def _user(services: Services, role: Role) -> tuple[Actor, str | None]:
    """The demo user for ``role`` (created with a fresh password if it does not exist yet)."""
    username = f"demo-{role.value.replace('_', '-')}"
    try:
        row = services.repo.get_user(username=username)
        return Actor.from_user(row), None
    except NotFoundError:
        password = secrets.token_urlsafe(12)
        row = services.accounts.create_user(
            username, password, [role], f"Demo {role.value}", by="demo", reason="demo account"
        )
        return Actor.from_user(row), password


def seed_demo(services: Services, camera_id: str, model_dir: Path | None = None) -> DemoWorld:
    """Create (or reuse) demo users, a one-person watchlist and an approved 24 h deployment."""
    actors: dict[Role, Actor] = {}
    passwords: dict[str, str] = {}
    for role in DEMO_ROLES:
        actor, password = _user(services, role)
        actors[role] = actor
        if password is not None:
            passwords[f"demo-{role.value.replace('_', '-')}"] = password
    investigator = actors[Role.INVESTIGATOR]
    now = utc_now()
    watchlists = services.watchlists
    wl = watchlists.create(
        investigator,
        name="Demo: missing person",
        category=Category.MISSING_OR_VULNERABLE,
        reason="first-run demo: a missing-person search",
        expires_at=now + timedelta(days=1),
    )
    photo = model_path("demo-obama", model_dir).read_bytes()
    watchlists.enrol(
        investigator,
        wl,
        label="Demo subject (face_recognition test photo)",
        photos=[EnrolmentPhoto(photo, "face_recognition 1.3.0 sdist, tests/test_images/obama.jpg")],
        reason="first-run demo enrolment",
    )
    dep = services.deployments.request(
        investigator,
        DeploymentRequest(
            purpose=Purpose.VICTIM_SEARCH,
            legal_reference="DEMO — not a real authorisation",
            starts_at=now,
            ends_at=now + timedelta(hours=24),
            watchlist_ids=(wl,),
            camera_ids=(camera_id,),
            reason="first-run demo of the authorised identification flow",
        ),
    )
    services.deployments.approve(
        actors[Role.AUTHORISING_OFFICER],
        dep,
        "demo: approved by a different officer than the requester",
    )
    return DemoWorld(passwords, wl, dep)
