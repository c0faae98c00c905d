"""No action without its audit entry: a failed append leaves the state exactly as it was.

For every :class:`AuditAction` a scenario performs the action through the service that owns it
(the same services the API and the CLI call), with a failure injected at the audit append. The
test compares every table of the database and every media file before and after: a state change
that committed without its entry would show up as a difference. A test also checks that every
action has a scenario, so a new audited action cannot skip this.

Runs on SQLite and PostgreSQL (the ``repo`` fixture).
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from argon2 import PasswordHasher
from PIL import Image
from sqlalchemy import select

from tests.support.governance_world import (
    INVESTIGATOR,
    OFFICER,
    OPERATOR,
    SUPERVISOR,
    World,
    make_world,
    post_event,
    request,
    seed_watchlist,
    unit,
)
from vigil.config.plates import PlatesConfig
from vigil.config.recording import RecordingConfig
from vigil.core.domain import CameraRow, Decision, Role
from vigil.core.records import Alert, AlertKind, ObjectClass, PlateRead, Sighting
from vigil.governance.accounts import AccountService, Principal
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditAction, iter_entries
from vigil.governance.cameras import CameraService
from vigil.governance.cases import CaseService
from vigil.governance.drift import THRESHOLD, DriftWatch
from vigil.governance.evidence import EvidenceExporter
from vigil.governance.hotlists import HotlistService, PlateHitChecker
from vigil.governance.plate_search import PlateSearch
from vigil.governance.purge import RetentionPolicy
from vigil.governance.recordings import CameraRecording, RecordingService
from vigil.governance.signing import load_or_create_key
from vigil.governance.verification import VerificationService
from vigil.governance.watchlists import Category, EnrolmentPhoto, WatchlistService
from vigil.recording.index import SegmentIndex
from vigil.storage import Repository
from vigil.storage.drift import DriftRow, DriftStore
from vigil.storage.plates import PlateStore
from vigil.storage.recordings import RecordingStore, SegmentRow
from vigil.storage.schema import ALL_TABLES
from vigil.system.plates import profile_from_config

ADMIN = Actor.of("root", Role.ADMIN)
# Audited actions with no state change of their own to roll back, or none to reach from here.
EXEMPT = {
    AuditAction.AUDIT_VERIFY: "verification changes no state",
    AuditAction.SETTING_CHANGE: "edits the config file, not the database; the entry is "
    "written before the file is replaced (test_audit_settings_search)",
    AuditAction.DEPLOYMENT_SCAN_SUMMARY: "counts only; no state change to roll back",
    AuditAction.ACCESS_REFUSED: "a refusal (403, or 404 out of camera scope) changes no state",
    AuditAction.LIVE_OPEN: "a live connection stores nothing; one whose opening cannot be "
    "recorded is refused (tests/unit/test_live_registry.py)",
    AuditAction.LIVE_VIDEO_START: "watching a live tile stores nothing; a stream whose start "
    "cannot be recorded is not served (tests/integration/test_console_live.py)",
    AuditAction.LIVE_VIDEO_END: "the end of a live tile stores nothing; logged if unwritable",
    AuditAction.LIVE_VIDEO_STILL: "a still frame served stores nothing; not served if unwritable",
    AuditAction.WATCHLIST_VIEW: "reading a watchlist's details changes no state",
    AuditAction.LIVE_CLOSE: "closing a live connection stores nothing; the socket closes even "
    "if the entry cannot be written (logged)",
    AuditAction.RECORDING_VIEW: "a view stores nothing; the clip is served only after its entry "
    "is written (tests/integration/test_recording_api.py)",
    AuditAction.RECORDING_UNMASK: "as recording.view, for an unmasked view",
}


class InjectedFailureError(RuntimeError):
    """The audit append failed (disk full, lost connection, a bug): the test's stand-in."""


@dataclass
class Ctx:
    w: World
    accounts: AccountService
    hotlists: HotlistService
    hits: PlateHitChecker
    plate_search: PlateSearch
    watchlists: WatchlistService


