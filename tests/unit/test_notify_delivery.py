"""The delivery record of a notification sink (vigil.notify.delivery over a real SQLite
database): one claim at a time per alert, delivered alerts skipped, old rows pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.api_env import migrated_db
from vigil.notify.delivery import KEEP, DeliveryGuard, sink_name
from vigil.storage.deliveries import DeliveryLog


def test_claims_records_and_pruning(tmp_path: Path) -> None:
    db = migrated_db(tmp_path)
    try:
        log = DeliveryLog(db)
        now = [datetime(2026, 12, 4, 12, 0, tzinfo=UTC)]
        guard = DeliveryGuard(
            sink_name("webhook", "https://h.example.org/x"), log, clock=lambda: now[0]
        )
        assert "h.example.org" not in guard.sink  # the target (maybe with a token) is hashed
        assert guard.claim("a1")
        assert not guard.claim("a1")  # under way in another thread
        guard.release("a1")  # that attempt failed: a later one may try
        assert guard.claim("a1")
        guard.done("a1")
        assert not guard.claim("a1")  # delivered
        other = DeliveryGuard(sink_name("webhook", "https://other.example.org/x"), log)
        assert other.claim("a1")  # another target has its own record
        assert log.delivered(guard.sink, ["a1", "a2"]) == {"a1"}
        now[0] += KEEP + timedelta(hours=2)
        guard.prune()
        assert log.delivered(guard.sink, ["a1"]) == set()
    finally:
        db.dispose()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=30))
def test_in_memory_each_alert_is_sent_once(ids: list[str]) -> None:
    """Any sequence of announcements (repeats from restarts and replays): each id is claimed
    exactly once when every claim is delivered."""
    guard = DeliveryGuard("mqtt:test", None)
    sent = []
    for alert_id in ids:
        if guard.claim(alert_id):
            sent.append(alert_id)
            # without a database nothing is recorded: keep the claim, as an unacknowledged one
    assert sorted(sent) == sorted(set(ids))
    assert guard.skipped == len(ids) - len(set(ids))
