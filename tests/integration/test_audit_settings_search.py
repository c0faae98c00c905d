"""Setting changes and searches reach the audit chain (who, what, target, reason; no secrets, no
biometric data) and the chain still verifies: config writes by `vigil cameras` and the writer's
hook, and the authorised archive face search (SQLite and
PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support.governance_world import (
    INVESTIGATOR,
    OFFICER,
    OPERATOR,
    World,
    make_world,
    post_event,
    request,
    seed_watchlist,
    unit,
)
from vigil.cli.audit_cmd import settings_auditor
from vigil.cli.main import main
from vigil.config.writer import SettingChange, diff_settings, set_values
from vigil.core.records import ObjectClass, Sighting
from vigil.errors import PermissionDeniedError, PolicyViolationError, ValidationError
from vigil.governance.audit import AuditAction, AuditLog, iter_entries
from vigil.governance.search import ArchiveSearch
from vigil.storage import Database, Repository
from vigil.storage.archive import ArchiveParams, FaissArchiveIndex


def chain(db_path: Path) -> tuple[list[tuple[str, str, str, dict[str, str]]], bool]:
    db = Database(f"sqlite:///{db_path}")
    try:
        repo = Repository(db)
        entries = [(e.actor, e.action, e.reason, dict(e.details)) for e in iter_entries(repo)]
        ok = AuditLog(repo, anchor_path=db_path.parent / "audit-anchor.json").verify().ok
        return entries, ok
    finally:
        db.dispose()


# -- settings ---------------------------------------------------------------------------------


def test_diff_names_changed_keys_and_never_a_secret() -> None:
    before = {
        "api": {"port": 8080, "secret_key": "old-key"},
        "cameras": [{"id": "a", "url": "rtsp://u:p@h/1", "fps": 2}, {"id": "b", "url": "x"}],
    }
    after = {
        "api": {"port": 9090, "secret_key": "new-key"},
        "cameras": [{"id": "a", "url": "rtsp://u:q@h/1", "fps": 5}, {"id": "c", "url": "y"}],
        "faces": {"identification": {"threshold": 0.5}},
    }
    changes = diff_settings(before, after)
    assert changes == [
        SettingChange("api.port", "8080", "9090"),
        SettingChange("api.secret_key", "(secret)", "(secret)"),
        SettingChange("cameras[a].fps", "2", "5"),
        SettingChange("cameras[a].url", "(secret)", "(secret)"),
        SettingChange("cameras[b]", "present", None),
        SettingChange("cameras[c]", None, "added"),
        SettingChange("faces.identification.threshold", None, "0.5"),
    ]
    assert diff_settings(before, before) == []


def test_a_change_whose_audit_fails_is_not_written(tmp_path: Path) -> None:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text("api:\n  port: 8080  # keep\n")

    def refuse(_: object) -> None:
        raise RuntimeError("audit store down")

    with pytest.raises(RuntimeError):
        set_values(cfg, {("api", "port"): 9090}, on_change=refuse)
    assert cfg.read_text() == "api:\n  port: 8080  # keep\n"
    seen: list[SettingChange] = []
    set_values(cfg, {("api", "port"): 8080}, on_change=seen.extend)
    assert seen == []  # no change, no entry


def test_cameras_add_remove_and_calibration_writes_are_audited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f"system:\n  data_dir: {tmp_path}\ncameras: []\n")
    url = "rtsp://${CAM_USER}:${CAM_PASS}@10.0.0.5/s"
    args = ["cameras", "add", "--id", "gate-1", "--url", url, str(cfg)]
    main([*args, "--actor", "ada", "--reason", "new gate camera"])
    main(["cameras", "remove", str(cfg), "gate-1"])
    with pytest.raises(SystemExit) as exc:  # refused edits leave no entry
        main(["cameras", "remove", str(cfg), "gate-1", "--actor", "ada"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["cameras", "remove", str(cfg), "gate-1", "--actor", " "])
    assert exc.value.code == 2
    on_change = settings_auditor(cfg, actor="cal", reason="recalibrated", command="test")
    set_values(cfg, {("faces", "identification", "threshold"): 0.6}, on_change=on_change)
    entries, ok = chain(tmp_path / "vigil.db")
    assert ok
    assert [(a, act, r) for a, act, r, _ in entries] == [
        ("ada", AuditAction.SETTING_CHANGE.value, "new gate camera"),
        ("cli", AuditAction.SETTING_CHANGE.value, "vigil cameras remove (no reason given)"),
        ("cal", AuditAction.SETTING_CHANGE.value, "recalibrated"),
    ]
    assert entries[0][3] == {"command": "vigil cameras add", "cameras[gate-1]": "(absent) -> added"}
    assert entries[1][3]["cameras[gate-1]"] == "present -> (absent)"
    assert entries[2][3]["faces.identification.threshold"] == "(absent) -> 0.6"
    assert "10.0.0.5" not in repr(entries) and "CAM_PASS" not in repr(entries)


# -- the archive face search ------------------------------------------------------------------


@pytest.fixture
def w(repo: Repository, tmp_path: Path) -> World:
    return make_world(repo, tmp_path)


def test_archive_search_needs_an_authorisation_is_bounded_by_it_and_audited(
    w: World, tmp_path: Path
) -> None:
    archive = FaissArchiveIndex(tmp_path / "archive", ArchiveParams(dim=32, pq_m=8))
    search = ArchiveSearch(w.repo, archive, w.audit, w.deployments, clock=w.clock)
    dep = post_event(w)
    vecs = unit(3, seed=4)
    for i, cam in enumerate(["cam-2", "cam-2", "cam-9"]):
        s = Sighting(f"s{i}", cam, ObjectClass.FACE, w.clock(), w.clock(), 0.8)
        w.repo.add_sightings([s])
        (vid,) = w.repo.add_embeddings("test", [(s.id, vecs[i])], at=w.clock())
        archive.add(np.array([vid]), vecs[i : i + 1])
    with pytest.raises(PolicyViolationError, match="requested, not approved"):
        search.search(INVESTIGATOR, dep, vecs[0], reason="suspect photo")
    w.deployments.approve(OFFICER, dep, "proportionate")
    hits = search.search(INVESTIGATOR, dep, vecs[2], reason="suspect photo", k=5)
    assert {h.sighting_id for h in hits} == {"s0", "s1"}  # cam-9 is outside the authorisation
    hits = search.search(INVESTIGATOR, dep, vecs[0], reason="suspect photo", k=1)
    assert [h.sighting_id for h in hits] == ["s0"] and hits[0].score == pytest.approx(1.0)
    live = request(w, seed_watchlist(w, unit(1)))
    with pytest.raises(PolicyViolationError, match="not a post-event"):
        search.search(INVESTIGATOR, live, vecs[0], reason="fishing")
    with pytest.raises(PolicyViolationError, match="no authorisation"):
        search.search(INVESTIGATOR, "nope", vecs[0], reason="fishing")
    with pytest.raises(PermissionDeniedError):
        search.search(OPERATOR, dep, vecs[0], reason="curious")
    for bad in ({"reason": " "}, {"reason": "r", "k": 0}):
        with pytest.raises(ValidationError):
            search.search(INVESTIGATOR, dep, vecs[0], **bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="finite"):
        search.search(INVESTIGATOR, dep, np.full(32, np.nan), reason="r")
    w.clock.advance(hours=2)  # the authorisation lapses
    with pytest.raises(PolicyViolationError, match="expired"):
        search.search(INVESTIGATOR, dep, vecs[0], reason="late")
    entries = [e for e in iter_entries(w.repo) if e.action.startswith("search.")]
    assert [(e.action, dict(e.details).get("results")) for e in entries] == [
        ("search.refused", None),
        ("search.run", "2"),
        ("search.run", "1"),
        ("search.refused", None),
        ("search.refused", None),
        ("search.refused", None),
    ]
    assert all(e.actor == INVESTIGATOR.id for e in entries)
    assert dict(entries[1].details)["cameras"] == "cam-2"
    assert w.audit.verify().ok