class OneFacePipeline:
    """Finds one face in any photo (a fixed unit vector): a fake for this test's one class
    under test is the audit path, not face perception."""

    min_quality = 0.3
    min_face_px = 16

    def analyse(self, image: np.ndarray, frame: Any, *, embed: bool = True) -> Any:
        from types import SimpleNamespace

        from vigil.core.records import FaceObservation

        emb = unit(1, 128, seed=int(image.sum()) % 1000)[0]
        lm = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], np.float32)
        obs = FaceObservation(frame, [10, 10, 90, 110], 0.9, lm, 0.8, emb)
        return SimpleNamespace(
            observations=[obs], usable=np.ones(1, bool), qualities=[SimpleNamespace(score=0.8)]
        )


def _jpeg(level: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (128, 128), (level, 120, 150)).save(buf, "JPEG")
    return buf.getvalue()


def _ctx(repo: Repository, tmp_path: Path) -> Ctx:
    w = make_world(repo, tmp_path)
    profile = profile_from_config(PlatesConfig())
    plates = PlateStore(repo.db)
    fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    repo.upsert_camera(CameraRow("cam-1", "one", "file:///x.mp4", w.clock()))
    return Ctx(
        w,
        AccountService(repo, secret=b"k" * 32, audit=w.audit, hasher=fast, clock=w.clock),
        HotlistService(plates, w.audit, clock=w.clock),
        PlateHitChecker(repo, plates, w.audit, profile, refresh_s=0, clock=w.clock),
        PlateSearch(plates, w.audit, profile, clock=w.clock),
        WatchlistService(
            repo,
            w.media,
            w.audit,
            OneFacePipeline(),  # type: ignore[arg-type]
            max_size=lambda: 100,
            model="fake",
            clock=w.clock,
        ),
    )


def _recordings(c: Ctx) -> RecordingService:
    index = SegmentIndex(RecordingStore(c.w.repo.db), c.w.media.root / "rec")
    cams = {"cam-1": CameraRecording("continuous", timedelta(days=31))}
    return RecordingService(
        c.w.repo,
        c.w.audit,
        index,
        cams,
        settings=RecordingConfig(),
        cache_dir=c.w.media.root / "clips",
        clock=c.w.clock,
    )


def _segment(c: Ctx) -> None:
    """One indexed 10 s segment of cam-1 with its file (under the media root: compared too)."""
    path = c.w.media.root / "rec" / "cam-1" / "seg.mp4"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not really video")
    now = c.w.clock()
    RecordingStore(c.w.repo.db).add(
        SegmentRow(
            "seg1",
            "cam-1",
            now,
            now + timedelta(seconds=10),
            "cam-1/seg.mp4",
            16,
            "0" * 64,
            False,
            now,
        )
    )


def _alert(c: Ctx, *, kind: AlertKind = AlertKind.FACE_MATCH) -> str:
    """A pending alert with its sighting and probe crop, inside an approved deployment."""
    w = c.w
    wl = seed_watchlist(w, unit(1))
    dep = request(w, wl)
    w.deployments.approve(OFFICER, dep, "ok")
    key = w.media.put(b"probe-crop")
    sid = "sighting-1"
    now = w.clock()
    w.repo.add_sightings([Sighting(sid, "cam-1", ObjectClass.FACE, now, now, 0.8, key)])
    alert = Alert(
        "alert-1",
        kind,
        "cam-1",
        now,
        0.9,
        deployment_id=dep,
        subject_id=f"{wl[:8]}-s0",
        false_alert_rate=1e-4,
    )
    w.repo.add_alert(alert, sighting_id=sid, probe_key=key)
    return alert.id


def _near_drift_flag(c: Ctx, alert_id: str) -> VerificationService:
    """A verifier whose drift watch flags the alert's deployment at the next rejection: the
    rejection, the alert's state and the drift state must roll back with the flag's entry."""
    w = c.w
    dep = w.repo.get_alert(alert_id).deployment_id
    assert dep is not None
    store = DriftStore(w.repo.db)
    store.put(DriftRow(dep, 1e-3, THRESHOLD - 0.5, 1000, 4, w.clock()))
    watch = DriftWatch(store, lambda _dep: 1e-3, w.clock)
    return VerificationService(w.repo, w.audit, clock=w.clock, drift=watch)


