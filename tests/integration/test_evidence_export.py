"""Evidence bundles end to end on real footage, real faces and the real face models.

One case is built once for the module: a face alert on the case's subject (template from one
photo, as an enrolment makes it), a still (a real frame with the subject and a bystander), a
3-second clip window of the footage, an outcome; then one redacted bundle is exported. The tests
then measure the redaction with the face detector at its default threshold, tamper with every
kind of part of the bundle, and verify the untouched bundle in a fresh process that has only the
bundle and the public key.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import av
import cv2
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.api_env import Env, build_env
from tests.support.evidence import (
    FOOTAGE_T0,
    demo_clip,
    embed_photo,
    exporter,
    face_pipeline,
)
from vigil.config.settings import FacesConfig
from vigil.core import FrameRef
from vigil.core.domain import Decision, Role, SubjectRow, TemplateRow, WatchlistRow
from vigil.core.records import Alert, AlertKind
from vigil.errors import ConfigError, ValidationError
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditAction, iter_entries
from vigil.governance.evidence import EvidenceExporter, FootageFiles
from vigil.governance.evidence_verify import CHAIN, MANIFEST, SIGNATURE, verify_bundle
from vigil.governance.signing import load_or_create_key, load_public_key, public_pem

pytestmark = [pytest.mark.models, pytest.mark.data]

REPO = Path(__file__).resolve().parents[2]
THRESHOLD = FacesConfig().identification.threshold
CLIP_START, CLIP_END = FOOTAGE_T0 + timedelta(seconds=0.5), FOOTAGE_T0 + timedelta(seconds=2.5)


@dataclass
class World:
    env: Env
    exporter: EvidenceExporter
    bundle: Path
    public_key: Path
    footage: Path
    subject: npt.NDArray[np.float32]
    case_id: str
    alert_id: str
    tmp: Path


def _frame(footage: Path, index: int) -> npt.NDArray[np.uint8]:
    with av.open(str(footage)) as c:
        for i, f in enumerate(c.decode(c.streams.video[0])):
            if i == index:
                return np.asarray(f.to_ndarray(format="bgr24"), np.uint8)
    raise AssertionError("frame not found")


def _seed_subject(env: Env, vector: npt.NDArray[np.float32], deployment: str) -> str:
    now = env.svc.clock()
    inv = env.users[Role.INVESTIGATOR]
    wl = WatchlistRow(
        uuid.uuid4().hex,
        "missing",
        "missing_or_vulnerable",
        inv,
        now,
        "report",
        now + timedelta(days=9),
        0,
    )
    env.repo.add_watchlist(wl)
    subject = SubjectRow("subj-1", wl.id, "person sought", inv, now)
    env.repo.add_subject(subject)
    env.repo.add_templates(
        [TemplateRow("tpl-1", subject.id, "fusion", vector, "family photo", 0.9, inv, now)]
    )
    return subject.id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("evidence")
    env = build_env(tmp)
    footage = demo_clip(tmp, seconds=4.0)
    subject = embed_photo("demo-obama")
    ok, jpg = cv2.imencode(".jpg", _frame(footage, 20))
    assert ok
    probe = env.svc.media.put(jpg.tobytes())
    from tests.support.api_env import add_alert

    base = add_alert(env.repo, env.svc.media, kind=AlertKind.FACE_MATCH)  # type: ignore[arg-type]
    subject_id = _seed_subject(env, subject, base.deployment_id or "")
    alert = Alert(
        id="alert-subject",
        kind=AlertKind.FACE_MATCH,
        camera_id="cam-1",
        raised_at=env.svc.clock(),
        score=0.71,
        deployment_id=base.deployment_id,
        subject_id=subject_id,
        false_alert_rate=2.5e-4,
    )
    env.repo.add_alert(alert, probe_key=probe)
    env.svc.audit.append(
        "system",
        AuditAction.ALERT_RAISE,
        f"alert:{alert.id}",
        "match",
        [("kind", "face_match"), ("false_alert_rate", "0.00025")],
    )
    op = Actor.of(env.users[Role.OPERATOR], Role.OPERATOR)
    sup = Actor.of(env.users[Role.SUPERVISOR], Role.SUPERVISOR)
    env.svc.verification.decide(op, alert.id, Decision.CONFIRM, "same person")
    env.svc.verification.decide(sup, alert.id, Decision.CONFIRM, "agreed, same person")
    inv = Actor.of(env.users[Role.INVESTIGATOR], Role.INVESTIGATOR)
    case = env.svc.purger.open_case(inv, "missing person", "report 17")
    env.svc.purger.hold(inv, case.id, "alert", alert.id, "the sighting")
    env.svc.cases.link_clip(inv, case.id, "cam-1", CLIP_START, CLIP_END, "walking past")
    env.svc.cases.record_outcome(inv, case.id, "other", "found safe", alert_id=alert.id)
    ex = exporter(env.repo, env.svc.media, env.svc.audit, tmp, footage)
    bundle = tmp / "out" / "case.zip"
    ex.export(inv, case.id, bundle)
    pub = tmp / "public.pem"
    pub.write_text(public_pem(ex.key))
    yield World(env, ex, bundle, pub, footage, subject, case.id, alert.id, tmp)
    env.repo.db.dispose()


def _faces(image: npt.NDArray[np.uint8], subject: npt.NDArray[np.float32]) -> tuple[int, int]:
    """(bystander faces, subject faces) the live pipeline finds at its default threshold."""
    ref = FrameRef("scan", FOOTAGE_T0, 0, image.shape[1], image.shape[0])
    bystanders = subjects = 0
    for obs in face_pipeline().analyse(image, ref).observations:
        e = obs.embedding
        if e is not None and float(subject @ (e / np.linalg.norm(e))) >= THRESHOLD:
            subjects += 1
        else:
            bystanders += 1
    return bystanders, subjects


def _video_faces(data: bytes, subject: npt.NDArray[np.float32]) -> list[tuple[int, int]]:
    with av.open(io.BytesIO(data)) as c:
        return [
            _faces(np.asarray(f.to_ndarray(format="bgr24"), np.uint8), subject)
            for f in c.decode(c.streams.video[0])
        ]


def test_redaction_leaves_no_bystander_face_and_keeps_the_subject(world: World) -> None:
    raw = world.tmp / "raw.mp4"
    FootageFiles({"cam-1": (world.footage, FOOTAGE_T0)}).clip("cam-1", CLIP_START, CLIP_END, raw)
    subject = world.subject / np.linalg.norm(world.subject)
    before = _video_faces(raw.read_bytes(), subject)
    with zipfile.ZipFile(world.bundle) as zf:
        manifest = json.loads(zf.read(MANIFEST))
        clip_name = manifest["clips"][0]["file"]
        after = _video_faces(zf.read(clip_name), subject)
        still = cv2.imdecode(
            np.frombuffer(zf.read(f"stills/alert-{world.alert_id}.jpg"), np.uint8), 1
        )
    assert len(after) == len(before) >= 20
    # The footage has bystanders the detector finds at its default threshold (else this test
    # could not fail), and the subject in frames.
    assert sum(b for b, _ in before) >= len(before)
    visible = [i for i, (_, s) in enumerate(before) if s]
    assert len(visible) >= len(before) // 2
    assert sum(b for b, _ in after) == 0, [b for b, _ in after]
    kept = [i for i in visible if after[i][1]]
    print(  # the measured figures, for the docs
        f"frames {len(before)}; bystander faces before {sum(b for b, _ in before)}, after "
        f"{sum(b for b, _ in after)}; subject faces before {sum(s for _, s in before)}, after "
        f"{sum(s for _, s in after)}; subject visible in {len(visible)} frames, found in "
        f"{len(kept)} of them after redaction"
    )
    assert len(kept) == len(visible)
    assert _faces(still, subject)[0] == 0 and _faces(still, subject)[1] >= 1
    assert manifest["redacted"] is True
    assert manifest["redaction"][clip_name]["faces_blurred"] > 0


def test_the_manifest_holds_versions_decisions_and_audit_proofs(world: World) -> None:
    with zipfile.ZipFile(world.bundle) as zf:
        manifest = json.loads(zf.read(MANIFEST))
    (alert,) = manifest["alerts"]
    assert alert["calibrated_false_alert_rate"] == 2.5e-4
    assert [v["decision"] for v in alert["verifications"]] == ["confirm", "confirm"]
    assert len({v["user"] for v in alert["verifications"]}) == 2
    assert manifest["versions"]["identification_threshold"] == str(THRESHOLD)
    assert manifest["case"]["outcomes"][0]["outcome"] == "other"
    cited = manifest["audit"]["items"]
    actions = {k: {c["action"] for c in v} for k, v in cited.items()}
    assert {"case.open", "case.outcome"} <= actions[f"case:{world.case_id}"]
    assert {"alert.raise", "alert.actionable", "case.legal_hold"} <= actions[
        f"alert:{world.alert_id}"
    ]
    assert any(k.startswith("clip:") for k in cited)
    assert set(manifest["files"]) >= {CHAIN, manifest["clips"][0]["file"], alert["still"]}
    # The export itself is in the chain, naming the manifest it signed, in the same unit as
    # the case's link to it.
    exports = [e for e in iter_entries(world.env.repo) if e.action == AuditAction.EXPORT.value]
    with zipfile.ZipFile(world.bundle) as zf:
        digest = __import__("hashlib").sha256(zf.read(MANIFEST)).hexdigest()
    assert ("manifest_sha256", digest) in exports[-1].details
    assert ("export", digest) in {
        (k.kind, k.target_id) for k in world.env.repo.case_links(world.case_id)
    }
    assert world.env.svc.audit.verify().ok


def _run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter with no Vigil settings: only PATH, the source, and an empty home."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO / "src"), "HOME": str(home)}
    return subprocess.run(
        args, check=False, cwd=home, env=env, capture_output=True, text=True, timeout=120
    )


def test_an_untouched_bundle_verifies_in_a_fresh_process_with_only_the_public_key(
    world: World, tmp_path: Path
) -> None:
    verify = [sys.executable, "-m", "vigil", "evidence", "verify"]
    r = _run([*verify, str(world.bundle), "--key", str(world.public_key)], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "bundle verified" in r.stdout
    # The verifier alone never loads a database driver.
    code = (
        "import sys, pathlib; from vigil.governance.evidence_verify import verify_bundle; "
        "from vigil.governance.signing import load_public_key; "
        f"r = verify_bundle(pathlib.Path({str(world.bundle)!r}), "
        f"load_public_key(pathlib.Path({str(world.public_key)!r}).read_bytes())); "
        "assert r.ok, r.problems; assert 'sqlalchemy' not in sys.modules; print('ok')"
    )
    r = _run([sys.executable, "-c", code], tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
    # Another key fails, naming the signature; a missing bundle is bad input (exit 2).
    other = tmp_path / "other.pem"
    other.write_text(public_pem(load_or_create_key(tmp_path / "k" / "x.key", tmp_path / "data")))
    r = _run([*verify, str(world.bundle), "--key", str(other)], tmp_path)
    assert r.returncode == 1 and SIGNATURE in r.stdout
    r = _run([*verify, str(tmp_path / "nope.zip"), "--key", str(other)], tmp_path)
    assert r.returncode == 2 and "no bundle" in r.stderr
    r = _run([*verify, str(world.bundle), "--key", str(world.bundle)], tmp_path)
    assert r.returncode == 2 and "PEM" in r.stderr


def _rewrite(src: Path, dst: Path, member: str, offset: int) -> None:
    """A copy of the bundle with one byte of ``member`` changed (re-zipped, as a forger would)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = bytearray(zin.read(info.filename))
            if info.filename == member:
                i = offset % len(data)
                data[i] = (data[i] + 1) % 256
            zout.writestr(info, bytes(data))


