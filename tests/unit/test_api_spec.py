"""The served OpenAPI spec equals the committed docs/openapi.json, and documents the envelope."""

from __future__ import annotations

import json
from pathlib import Path

from vigil.api.spec import build_spec, render

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_committed_spec_matches_the_app() -> None:
    served = render(build_spec())
    assert COMMITTED.read_text() == served, (
        "docs/openapi.json is stale: run `.venv/bin/python -m vigil.api.spec > docs/openapi.json`"
    )


def test_every_operation_documents_the_error_envelope() -> None:
    spec = json.loads(COMMITTED.read_text())
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for code in ("401", "403", "422", "500"):
                ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorEnvelope"), (method, path, code)
            assert "HTTPValidationError" not in json.dumps(op)
