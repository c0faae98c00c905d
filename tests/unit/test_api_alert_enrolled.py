"""The enrolled image of an alert is found through ``alerts.template_id`` (not parsed from the
alert's text), shown in the alert's JSON, served with an audited view, and gone (404, null) once
the subject is removed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.api_env import Env, jpeg
from vigil.core.domain import DeploymentRow, DeploymentState, Role
from vigil.core.records import Alert, AlertKind
from vigil.governance.actors import Actor
from vigil.governance.watchlists import Category, EnrolmentPhoto


def test_enrolled_image_comes_from_the_template_column(env: Env) -> None:
    now = datetime.now(UTC)
    inv = Actor.of(env.users[Role.INVESTIGATOR], Role.INVESTIGATOR)
    wl_svc = env.svc.watchlists
    wl = wl_svc.create(
        inv, name="l", category=Category.WANTED_BY_COURT, reason="r", expires_at=now + timedelta(1)
    )
    photo = jpeg((30, 60, 90))
    sid = wl_svc.enrol(inv, wl, label="A", photos=[EnrolmentPhoto(photo, "court")], reason="r")
    (tpl,) = env.repo.templates_for_watchlist(wl)
    env.repo.add_deployment(
        DeploymentRow(
            "d1",
            "victim_or_missing_person",
            "ref",
            now,
            now + timedelta(hours=1),
            DeploymentState.APPROVED,
            "u",
            now,
            camera_ids=("cam-1",),
        )
    )
    alert = Alert(
        "a1",
        AlertKind.FACE_MATCH,
        "cam-1",
        now,
        0.8,
        deployment_id="d1",
        subject_id=sid,
        false_alert_rate=0.01,
        detail="watchlist=x",
        template_id=tpl.id,
    )
    env.repo.add_alert(alert)
    c = env.client(Role.SUPERVISOR)
    assert c.get("/api/v1/alerts/a1").json()["template_id"] == tpl.id
    r = c.get("/api/v1/alerts/a1/enrolled", headers={"X-Vigil-Reason": "to verify"})
    assert r.status_code == 200 and r.content == photo
    wl_svc.remove_subject(inv, wl, sid, "warrant withdrawn")
    assert c.get("/api/v1/alerts/a1").json()["template_id"] is None
    r = c.get("/api/v1/alerts/a1/enrolled", headers={"X-Vigil-Reason": "to verify"})
    assert r.status_code == 404 and "no enrolled image" in r.json()["error"]["message"]
    views = [e for e in env.repo.audit_entries() if e.action == "media.view_biometric"]
    assert len(views) == 2 and env.svc.audit.verify().ok