def _members(bundle: Path) -> list[str]:
    with zipfile.ZipFile(bundle) as zf:
        return sorted(zf.namelist())


def _expected_name(member: str) -> str:
    return SIGNATURE if member == MANIFEST else member


def test_each_kind_of_part_changed_by_one_byte_is_named(world: World, tmp_path: Path) -> None:
    pub = load_public_key(world.public_key.read_bytes())
    assert verify_bundle(world.bundle, pub).ok
    for member in _members(world.bundle):
        out = tmp_path / "t.zip"
        _rewrite(world.bundle, out, member, offset=37)
        report = verify_bundle(out, pub)
        assert not report.ok, member
        assert any(_expected_name(member) in p for p in report.problems), (member, report.problems)


def test_an_edited_audit_entry_is_named_by_its_seq(world: World, tmp_path: Path) -> None:
    pub = load_public_key(world.public_key.read_bytes())
    with zipfile.ZipFile(world.bundle) as zf:
        lines = zf.read(CHAIN).decode().splitlines()
    doc = json.loads(lines[1])
    doc["reason"] = doc["reason"][:-1] + ("x" if doc["reason"][-1:] != "x" else "y")
    lines[1] = json.dumps(doc, sort_keys=True)
    out = tmp_path / "t.zip"
    with zipfile.ZipFile(world.bundle) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            data = ("\n".join(lines) + "\n").encode() if info.filename == CHAIN else zin.read(info)
            zout.writestr(info, data)
    problems = verify_bundle(out, pub).problems
    assert any(f"audit entry seq {doc['seq']}: its content" in p for p in problems), problems
    assert any(p.startswith(CHAIN) for p in problems)


