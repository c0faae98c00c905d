"""``vigil investigate footage``: a plate search of real recorded footage from the shell on both
engines (start runs it with progress, results groups appearances, resume continues a paused job
without input), and bad input with clear errors and exit codes: an unknown job (2), a missing
reason (2), no or an unapproved authorisation (4, audited ``search.refused``), a non-investigator
(4), a face job resumed without its probe (2), a finished job cancelled (2)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.cli import CliCalls
from tests.support.governance_world import INVESTIGATOR, OFFICER
from tests.support.plate_footage import SOUGHT, plate_footage, plate_of
from tests.support.recording import index_over, record_file
from vigil.core.domain import CaseRow, Role, UserRow
from vigil.governance.audit import AuditLog, iter_entries
from vigil.governance.deployments import (
    DeploymentKind,
    DeploymentRequest,
    DeploymentService,
    Purpose,
)
from vigil.storage import Database, Repository
from vigil.storage.media import LocalMediaStore
from vigil.storage.postevent import JobRow, PostEventStore

pytestmark = pytest.mark.models


@dataclass
class Cli(CliCalls):
    cfg: Path
    repo: Repository
    capsys: pytest.CaptureFixture[str]
    auth: str
    pending: str
    case: str
    now: datetime

    def start(self, *extra: str, auth: str | None = None, actor: str = "ivan") -> list[str]:
        return [
            *("investigate", "footage", "start", "--case", self.case),
            *("--authorisation", auth or self.auth, "--cameras", "cam-1"),
            *("--from", (self.now - timedelta(minutes=1)).isoformat()),
            *("--to", (self.now + timedelta(minutes=30)).isoformat()),
            *("--actor", actor, *extra),
        ]

    def actions(self) -> list[str]:
        return [e.action for e in iter_entries(self.repo)]


@pytest.fixture
def cli(db: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Cli]:
    url = db.url.render_as_string(hide_password=False)
    cfg = tmp_path / "vigil.yaml"
    cfg.write_text(f"system:\n  data_dir: {tmp_path}\nstorage:\n  url: {url}\n")
    repo = Repository(db)
    now = datetime.now(UTC)
    for uid, roles in [("ivan", (Role.INVESTIGATOR,)), ("olga", (Role.OPERATOR,))]:
        repo.add_user(UserRow(uid, uid, "x", now, roles))
    audit = AuditLog(repo, anchor_path=tmp_path / "audit-anchor.json")
    deployments = DeploymentService(repo, LocalMediaStore(tmp_path / "media"), audit)

    def authorisation() -> str:
        req = DeploymentRequest(
            Purpose.SERIOUS_CRIME_SUSPECT,
            "warrant 11",
            now - timedelta(minutes=5),
            now + timedelta(hours=1),
            camera_ids=("cam-1",),
            reason="hit and run",
            kind=DeploymentKind.POST_EVENT,
        )
        return deployments.request(INVESTIGATOR, req)

    auth, pending = authorisation(), authorisation()
    deployments.approve(OFFICER, auth, "warrant checked")
    case = uuid.uuid4().hex
    repo.add_case(CaseRow(case, "hit and run", "ivan", now))
    index = index_over(db, tmp_path / "recordings")  # recording.dir's default under data_dir
    record_file(plate_footage(tmp_path), index, frames=4, segment_s=4.0)
    yield Cli(cfg, repo, capsys, auth, pending, case, now)


def test_plate_search_from_the_shell(cli: Cli) -> None:
    line = cli.ok(*cli.start("--plate", plate_of(SOUGHT), "--reason", "hit and run"))
    job_id, what, state = line.split("\t")[:3]
    assert (what, state) == (f"plate {plate_of(SOUGHT)}", "done"), line
    assert cli.ok("investigate", "footage", "status", job_id, "--actor", "ivan", "--follow") == line
    doc = json.loads(
        cli.ok(
            "investigate",
            "footage",
            "results",
            job_id,
            "--actor",
            "ivan",
            "--reason",
            "rv",
            "--hits",
        )
    )
    (a,) = doc["appearances"]
    assert a["best"]["text"] == plate_of(SOUGHT) and a["hits"] == len(doc["hits"]) >= 2
    err = cli.fails(
        2, "investigate", "footage", "cancel", job_id, "--actor", "ivan", "--reason", "x"
    )
    assert "already done" in err
    # a paused job resumes from the shell with nothing given again
    store = PostEventStore(cli.repo.db)
    store.set_state(job_id, "paused", cli.now)
    again = cli.ok("investigate", "footage", "resume", job_id, "--actor", "ivan", "--reason", "on")
    assert again.split("\t")[2] == "done"
    assert {"search.run"} <= set(cli.actions())


def test_bad_input_and_refusals(cli: Cli) -> None:
    err = cli.fails(2, "investigate", "footage", "status", "nosuch", "--actor", "ivan")
    assert "no post-event job 'nosuch'" in err
    cli.fails(2, *cli.start("--plate", "DH7X317"))  # no --reason: usage error
    err = cli.fails(2, *cli.start("--plate", "DH7X317", "--probe", "x.jpg", "--reason", "r"))
    assert "exactly one of --plate and --probe" in err
    assert "fixed character" in cli.fails(2, *cli.start("--plate", "D*", "--reason", "r"))
    before = len(cli.actions())
    err = cli.fails(4, *cli.start("--plate", "DH7X317", "--reason", "r", auth=cli.pending))
    assert "not approved" in err
    assert cli.actions()[before:] == ["search.refused"]
    err = cli.fails(4, *cli.start("--plate", "DH7X317", "--reason", "r", auth="nosuch"))
    assert "no authorisation" in err
    assert "investigator" in cli.fails(
        4, *cli.start("--plate", "DH7X317", "--reason", "r", actor="olga")
    )
    store = PostEventStore(cli.repo.db)
    assert not store.jobs_of_case(cli.case)  # every refusal above recorded no job
    # a paused face job cannot resume without its probe photo (probes are never stored)
    face = JobRow(
        "face-1", cli.case, cli.auth, "face", "probe photo", ("cam-1",), cli.now,
        cli.now + timedelta(minutes=5), 0.5, "paused", 1, 0, "ivan", cli.now, cli.now,
    )  # fmt: skip
    store.add_job(face)
    err = cli.fails(
        2, "investigate", "footage", "resume", "face-1", "--actor", "ivan", "--reason", "r"
    )
    assert "--probe" in err and store.get_job("face-1").state == "paused"