def _watchlist(c: Ctx) -> str:
    return c.watchlists.create(
        INVESTIGATOR,
        name="missing",
        category=Category.MISSING_OR_VULNERABLE,
        reason="report 7",
        expires_at=c.w.clock() + timedelta(days=30),
    )


def _enrol(c: Ctx, wl: str) -> str:
    photos = [EnrolmentPhoto(_jpeg(90), "family photo"), EnrolmentPhoto(_jpeg(91), "id card")]
    return c.watchlists.enrol(INVESTIGATOR, wl, label="p", photos=photos, reason="report 7")


def _hotlist(c: Ctx) -> str:
    return c.hotlists.create(
        SUPERVISOR, name="stolen", priority=50, reason="thefts", retention_days=30
    ).id


def _read(c: Ctx, text: str = "ABC123") -> PlateRead:
    return PlateRead("cam-1", c.w.clock(), text, 0.9, "us", (0, 0, 10, 5), track_id=1)


def _confirmed_once(c: Ctx) -> str:
    alert = _alert(c)
    c.w.verification.decide(OPERATOR, alert, Decision.CONFIRM, "looks like him")
    return alert


Scenario = Callable[[Ctx, Callable[[], None]], object]


def _urgent(c: Ctx) -> str:
    return request(c.w, seed_watchlist(c.w, unit(1)), urgent=True)


def _unmatched_face(c: Ctx) -> None:
    key = c.w.media.put(b"non-match crop")
    now = c.w.clock()
    c.w.repo.add_sightings([Sighting("s-nm", "cam-1", ObjectClass.FACE, now, now, 0.7, key)])
    c.w.repo.add_embeddings("test", [("s-nm", unit(1)[0])], at=now)
    c.w.clock.advance(minutes=5)


