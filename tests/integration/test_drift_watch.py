"""Drift watch on a real database: rejections feed it, a flag is audited, a restart remembers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.governance_world import (
    OFFICER,
    OPERATOR,
    SUPERVISOR,
    World,
    fake_alert,
    make_world,
    request,
    seed_watchlist,
    unit,
)
from vigil.config.settings import VigilConfig
from vigil.core.domain import Decision, Role
from vigil.core.records import AlertStatus
from vigil.governance.audit import AuditAction, iter_entries
from vigil.governance.drift import THRESHOLD, Cusum, DriftWatch
from vigil.governance.recorder import IdentificationRecorder
from vigil.governance.report import build_oversight, to_markdown
from vigil.governance.verification import VerificationService
from vigil.identification.calibration import FalseAlertModel
from vigil.notify.events import EVENT_ROLES, DriftEvent, Event, event_json
from vigil.notify.hub import Hub
from vigil.notify.mqtt import topics_for
from vigil.notify.watcher import EventWatcher
from vigil.storage import Repository
from vigil.storage.drift import DriftRow, DriftStore
from vigil.system.governance import drift_watch

P0 = 1e-3


@pytest.fixture
def w(repo: Repository, tmp_path: Path) -> World:
    return make_world(repo, tmp_path)


def _watch(w: World) -> DriftWatch:
    return DriftWatch(DriftStore(w.repo.db), lambda _dep: P0, w.clock)


def test_rejections_flag_the_deployment_once_audited_and_survive_a_restart(w: World) -> None:
    wl = seed_watchlist(w, unit(3))
    dep = request(w, wl)
    w.deployments.approve(OFFICER, dep, "court order checked")
    recorder = IdentificationRecorder(w.repo, w.media, w.audit, drift=_watch(w))
    recorder.record_scans("cam-1", {dep: 500}, {dep: 0})
    verifier = VerificationService(w.repo, w.audit, clock=w.clock, drift=_watch(w))
    c = Cusum(P0)
    needed = 1
    stat = c.after_searches(0.0, 500)
    while (stat := c.after_false_alert(stat)) < THRESHOLD:
        needed += 1
    for i in range(needed + 2):
        a = fake_alert(w, dep, i)
        w.audit.append(  # as the recorder writes it: what the alert displayed
            "system", AuditAction.ALERT_RAISE, f"alert:{a.id}", "at or above the threshold",
            [("deployment", dep), ("watchlist", wl), ("false_alert_rate", "0.0012"),
             ("false_alert_point", "0.0005")],
        )  # fmt: skip
        assert verifier.decide(OPERATOR, a.id, Decision.REJECT, "not him") is AlertStatus.REJECTED
        flagged = [e for e in iter_entries(w.repo) if e.action == AuditAction.DEPLOYMENT_DRIFT]
        assert len(flagged) == (1 if i + 1 >= needed else 0)  # flagged once, when it crossed
    state = _watch(w).state(dep)  # a new watch over the same database: nothing forgotten
    assert state is not None and state.flagged_at is not None
    assert state.false_alerts == needed + 2 and state.searches == 500
    assert state.flagged_false_alerts == needed
    assert dict(flagged[0].details)["searches"] == "500"
    # the oversight report shows the flag and the observed rate per search with its interval
    doc = build_oversight(w.repo, w.clock() - timedelta(days=1), w.clock() + timedelta(days=1))
    (row,) = [d for d in doc["deployments"] if d["id"] == dep]
    assert row["drift"]["flagged"] and row["drift"]["flagged_after_searches"] == 500
    lo, hi = row["rejected_per_search_ci95"]
    assert lo < row["rejected_per_search"] == (needed + 2) / 500 < hi
    assert row["mean_calibrated_false_alert_rate"] == pytest.approx(0.0012)
    assert row["mean_calibrated_false_alert_point"] == pytest.approx(0.0005)
    assert doc["drift_flags_in_period"] == 1
    assert "FLAGGED after 500 searches" in to_markdown(doc)


def test_confirmed_alerts_and_unwatched_deployments_do_not_move_it(w: World) -> None:
    dep = request(w, seed_watchlist(w, unit(2)))
    w.deployments.approve(OFFICER, dep, "court order checked")
    verifier = VerificationService(w.repo, w.audit, clock=w.clock, drift=_watch(w))
    a = fake_alert(w, dep, 0)
    verifier.decide(OPERATOR, a.id, Decision.CONFIRM, "looks like him")
    verifier.decide(SUPERVISOR, a.id, Decision.CONFIRM, "agreed")
    assert _watch(w).state(dep) is None
    unwatched = DriftWatch(DriftStore(w.repo.db), lambda _dep: None, w.clock)
    b = fake_alert(w, dep, 1)
    VerificationService(w.repo, w.audit, clock=w.clock, drift=unwatched).decide(
        OPERATOR, b.id, Decision.REJECT, "not him"
    )
    assert unwatched.state(dep) is None


def test_a_flag_reaches_supervisors_and_auditors_on_the_event_hub_once(w: World) -> None:
    dep = request(w, seed_watchlist(w, unit(2)))
    w.deployments.approve(OFFICER, dep, "court order checked")
    hub = Hub()
    seen: list[Event] = []
    hub.add_sink(seen.append)
    watcher = EventWatcher(w.repo, hub, clock=w.clock)
    assert watcher.poll_drift() == 0
    store = DriftStore(w.repo.db)
    now = w.clock()
    store.put(DriftRow(dep, P0, THRESHOLD + 1, 900, 7, now, now, 900, 7))
    assert watcher.poll_drift() == 1 and watcher.poll_drift() == 0  # once
    (event,) = seen
    assert isinstance(event, DriftEvent) and event.camera_id == "cam-1"
    doc = event_json(event)
    assert doc["drift"] == {
        "deployment_id": dep,
        "searches": 900,
        "rejected_alerts": 7,
        "predicted_rate_upper95": P0,
    }
    assert EVENT_ROLES["drift"] == {Role.SUPERVISOR, Role.AUDITOR, Role.AUTHORISING_OFFICER}
    assert topics_for("vigil", event) == []  # not on the MQTT bus


def test_the_assembled_watch_promises_the_bound_for_the_pinned_people(w: World) -> None:
    config = VigilConfig()
    watch = drift_watch(config, w.repo, clock=w.clock)
    assert watch is not None
    dep = request(w, seed_watchlist(w, unit(3)))
    w.deployments.approve(OFFICER, dep, "court order checked")
    watch.searched(dep, 10)
    row = watch.state(dep)
    ident = config.faces.identification
    assert ident.calibration_file is not None
    model = FalseAlertModel.from_file(ident.calibration_file)
    assert row is not None and row.searches == 10
    assert row.predicted_rate == pytest.approx(model.fpir(ident.threshold, 3).upper)
    watch.searched("no-such-deployment", 10)  # purged meanwhile: nothing to watch, no error
    assert watch.state("no-such-deployment") is None
