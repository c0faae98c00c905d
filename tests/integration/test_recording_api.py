"""``GET /cameras/{id}/clips`` over real recorded footage: MP4 with range requests, audited views,
privacy masks burned in unless an investigator unmasks with a case, camera scope, bad input."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np
import pytest

from tests.support.api_env import PASSWORD, Env, build_env, migrated_db
from tests.support.recording import index_over, intel_clip, record_file
from vigil.config.recording import PrivacyMask, RecordingConfig
from vigil.core.domain import CaseRow, Role
from vigil.governance.audit import AuditAction, iter_entries
from vigil.governance.recordings import CameraRecording, RecordingService
from vigil.recording.index import SegmentIndex
from vigil.storage.recordings import RecordingStore, SegmentRow

LEFT_HALF = PrivacyMask(polygon=[[0, 0], [0.5, 0], [0.5, 1], [0, 1]], name="windows")
PATH = "/api/v1/cameras/cam-1/clips"


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SegmentRow]]:
    """About 8 s of the Intel clip recorded once for the module: (root, indexed rows)."""
    tmp = tmp_path_factory.mktemp("footage")
    db = migrated_db(tmp)
    index = index_over(db, tmp / "rec")
    record_file(intel_clip(), index, frames=9, segment_s=2.0)
    far = (datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=1))
    rows = index.window("cam-1", *far)
    db.dispose()
    return tmp / "rec", rows


@pytest.fixture
def rec_env(tmp_path: Path, footage: tuple[Path, list[SegmentRow]]) -> Iterator[Env]:
    root, rows = footage
    env = build_env(tmp_path)
    store = RecordingStore(env.repo.db)
    for row in rows:
        store.add(row)
    env.svc.recordings = RecordingService(
        env.repo,
        env.svc.audit,
        SegmentIndex(store, root),
        {"cam-1": CameraRecording("continuous", timedelta(days=31), (LEFT_HALF,))},
        settings=RecordingConfig(max_clip_s=60),
        cache_dir=tmp_path / "clips",
    )
    yield env
    env.repo.db.dispose()


def _window(footage: tuple[Path, list[SegmentRow]]) -> dict[str, str]:
    rows = footage[1]
    start = rows[0].started_at + timedelta(seconds=0.5)
    end = rows[2].started_at + timedelta(seconds=0.5)
    return {"start": start.isoformat(), "end": end.isoformat()}


def _decode(data: bytes, tmp: Path) -> list[np.ndarray]:
    path = tmp / "got.mp4"
    path.write_bytes(data)
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(c.streams.video[0])]


def _entries(env: Env, action: AuditAction) -> list[object]:
    return [e for e in iter_entries(env.repo) if e.action == action.value]


def test_an_operator_gets_a_masked_clip_audited_once_with_its_reason(
    rec_env: Env, footage: tuple[Path, list[SegmentRow]], tmp_path: Path
) -> None:
    c = rec_env.client(Role.OPERATOR)
    params = {**_window(footage), "reason": "incident 42 on the square"}
    r = c.get(PATH, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "video/mp4"
    assert r.headers["x-vigil-masked"] == "true" and r.headers["accept-ranges"] == "bytes"
    frames = _decode(r.content, tmp_path)
    assert len(frames) >= 20
    w = frames[0].shape[1]
    for f in frames[::5]:
        assert f[:, : w // 2 - 4].max() <= 16  # black (H.264 leaves a little noise at most)
        assert f[:, w // 2 + 4 :].mean() > 40  # the rest of the scene is there
    views = _entries(rec_env, AuditAction.RECORDING_VIEW)
    assert len(views) == 1
    assert views[0].reason == "incident 42 on the square"  # type: ignore[attr-defined]
    assert ("masked", "true") in views[0].details  # type: ignore[attr-defined]
    # Range requests of the same view read the built clip: 206 with the exact bytes, no new
    # entry per request.
    part = c.get(PATH, params=params, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == r.content[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{len(r.content)}"
    tail = c.get(PATH, params=params, headers={"Range": "bytes=100-"})
    assert tail.status_code == 206 and tail.content == r.content[100:]
    assert len(_entries(rec_env, AuditAction.RECORDING_VIEW)) == 1
    bad = c.get(PATH, params=params, headers={"Range": f"bytes={len(r.content) + 10}-"})
    assert bad.status_code == 416


def test_an_investigator_unmasks_with_a_case_and_a_reason(
    rec_env: Env, footage: tuple[Path, list[SegmentRow]], tmp_path: Path
) -> None:
    inv = rec_env.users[Role.INVESTIGATOR]
    rec_env.repo.add_case(CaseRow("case-7", "robbery", inv, datetime.now(UTC)))
    c = rec_env.client(Role.INVESTIGATOR)
    params = {**_window(footage), "reason": "identify the suspect", "unmask": "true"}
    r = c.get(PATH, params={**params, "case_id": "case-7"})
    assert r.status_code == 200, r.text
    assert r.headers["x-vigil-masked"] == "false"
    frames = _decode(r.content, tmp_path)
    w = frames[0].shape[1]
    assert np.mean([f[:, : w // 2].mean() for f in frames]) > 40  # not masked
    (entry,) = _entries(rec_env, AuditAction.RECORDING_UNMASK)
    assert ("case", "case-7") in entry.details  # type: ignore[attr-defined]
    # Without a case; another person's case; an operator or supervisor asking to unmask.
    assert c.get(PATH, params=params).status_code == 422
    rec_env.repo.add_case(CaseRow("case-8", "other", "someone-else", datetime.now(UTC)))
    assert c.get(PATH, params={**params, "case_id": "case-8"}).status_code == 404
    for role in (Role.OPERATOR, Role.SUPERVISOR):
        got = rec_env.client(role).get(PATH, params={**params, "case_id": "case-7"})
        assert got.status_code in (403, 404), got.text
    assert len(_entries(rec_env, AuditAction.RECORDING_UNMASK)) == 1


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.ADMIN, Role.AUTHORISING_OFFICER])
def test_roles_that_watch_no_cameras_get_no_footage(
    rec_env: Env, footage: tuple[Path, list[SegmentRow]], role: Role
) -> None:
    r = rec_env.client(role).get(PATH, params={**_window(footage), "reason": "curious"})
    assert r.status_code == 403
    assert r.json()["error"]["code"]
    assert not _entries(rec_env, AuditAction.RECORDING_VIEW)


def test_a_camera_outside_the_callers_assignment_reads_as_missing(
    rec_env: Env, footage: tuple[Path, list[SegmentRow]]
) -> None:
    user = rec_env.svc.accounts.create_user(
        "district-2", PASSWORD, [Role.OPERATOR], cameras=["cam-2"]
    )
    c = rec_env.client()
    c.headers["Authorization"] = f"Bearer {rec_env.svc.accounts.start_session(user)[0]}"
    r = c.get(PATH, params={**_window(footage), "reason": "looking around"})
    assert r.status_code == 404
    missing = c.get("/api/v1/cameras/cam-9/clips", params={**_window(footage), "reason": "x" * 5})
    assert (
        r.json()["error"]["message"].replace("cam-1", "cam-9") == missing.json()["error"]["message"]
    )
    assert not _entries(rec_env, AuditAction.RECORDING_VIEW)


def test_bad_input_is_refused_in_the_envelope_and_writes_no_view(
    rec_env: Env, footage: tuple[Path, list[SegmentRow]]
) -> None:
    c = rec_env.client(Role.OPERATOR)
    w = _window(footage)
    start = datetime.fromisoformat(w["start"])
    cases = [
        {"start": w["end"], "end": w["start"], "reason": "backwards"},  # end before start
        {"start": w["start"], "end": w["start"], "reason": "empty window"},
        {"start": w["start"], "end": (start + timedelta(minutes=5)).isoformat(), "reason": "long"},
        {"start": start.replace(tzinfo=None).isoformat(), "end": w["end"], "reason": "naive"},
        {"start": "yesterday", "end": w["end"], "reason": "not a time"},
        {"start": w["start"], "end": w["end"]},  # no reason
        {"start": w["start"], "end": w["end"], "reason": "x"},  # too short
        {"start": w["start"], "end": w["end"], "reason": "ok!", "case_id": "../etc"},
        {"end": w["end"], "reason": "no start"},
    ]
    for params in cases:
        r = rec_env.client(Role.OPERATOR).get(PATH, params=params)
        assert r.status_code in (400, 422), (params, r.status_code, r.text)
        assert set(r.json()) == {"error"} and r.json()["error"]["code"], params
    long_ago = {
        "start": "2001-01-01T00:00:00Z",
        "end": "2001-01-01T00:00:30Z",
        "reason": "nothing then",
    }
    assert c.get(PATH, params=long_ago).status_code == 404
    assert not _entries(rec_env, AuditAction.RECORDING_VIEW)


def test_a_view_whose_entry_cannot_be_written_serves_nothing(
    rec_env: Env, footage: tuple[Path, list[SegmentRow]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("audit store down")

    assert rec_env.svc.recordings is not None
    monkeypatch.setattr(rec_env.svc.recordings.audit, "append", broken)
    c = rec_env.client(Role.OPERATOR, raise_server_exceptions=False)
    r = c.get(PATH, params={**_window(footage), "reason": "during an outage"})
    assert r.status_code == 500 and not r.content.startswith(b"\x00\x00")
    assert not list((rec_env.tmp / "clips").glob("*.mp4"))
    monkeypatch.undo()
    ok = c.get(PATH, params={**_window(footage), "reason": "after the outage"})
    assert ok.status_code == 200 and len(_entries(rec_env, AuditAction.RECORDING_VIEW)) == 1


def test_a_missing_segment_file_is_a_clear_404(
    rec_env: Env, footage: tuple[Path, list[SegmentRow]], tmp_path: Path
) -> None:
    root, rows = footage
    moved = tmp_path / "elsewhere"
    shutil.copytree(root, moved)
    svc = rec_env.svc.recordings
    assert svc is not None
    svc.index = replace(svc.index, root=moved)
    (moved / rows[0].path).unlink()
    r = rec_env.client(Role.OPERATOR).get(PATH, params={**_window(footage), "reason": "gone"})
    assert r.status_code == 404 and "missing" in r.json()["error"]["message"]