def _data_spans(bundle: Path) -> list[tuple[str, int, int]]:
    """Each member's stored bytes in the raw file: ``(name, start, end)``."""
    raw = bundle.read_bytes()
    spans = []
    with zipfile.ZipFile(bundle) as zf:
        for info in zf.infolist():
            h = info.header_offset
            start = h + 30 + int.from_bytes(raw[h + 26 : h + 28], "little")
            start += int.from_bytes(raw[h + 28 : h + 30], "little")
            spans.append((info.filename, start, start + info.compress_size))
    return spans


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_content_byte_flipped_in_the_raw_file_fails_and_is_named(
    world: World, tmp_path: Path, data: st.DataObject
) -> None:
    """Raw bytes of the zip, not re-zipped: a changed byte of any member's content (the zip's
    own bookkeeping, such as the version field of a header, holds no evidence) fails
    verification, and the report names that member."""
    spans = _data_spans(world.bundle)
    name, start, end = data.draw(st.sampled_from(spans))
    i = data.draw(st.integers(start, end - 1))
    raw = bytearray(world.bundle.read_bytes())
    raw[i] ^= data.draw(st.integers(1, 255))
    out = tmp_path / "flip.zip"
    out.write_bytes(bytes(raw))
    report = verify_bundle(out, load_public_key(world.public_key.read_bytes()))
    assert not report.ok
    assert any(name in p for p in report.problems), (name, report.problems)