SCENARIOS: dict[AuditAction, Scenario] = {
    AuditAction.WATCHLIST_CREATE: lambda c, arm: (arm(), _watchlist(c)),
    AuditAction.WATCHLIST_ENROL: lambda c, arm: (wl := _watchlist(c), arm(), _enrol(c, wl)),
    AuditAction.WATCHLIST_ENROL_REFUSED: lambda c, arm: (
        wl := _watchlist(c),
        arm(),
        c.watchlists.enrol(
            INVESTIGATOR,
            wl,
            label="p",
            photos=[EnrolmentPhoto(b"not an image", "file")],
            reason="report 7",
        ),
    ),
    AuditAction.WATCHLIST_REMOVE_SUBJECT: lambda c, arm: (
        wl := _watchlist(c),
        sid := _enrol(c, wl),
        arm(),
        c.watchlists.remove_subject(INVESTIGATOR, wl, sid, "found safe"),
    ),
    AuditAction.WATCHLIST_EXPIRE: lambda c, arm: (
        wl := _watchlist(c),
        arm(),
        c.watchlists.expire(INVESTIGATOR, wl, "the person was found"),
    ),
    AuditAction.DEPLOYMENT_REQUEST: lambda c, arm: (
        wl := seed_watchlist(c.w, unit(1)),
        arm(),
        request(c.w, wl),
    ),
    AuditAction.DEPLOYMENT_URGENT_START: lambda c, arm: (
        wl := seed_watchlist(c.w, unit(1)),
        arm(),
        request(c.w, wl, urgent=True),
    ),
    AuditAction.DEPLOYMENT_APPROVE: lambda c, arm: (
        dep := request(c.w, seed_watchlist(c.w, unit(1))),
        arm(),
        c.w.deployments.approve(OFFICER, dep, "lawful"),
    ),
    AuditAction.DEPLOYMENT_REFUSE: lambda c, arm: (
        dep := request(c.w, seed_watchlist(c.w, unit(1))),
        arm(),
        c.w.deployments.refuse(OFFICER, dep, "not proportionate"),
    ),
    AuditAction.DEPLOYMENT_REVOKE: lambda c, arm: (
        dep := request(c.w, seed_watchlist(c.w, unit(1))),
        c.w.deployments.approve(OFFICER, dep, "lawful"),
        arm(),
        c.w.deployments.revoke(OFFICER, dep, "found"),
    ),
    AuditAction.DEPLOYMENT_PURGE: lambda c, arm: (
        dep := _urgent(c),
        arm(),
        c.w.deployments.purge(dep, OFFICER, reason="unlawful"),
    ),
    AuditAction.DEPLOYMENT_DEADLINE_MISSED: lambda c, arm: (
        _urgent(c),
        c.w.clock.advance(hours=25),
        arm(),
        c.w.deployments.tick(),
    ),
    AuditAction.DEPLOYMENT_EXPIRE: lambda c, arm: (
        dep := request(c.w, seed_watchlist(c.w, unit(1)), hours=1),
        c.w.deployments.approve(OFFICER, dep, "lawful"),
        c.w.clock.advance(hours=2),
        arm(),
        c.w.deployments.tick(),
    ),
    AuditAction.ALERT_RAISE: lambda c, arm: (
        hl := _hotlist(c),
        c.hotlists.add_entry(SUPERVISOR, hl, "ABC123", "stolen car"),
        arm(),
        c.hits(_read(c)),
    ),
    AuditAction.ALERT_CONFIRM: lambda c, arm: (
        alert := _alert(c),
        arm(),
        c.w.verification.decide(OPERATOR, alert, Decision.CONFIRM, "looks like him"),
    ),
    AuditAction.ALERT_REJECT: lambda c, arm: (
        alert := _alert(c),
        arm(),
        c.w.verification.decide(OPERATOR, alert, Decision.REJECT, "not him"),
    ),
    AuditAction.DEPLOYMENT_DRIFT: lambda c, arm: (
        alert := _alert(c),
        verifier := _near_drift_flag(c, alert),
        arm(),
        verifier.decide(OPERATOR, alert, Decision.REJECT, "not him"),
    ),
    AuditAction.ALERT_ACTIONABLE: lambda c, arm: (
        alert := _confirmed_once(c),
        arm(),
        c.w.verification.decide(SUPERVISOR, alert, Decision.CONFIRM, "agreed"),
    ),
    AuditAction.ALERT_OUTCOME: lambda c, arm: (
        alert := _alert(c),
        arm(),
        c.w.verification.record_outcome(SUPERVISOR, alert, "located", "found at the station"),
    ),
    AuditAction.HOTLIST_CREATE: lambda c, arm: (arm(), _hotlist(c)),
    AuditAction.HOTLIST_DELETE: lambda c, arm: (
        hl := _hotlist(c),
        arm(),
        c.hotlists.delete(SUPERVISOR, hl, "case closed"),
    ),
    AuditAction.HOTLIST_ADD_ENTRY: lambda c, arm: (
        hl := _hotlist(c),
        arm(),
        c.hotlists.add_entry(SUPERVISOR, hl, "XYZ789", "stolen"),
    ),
    AuditAction.HOTLIST_REMOVE_ENTRY: lambda c, arm: (
        hl := _hotlist(c),
        e := c.hotlists.add_entry(SUPERVISOR, hl, "XYZ789", "stolen"),
        arm(),
        c.hotlists.remove_entry(SUPERVISOR, hl, e.id, "recovered"),
    ),
    AuditAction.SEARCH: lambda c, arm: (
        c.hits(_read(c)),
        arm(),
        c.plate_search.search(INVESTIGATOR, pattern="ABC123", reason="case 9"),
    ),
    AuditAction.SEARCH_REFUSED: lambda c, arm: (
        dep := post_event(c.w, ("cam-1",)),  # requested, not approved: a search is refused
        arm(),
        _refused_search(c, dep),
    ),
    AuditAction.BIOMETRIC_VIEW: lambda c, arm: (
        alert := _alert(c),
        arm(),
        c.w.verification.view_biometric(OPERATOR, alert, "probe", "to decide"),
    ),
    AuditAction.PURGE_SIGHTINGS: lambda c, arm: (
        _unmatched_face(c),
        arm(),
        c.w.purger.purge_unmatched(),
    ),
    AuditAction.RETENTION_RUN: lambda c, arm: (
        _alert(c),
        c.w.clock.advance(days=400),
        arm(),
        c.w.purger.apply_retention(RetentionPolicy()),
    ),
    AuditAction.RECORDING_RETENTION: lambda c, arm: (
        _segment(c),
        c.w.clock.advance(days=400),
        arm(),
        _recordings(c).apply_retention(),
    ),
    AuditAction.LEGAL_HOLD: lambda c, arm: (
        alert := _alert(c),
        case := c.w.purger.open_case(INVESTIGATOR, "robbery", "case file"),
        arm(),
        c.w.purger.hold(INVESTIGATOR, case.id, "alert", alert, "evidence"),
    ),
    AuditAction.CASE_OPEN: lambda c, arm: (
        arm(),
        c.w.purger.open_case(INVESTIGATOR, "robbery", "case file"),
    ),
    AuditAction.CASE_SHARE: lambda c, arm: (
        case := c.w.purger.open_case(INVESTIGATOR, "robbery", "case file"),
        u := c.accounts.create_user("sam", "correct horse battery", [Role.SUPERVISOR]),
        arm(),
        c.w.purger.share_case(INVESTIGATOR, case.id, u.id, "joint investigation"),
    ),
    AuditAction.EXPORT: lambda c, arm: (
        case := c.w.purger.open_case(INVESTIGATOR, "robbery", "case file"),
        arm(),
        _export(c, case.id),
    ),
    AuditAction.CASE_OUTCOME: lambda c, arm: (
        case := c.w.purger.open_case(INVESTIGATOR, "robbery", "case file"),
        arm(),
        _cases(c).record_outcome(INVESTIGATOR, case.id, "arrest", "arrested"),
    ),
    AuditAction.CASE_CLOSE: lambda c, arm: (
        case := c.w.purger.open_case(INVESTIGATOR, "robbery", "case file"),
        arm(),
        _cases(c).close(INVESTIGATOR, case.id, "charged"),
    ),
    AuditAction.CASE_REOPEN: lambda c, arm: (
        case := c.w.purger.open_case(INVESTIGATOR, "robbery", "case file"),
        _cases(c).close(INVESTIGATOR, case.id, "charged"),
        arm(),
        _cases(c).reopen(INVESTIGATOR, case.id, "appeal"),
    ),
    AuditAction.CASE_RELEASE_HOLDS: lambda c, arm: (
        alert := _alert(c),
        case := c.w.purger.open_case(INVESTIGATOR, "robbery", "case file"),
        c.w.purger.hold(INVESTIGATOR, case.id, "alert", alert, "evidence"),
        _cases(c).close(INVESTIGATOR, case.id, "charged"),
        arm(),
        _cases(c).release_holds(INVESTIGATOR, case.id, "court case over"),
    ),
    AuditAction.USER_CREATE: lambda c, arm: (arm(), _create_user(c)),
    AuditAction.USER_CAMERAS: lambda c, arm: (
        u := c.accounts.create_user("olga", "correct horse battery", [Role.OPERATOR]),
        arm(),
        _assign(c, u.id),
    ),
    AuditAction.USER_ROLES: lambda c, arm: (
        u := c.accounts.create_user("olga", "correct horse battery", [Role.OPERATOR]),
        arm(),
        c.accounts.set_roles(u.id, [Role.AUDITOR], by=ADMIN.id, reason="moved office"),
    ),
    AuditAction.USER_DISABLE: lambda c, arm: (
        u := c.accounts.create_user("olga", "correct horse battery", [Role.OPERATOR]),
        c.accounts.start_session(u),
        arm(),
        _disable(c, u.id),
    ),
    AuditAction.API_KEY_ISSUE: lambda c, arm: (
        u := c.accounts.create_user("olga", "correct horse battery", [Role.OPERATOR]),
        arm(),
        c.accounts.issue_api_key(ADMIN, u.id, ["alerts:read"]),
    ),
    AuditAction.API_KEY_REVOKE: lambda c, arm: (
        u := c.accounts.create_user("olga", "correct horse battery", [Role.OPERATOR]),
        key := c.accounts.issue_api_key(ADMIN, u.id, ["alerts:read"])[1],
        arm(),
        c.accounts.revoke_api_key(Principal(u, "bearer", "-"), key.token_hash),
    ),
    AuditAction.CAMERA_DISABLE: lambda c, arm: (arm(), _switch(c, enabled=False)),
    AuditAction.CAMERA_ENABLE: lambda c, arm: (
        _switch(c, enabled=False),
        arm(),
        _switch(c, enabled=True),
    ),
}


