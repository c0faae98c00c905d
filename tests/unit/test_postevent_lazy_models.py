"""The configured post-event service loads no model until a job needs one: a case page listing
a plate job, or a plate job's start, must not wait for (or fail on) the face models."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.api_env import migrated_db
from tests.support.governance_world import make_world
from vigil.config import VigilConfig
from vigil.errors import ModelNotInstalledError
from vigil.storage import Repository
from vigil.system.postevent import postevent_runner


def test_search_service_builds_without_models(tmp_path: Path) -> None:
    db = migrated_db(tmp_path)
    w = make_world(Repository(db), tmp_path)
    empty = tmp_path / "no-models"
    empty.mkdir()
    cfg = VigilConfig.model_validate({"models": {"dir": str(empty)}})
    runner = postevent_runner(cfg, w.repo, w.audit, w.deployments)
    search = runner.search  # built: no face or plate model opened yet
    assert search.store.jobs_of_case("none") == []
    with pytest.raises(ModelNotInstalledError):
        _ = search.pipeline  # the first face job is where the models are needed
    db.dispose()