def test_unredacted_export_needs_a_reason_and_is_audited(world: World) -> None:
    inv = Actor.of(world.env.users[Role.INVESTIGATOR], Role.INVESTIGATOR)
    out = world.tmp / "out" / "plain.zip"
    with pytest.raises(ValidationError):
        world.exporter.export(inv, world.case_id, out, redact=False, reason="  ")
    assert not out.exists()
    world.exporter.export(inv, world.case_id, out, redact=False, reason="court order 12/7")
    last = [e for e in iter_entries(world.env.repo) if e.action == AuditAction.EXPORT.value][-1]
    assert last.reason == "court order 12/7" and ("redacted", "false") in last.details
    with zipfile.ZipFile(out) as zf:
        assert json.loads(zf.read(MANIFEST))["redacted"] is False
    op = Actor.of(world.env.users[Role.OPERATOR], Role.OPERATOR)
    with pytest.raises(Exception, match="needs the role"):
        world.exporter.export(op, world.case_id, world.tmp / "out" / "op.zip")


def test_the_signing_key_stays_outside_the_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with pytest.raises(ConfigError, match="inside the data directory"):
        load_or_create_key(data / "keys" / "k.pem", data)
    key = tmp_path / "keys" / "k.pem"
    first = load_or_create_key(key, data)
    assert key.stat().st_mode & 0o777 == 0o600
    assert public_pem(load_or_create_key(key, data)) == public_pem(first)  # kept, not replaced
    key.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        load_or_create_key(key, data)