def _cases(c: Ctx) -> CaseService:
    """What the ``/cases/{id}/...`` lifecycle routes call."""
    return CaseService(c.w.repo, c.w.audit, clock=c.w.clock)


def _export(c: Ctx, case_id: str) -> None:
    """What ``vigil evidence export --unredacted`` and the export route call (no redaction, so
    no models); the bundle must not appear when its entry fails."""
    folder = Path(tempfile.mkdtemp(prefix="atomic-export-"))
    key = load_or_create_key(folder / "keys" / "k.pem", folder / "data")
    exporter = EvidenceExporter(
        c.w.repo,
        c.w.media,
        c.w.audit,
        key,
        redaction=None,
        clips=None,
        versions={},
        threshold=0.5,
        clock=c.w.clock,
    )
    out = folder / "out" / "case.zip"
    try:
        exporter.export(INVESTIGATOR, case_id, out, redact=False, reason="court order")
    finally:
        assert not out.exists() and not list(out.parent.glob("*.part"))
        shutil.rmtree(folder)


def _switch(c: Ctx, *, enabled: bool) -> None:
    """What ``PATCH /cameras/{id}`` and ``vigil cameras enable|disable`` call."""
    CameraService(c.w.repo, c.w.audit, clock=c.w.clock).set_enabled(
        ADMIN, "cam-1", enabled, "pointed at a private space"
    )


