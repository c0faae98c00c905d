"""The live terminal view of `vigil run`: one row per camera, readable in 80 columns."""

from __future__ import annotations

import time

import pytest
from rich.console import Console

from vigil.cli import run_cmd


class FakeSystem:
    """Stands in for EmbeddedSystem (the view only calls camera_view())."""

    def camera_view(self) -> list[dict[str, object]]:
        return [
            {
                "camera_id": "demo-street",
                "state": "online",
                "frames_analysed": 393,
                "people_now": 4,
                "person_tracks_total": 133,
                "crowd_count": 6.52,
                "face_tracks_closed": 14,
                "alerts": 9,
                "dropped_frames": 2,
                "tamper": ["frozen"],
                "last_error": None,
            },
            {
                "camera_id": "gate-2",
                "state": "offline",
                "frames_analysed": 0,
                "people_now": None,
                "person_tracks_total": None,
                "crowd_count": None,
                "face_tracks_closed": 0,
                "alerts": 0,
                "dropped_frames": 0,
                "tamper": [],
                "last_error": "connection refused",
            },
        ]


def test_view_fits_80_columns_with_counts_and_notes(monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil.system import embedded

    monkeypatch.setattr(embedded, "EmbeddedSystem", FakeSystem)
    console = Console(width=80, record=True)
    console.print(run_cmd._table(FakeSystem(), "http://127.0.0.1:8080", time.monotonic() - 5))
    text = console.export_text()
    assert all(len(line) <= 80 for line in text.splitlines())
    row = next(line for line in text.splitlines() if line.strip().startswith("demo-street"))
    assert row.split()[1:] == ["online", "393", "4", "133", "6.5", "14", "9", "2"]
    gate = next(line for line in text.splitlines() if line.strip().startswith("gate-2 "))
    assert gate.split()[2:5] == ["0", "-", "-"]  # no people stage: a dash, not a zero
    assert "demo-street: tamper: frozen" in text and "gate-2: connection refused" in text