def test_the_api_exports_a_verifiable_bundle_and_refuses_bad_requests(world: World) -> None:
    world.env.svc._evidence = world.exporter
    inv = world.env.client(Role.INVESTIGATOR)
    path = f"/api/v1/cases/{world.case_id}/exports"
    r = inv.post(path, json={"redact": False, "reason": "prosecutor's copy"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    bundle = world.tmp / "api.zip"
    bundle.write_bytes(r.content)
    report = verify_bundle(bundle, load_public_key(world.public_key.read_bytes()))
    assert report.ok, report.problems
    assert r.headers["x-manifest-sha256"] in {
        k.target_id for k in world.env.repo.case_links(world.case_id) if k.kind == "export"
    }
    assert inv.post(path, json={"redact": False}).status_code == 422
    assert inv.post(path, json={"redact": "maybe"}).status_code == 422
    assert world.env.client(Role.OPERATOR).post(path, json={}).status_code == 403
    assert world.env.client(Role.SUPERVISOR).post(path, json={}).status_code == 404  # not shared


@pytest.mark.slow
def test_redaction_over_twenty_seconds_of_footage(tmp_path: Path) -> None:
    """The same measurement over 20 s (200 frames) of the demo footage, where the composited
    faces cross the whole scene, shrink at the edges and overlap pedestrians."""
    from tests.support.evidence import make_redactor

    footage = demo_clip(tmp_path, seconds=20.0)
    subject = embed_photo("demo-obama")
    subject = subject / np.linalg.norm(subject)
    out = tmp_path / "red.mp4"
    make_redactor(subject[None, :]).video(footage, out)
    before = _video_faces(footage.read_bytes(), subject)
    after = _video_faces(out.read_bytes(), subject)
    visible = [i for i, (_, s) in enumerate(before) if s]
    kept = [i for i in visible if after[i][1]]
    print(  # the measured figures, for the docs
        f"frames {len(before)}; bystander faces before {sum(b for b, _ in before)}, after "
        f"{sum(b for b, _ in after)}; subject visible in {len(visible)} frames, found in "
        f"{len(kept)} of them after redaction"
    )
    assert sum(b for b, _ in after) == 0
    assert len(kept) >= 0.95 * len(visible)


def test_the_configured_exporter_redacts_with_the_configured_knobs(world: World) -> None:
    """The exporter ``vigil run``, the API and the CLI build (system wiring): its key from the
    config, its redactor's detector at the redaction threshold, plates on."""
    from tests.support.api_env import with_key_in
    from vigil.config import VigilConfig
    from vigil.system.governance import evidence_exporter

    cfg = with_key_in(VigilConfig(), world.tmp / "wired")
    ex = evidence_exporter(cfg, world.env.repo, world.env.svc.media, world.env.svc.audit)
    assert ex.key is not None and ex.redaction is not None and ex.redaction.model == "fusion"
    subject = world.subject[None, :] / np.linalg.norm(world.subject)
    redactor = ex.redaction.make(subject, ["ABC123"])
    assert redactor.plates is not None and redactor.plate_texts == {"ABC123"}
    assert redactor.threshold == THRESHOLD
    encoded, jpg = cv2.imencode(".jpg", _frame(world.footage, 20))
    assert encoded
    still, stats = redactor.image(jpg.tobytes())
    image = cv2.imdecode(np.frombuffer(still, np.uint8), 1)
    assert stats.faces_blurred >= 1 and stats.subject_faces_kept >= 1
    assert _faces(image, subject[0])[0] == 0