def _refused_search(c: Ctx, dep: str) -> None:
    from vigil.governance.search import ArchiveSearch

    search = ArchiveSearch(c.w.repo, c.w.archive, c.w.audit, c.w.deployments, clock=c.w.clock)
    search.search(INVESTIGATOR, dep, unit(1)[0], reason="case 9")


def _create_user(c: Ctx) -> None:
    """What ``POST /users``, ``vigil users add`` and the demo call."""
    c.accounts.create_user("olga", "correct horse battery", [Role.OPERATOR], by=ADMIN.id)


def _assign(c: Ctx, user_id: str) -> None:
    c.accounts.assign_cameras(user_id, ["cam-1"], by=ADMIN.id, reason="district")


def _disable(c: Ctx, user_id: str) -> None:
    c.accounts.disable(user_id, by=ADMIN.id, reason="left the force")


def snapshot(c: Ctx) -> dict[str, Any]:
    """Every row of every table, and every media file (names and sizes)."""
    state: dict[str, Any] = {}
    with c.w.repo.db.read() as conn:
        for table in ALL_TABLES:
            state[table.name] = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
    root = c.w.media.root
    state["media"] = sorted(
        (str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file()
    )
    return state


def test_every_audited_action_has_a_failure_scenario() -> None:
    missing = set(AuditAction) - set(SCENARIOS) - set(EXEMPT)
    assert not missing, f"audited actions with no atomicity scenario: {sorted(missing)}"


@pytest.mark.parametrize("action", sorted(SCENARIOS), ids=str)
def test_a_failed_audit_append_leaves_everything_as_it_was(
    action: AuditAction, repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = _ctx(repo, tmp_path)
    real = repo.append_audit_next
    armed: list[dict[str, Any]] = []
    attempted: list[str] = []

    def failing_append(make: Any) -> Any:
        # Fail at the entry of this action only: entries appended before it in the same unit
        # (a confirmation before "actionable") must roll back with it.
        name = make(None).action
        if armed:
            attempted.append(name)
            if name == action.value:
                raise InjectedFailureError(f"audit append failed ({name})")
        return real(make)

    monkeypatch.setattr(repo, "append_audit_next", failing_append)
    entries_before: list[int] = []

    def arm() -> None:
        entries_before.append(len(list(iter_entries(repo))))
        armed.append(snapshot(c))

    with pytest.raises(InjectedFailureError):
        SCENARIOS[action](c, arm)
    assert armed, "the scenario never armed the failure"
    assert action.value in attempted, f"the scenario did not reach {action.value}: {attempted}"
    after = snapshot(c)
    changed = {k for k in after if after[k] != armed[0][k]}
    assert not changed, f"{action.value}: state changed without its audit entry in {changed}"
    assert len(list(iter_entries(repo))) == entries_before[0]
    monkeypatch.undo()
    assert c.w.audit.verify().ok
