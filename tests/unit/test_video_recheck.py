"""The periodic re-check of an open live video stream (``vigil.api.routes.video``).

The rule is an invariant: a stream may go on exactly when its credential is still valid, the
account still holds a viewer role, and every camera of the stream is still in its assignment.
Property-tested over roles, assignments and the cameras a stream shows; the credential lookup
is a stand-in for :meth:`AccountService.resolve_many` (this tests the rule, not the database:
``tests/integration/test_console_live.py`` revokes real sessions mid-stream).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from vigil.api.live import MAX_CHECK_FAILURES
from vigil.api.routes.video import VIEWERS, _Recheck, still_allowed
from vigil.core.domain import Role, UserRow
from vigil.governance.accounts import Principal

CAMERAS = ["a", "b", "c", "d"]


class _Accounts:
    def __init__(self, current: dict[str, Principal] | Exception) -> None:
        self.current = current
        self.calls = 0

    def resolve_many(self, digests: set[str]) -> dict[str, Principal]:
        self.calls += 1
        if isinstance(self.current, Exception):
            raise self.current
        return {d: p for d, p in self.current.items() if d in digests}


def _request(accounts: _Accounts) -> Any:
    return SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(services=SimpleNamespace(accounts=accounts)))
    )


def _principal(roles: tuple[Role, ...], cameras: tuple[str, ...] | None) -> Principal:
    user = UserRow("u1", "op", "x", datetime.now(UTC), roles=roles, cameras=cameras)
    return Principal(user, "cookie", "t" * 64)


@given(
    roles=st.sets(st.sampled_from(list(Role)), max_size=3),
    assigned=st.none() | st.sets(st.sampled_from(CAMERAS)),
    shown=st.sets(st.sampled_from(CAMERAS), min_size=1),
    valid=st.booleans(),
)
def test_a_stream_goes_on_exactly_while_access_remains(
    roles: set[Role], assigned: set[str] | None, shown: set[str], valid: bool
) -> None:
    before = _principal((Role.OPERATOR,), None)
    now = _principal(tuple(roles), None if assigned is None else tuple(sorted(assigned)))
    accounts = _Accounts({before.token_hash: now} if valid else {})
    why = still_allowed(_request(accounts), before, sorted(shown))
    allowed = valid and bool(roles & set(VIEWERS)) and (assigned is None or shown <= assigned)
    assert (why is None) == allowed
    if not valid:
        assert why == "credential revoked or expired"
    elif why is not None and roles & set(VIEWERS):
        assert why.startswith("camera no longer assigned: ")
        assert set(why.split(": ")[1].split(", ")) == shown - (assigned or set())


def test_a_recheck_that_keeps_failing_ends_the_stream_and_reads_once_per_interval() -> None:
    p = _principal((Role.OPERATOR,), None)
    broken = _Accounts(RuntimeError("database down"))

    async def run() -> list[str | None]:
        check = _Recheck(_request(broken), p, ["a"], 0.0)
        return [await check.due() for _ in range(MAX_CHECK_FAILURES)]

    answers = asyncio.run(run())
    assert answers[:-1] == [None] * (MAX_CHECK_FAILURES - 1)
    assert answers[-1] == "access cannot be re-checked"

    fine = _Accounts({p.token_hash: p})

    async def slow() -> list[str | None]:
        check = _Recheck(_request(fine), p, ["a"], 3600.0)
        return [await check.due() for _ in range(5)]

    assert asyncio.run(slow()) == [None] * 5
    assert fine.calls == 0  # not due within the interval: no database read
