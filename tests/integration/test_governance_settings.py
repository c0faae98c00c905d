"""The `governance` settings drive the code: the urgent deadline (never beyond 24 h), retention of
alerts, sightings and media, the target false-alert rate that sizes watchlists, and the
housekeeping intervals. Bad values are refused with the field named. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.governance_world import (
    OFFICER,
    Clock,
    make_world,
    request,
    seed_watchlist,
    unit,
)
from vigil.config import VigilConfig
from vigil.config.loader import parse_config
from vigil.core.domain import DeploymentState
from vigil.core.records import Alert, AlertKind, ObjectClass, Sighting
from vigil.errors import ConfigError, ValidationError
from vigil.governance.deployments import DeploymentService
from vigil.identification.calibration import FalseAlertModel
from vigil.storage import Repository
from vigil.storage.media import LocalMediaStore
from vigil.system.assembly import governance_services
from vigil.system.governance import housekeeper, retention_policy, watchlist_factory
from vigil.system.services import Services


def cfg(**governance: Any) -> VigilConfig:
    return VigilConfig.model_validate({"api": {"secret_key": "k" * 16}, "governance": governance})


@pytest.mark.parametrize(
    ("text", "field", "line"),
    [
        ("urgent_deadline_hours: 25", "governance.urgent_deadline_hours", 2),
        ("urgent_deadline_hours: 0", "governance.urgent_deadline_hours", 2),
        ("target_false_alert_rate: 0", "governance.target_false_alert_rate", 2),
        ("target_false_alert_rate: 0.9", "governance.target_false_alert_rate", 2),
        ("retention:\n    media_days: -1", "governance.retention.media_days", 3),
        ("retention:\n    logs_days: 0", "governance.retention.logs_days", 3),
        ("purge_every_s: 600\n  retention_every_s: 60", "governance", 1),
    ],
)
def test_bad_governance_settings_are_refused_with_the_field(
    text: str, field: str, line: int
) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(f"governance:\n  {text}\n", "vigil.yaml")
    assert f"line {line}: {field}" in str(err.value), str(err.value)


def test_defaults_are_the_previous_constants() -> None:
    g = VigilConfig().governance
    assert g.urgent_deadline_hours == 24 and g.target_false_alert_rate == 0.001
    policy = retention_policy(VigilConfig())
    assert policy.alerts == policy.sightings == policy.media == timedelta(days=31)


def test_the_service_refuses_a_deadline_beyond_24_hours(repo: Repository, tmp_path: Path) -> None:
    w = make_world(repo, tmp_path)
    for bad in (timedelta(hours=25), timedelta(0)):
        with pytest.raises(ValidationError, match="urgent deadline"):
            DeploymentService(repo, w.media, w.audit, urgent_deadline=bad)


def services(repo: Repository, tmp_path: Path, config: VigilConfig, clock: Clock) -> Services:
    from vigil.governance.audit import AuditLog

    audit = AuditLog(repo, anchor_path=tmp_path / "audit-anchor.json", clock=clock)
    media = LocalMediaStore(tmp_path / "media")
    return governance_services(repo, media, audit, config=config, clock=clock, secret=b"s")


def test_urgent_deadline_from_the_settings(repo: Repository, tmp_path: Path) -> None:
    w = make_world(repo, tmp_path)  # for the watchlist helper
    svc = services(repo, tmp_path, cfg(urgent_deadline_hours=2), w.clock)
    w.deployments = svc.deployments
    dep = request(w, seed_watchlist(w, unit(2)), urgent=True)
    row = repo.get_deployment(dep)
    assert row.urgent_deadline == w.clock() + timedelta(hours=2)
    w.clock.advance(hours=1, minutes=59)
    assert svc.deployments.tick() == []
    w.clock.advance(minutes=2)
    assert svc.deployments.tick() == [dep]
    assert repo.get_deployment(dep).state is DeploymentState.REFUSED
    (entry,) = [e for e in repo.audit_entries() if e.action == "deployment.deadline_missed"]
    assert entry.reason == "not authorised within 2 hours of the urgent start"


def test_retention_and_media_times_from_the_settings(repo: Repository, tmp_path: Path) -> None:
    w = make_world(repo, tmp_path)
    config = cfg(retention={"alerts_days": 10, "sightings_days": 10, "media_days": 1})
    svc = services(repo, tmp_path, config, w.clock)
    dep = request(w, seed_watchlist(w, unit(2)), hours=24 * 20)
    w.deployments.approve(OFFICER, dep, "ok")
    crop = svc.media.put(b"probe crop")
    s = Sighting("s1", "cam-1", ObjectClass.FACE, w.clock(), w.clock(), 0.8, crop)
    repo.add_sightings([s])
    a = Alert(
        "a1",
        AlertKind.FACE_MATCH,
        "cam-1",
        w.clock(),
        0.7,
        deployment_id=dep,
        false_alert_rate=0.01,
    )
    repo.add_alert(a, sighting_id="s1", probe_key=crop)
    keeper = housekeeper(config, svc.deployments, svc.purger)
    assert (keeper.every_s, keeper.retention_every_s) == (60.0, 3600.0)
    w.clock.advance(days=2)
    keeper.run_once()  # past the media time: the crop goes, the records stay
    assert repo.get_alert("a1").id == "a1" and repo.get_sighting("s1").crop_key is None
    assert list(svc.media.keys()) == []
    (run,) = [e for e in repo.audit_entries() if e.action == "retention.run"]
    assert dict(run.details)["crops_detached"] == "2" and dict(run.details)["alerts"] == "0"
    w.clock.advance(days=9)
    keeper._retention_at = -float("inf")  # due again
    keeper.run_once()
    assert [x.id for x in repo.list_alerts()] == [] and repo.count_sightings() == 0
    assert svc.audit.verify().ok


def test_watchlist_size_follows_the_target_rate(repo: Repository, tmp_path: Path) -> None:
    w = make_world(repo, tmp_path)
    curve = VigilConfig().faces.identification
    assert curve.calibration_file is not None
    model = FalseAlertModel.from_file(curve.calibration_file)
    sizes = {}
    for target in (1e-4, 1e-2):
        make = watchlist_factory(cfg(target_false_alert_rate=target), repo, w.media, w.audit)
        assert make is not None
        sizes[target] = make().max_size()
        assert sizes[target] == model.max_watchlist_size(curve.threshold, target)
    assert 0 < sizes[1e-4] < sizes[1e-2]
