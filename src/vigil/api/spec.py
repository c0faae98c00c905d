"""The committed OpenAPI document (``docs/openapi.json``) and how to regenerate it.

``python -m vigil.api.spec > docs/openapi.json`` writes the spec of an app built over a
throw-away database; a unit test fails when the served spec and the committed file differ, so an
API change cannot land without its documented contract.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from vigil.config import VigilConfig


def build_spec() -> dict[str, Any]:
    """The OpenAPI document of the app (independent of any configured cameras or data)."""
    from vigil.api.app import create_app
    from vigil.governance.audit import AuditLog
    from vigil.storage import Database, Repository
    from vigil.storage.media import LocalMediaStore
    from vigil.system.assembly import governance_services

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/spec.db")
        try:
            repo = Repository(db)
            cfg = VigilConfig.model_validate({"api": {"secret_key": "spec"}})
            audit = AuditLog(repo)
            svc = governance_services(repo, LocalMediaStore(Path(tmp) / "m"), audit, config=cfg)
            return create_app(cfg, services=svc, start_background=False).openapi()
        finally:
            db.dispose()


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(build_spec()))
