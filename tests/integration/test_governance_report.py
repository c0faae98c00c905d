"""The oversight report and the `vigil audit verify` / `vigil report oversight` commands."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete

from tests.support.governance_world import (
    OFFICER,
    OPERATOR,
    SUPERVISOR,
    T0,
    World,
    fake_alert,
    make_world,
    request,
    seed_watchlist,
    unit,
)
from vigil.cli.main import main
from vigil.core.domain import Decision
from vigil.governance.audit import AuditAction
from vigil.governance.report import build_oversight, to_markdown
from vigil.storage import Database, Repository
from vigil.storage import schema as t


def raise_alert(w: World, dep: str, wl: str, n: int) -> str:
    a = fake_alert(w, dep, n)
    w.audit.append(
        "system",
        AuditAction.ALERT_RAISE,
        f"alert:{a.id}",
        "match",
        [("deployment", dep), ("watchlist", wl), ("false_alert_rate", "0.002")],
    )
    return a.id


def test_oversight_report_counts_and_survives_a_purge(repo: Repository, tmp_path: Path) -> None:
    w = make_world(repo, tmp_path)
    wl = seed_watchlist(w, unit(3))
    dep = request(w, wl, hours=4)
    w.deployments.approve(OFFICER, dep, "ok")
    ids = [raise_alert(w, dep, wl, i) for i in range(3)]
    w.audit.append(
        "system",
        AuditAction.DEPLOYMENT_SCAN_SUMMARY,
        f"deployment:{dep}",
        "scan",
        [("camera", "cam-1"), ("faces_scanned", "500"), ("alerts", "3")],
    )
    w.verification.decide(OPERATOR, ids[0], Decision.CONFIRM, "match")
    w.verification.decide(SUPERVISOR, ids[0], Decision.CONFIRM, "agree")
    w.verification.decide(OPERATOR, ids[1], Decision.REJECT, "different person")
    w.verification.record_outcome(SUPERVISOR, ids[0], "located", "child found")
    urgent = request(w, wl, hours=4, urgent=True)
    raise_alert(w, urgent, wl, 9)
    w.deployments.refuse(OFFICER, urgent, "not necessary")
    doc = build_oversight(repo, T0 - timedelta(hours=1), T0 + timedelta(days=1))
    deps = {d["id"]: d for d in doc["deployments"]}
    d = deps[dep]
    assert d["purpose"] == "victim_or_missing_person" and d["duration_hours"] == 4.0
    assert d["authorised_by"] == OFFICER.id and d["legal_reference"]
    assert (d["faces_scanned"], d["alerts"], d["confirmed"], d["rejected"], d["pending"]) == (
        500,
        3,
        1,
        1,
        1,
    )
    assert d["observed_false_alert_rate"] == 0.5 and d["rejected_per_1000_faces"] == 2.0
    assert d["mean_calibrated_false_alert_rate"] == pytest.approx(0.002)
    assert d["outcomes"] == {"located": 1}
    assert deps[urgent]["state"] == "refused" and deps[urgent]["alerts"] == 1  # purged, counted
    assert doc["watchlists"][wl]["alerts"] == 4
    assert doc["purges"] == {"alerts_deleted": 1, "deployments_purged": 1}
    json.dumps(doc, allow_nan=False)
    md = to_markdown(doc)
    assert "victim_or_missing_person" in md and "deployments_purged: 1" in md


def test_cli_audit_verify_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f"system:\n  data_dir: {tmp_path}\n")
    db = Database(f"sqlite:///{tmp_path}/vigil.db")
    db.migrate()
    w = make_world(Repository(db), tmp_path)
    wl = seed_watchlist(w, unit(2))
    dep = request(w, wl)
    w.deployments.approve(OFFICER, dep, "ok")
    # The watchlist was seeded straight into the database (no watchlist.create entry): the chain
    # is intact, and verify names the record written around it.
    with pytest.raises(SystemExit) as exc:
        main(["audit", "verify", "-c", str(cfg)])
    assert exc.value.code == 1
    printed = capsys.readouterr().out
    assert "intact: 2 entries" in printed
    assert f"1 watchlist record(s) without their audit entry: {wl}" in printed
    out = tmp_path / "r" / "oversight.json"
    main(
        [
            "report",
            "oversight",
            "--from",
            "2025-03-01",
            "--to",
            "2025-03-02",
            "-o",
            str(out),
            "-c",
            str(cfg),
        ]
    )
    doc = json.loads(out.read_text())
    assert [d["id"] for d in doc["deployments"]] == [dep]
    assert out.with_suffix(".md").exists()
    with db.writer.begin() as c:  # delete the middle of the chain
        c.execute(delete(t.audit_entries).where(t.audit_entries.c.seq == 1))
    with pytest.raises(SystemExit) as exc:
        main(["audit", "verify", "-c", str(cfg)])
    assert exc.value.code == 1
    assert "BROKEN at seq 1" in capsys.readouterr().out
    db.dispose()
