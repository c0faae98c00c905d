"""Login defences under attack: parallel guesses, spoofed forwarding headers, many clients.

Each test drives the real API (or the real storage) over SQLite and PostgreSQL. What must hold:
at most ``login_max_failures`` passwords are checked per (account, client) however many guesses
arrive at once; the back-off doubles and stops at its cap; an attacker's client being throttled
never keeps the owner out from another client; ``X-Forwarded-For`` counts only from a configured
proxy; and the back-off state stays bounded.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError as PydanticValidationError

from tests.support.api_env import PASSWORD, Env, build_env, config
from tests.support.served import served
from tests.support.storage import ENGINES, FAST, fresh_sqlite, truncate_all
from vigil.api.clients import client_address, proxy_networks
from vigil.config.settings import ApiConfig
from vigil.core.domain import Role
from vigil.governance.accounts import LoginPolicy
from vigil.storage import Database, Repository

LOGIN = "/api/v1/auth/login"
WRONG = "not the password at all"


def _database(engine: str, request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """An empty migrated database on ``engine`` (the fixtures of tests.support.storage)."""
    if engine == "sqlite":
        return fresh_sqlite(request.getfixturevalue("sqlite_template"), tmp_path)
    database = Database(request.getfixturevalue("pg_url"), FAST)
    truncate_all(database)
    return database


@pytest.fixture(params=ENGINES)
def engine_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Env]:
    """The API over SQLite and over PostgreSQL, with the per-client window out of the way
    (so the per-account back-off is what answers)."""
    db = _database(request.param, request, tmp_path)
    env = build_env(tmp_path, cfg=config(login_rate_per_min=10_000), db=db)
    yield env
    db.dispose()


def _client(env: Env, peer: str) -> TestClient:
    return TestClient(env.app, base_url="https://testserver", client=(peer, 40000))


def _login(c: TestClient, password: str, user: str = "operator", **headers: str) -> Any:
    return c.post(LOGIN, json={"username": user, "password": password}, headers=headers)


def test_parallel_wrong_logins_check_exactly_the_configured_count(engine_env: Env) -> None:
    env, attacker = engine_env, _client(engine_env, "203.0.113.9")
    start = threading.Barrier(50)

    def guess(_: int) -> int:
        start.wait()
        return int(_login(attacker, WRONG).status_code)

    with ThreadPoolExecutor(50) as pool:
        codes = Counter(pool.map(guess, range(50)))
    assert codes == {401: 5, 429: 45}, codes  # exactly login_max_failures passwords checked
    user_id = env.users[Role.OPERATOR]
    assert env.repo.login_throttle(user_id)["203.0.113.9"][0] == 5
    assert env.repo.get_user(user_id).failed_logins == 5
    refused = _login(attacker, PASSWORD)  # the right password too, from the throttled client
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    owner = _login(_client(env, "198.51.100.20"), PASSWORD)
    assert owner.status_code == 200, owner.text  # the owner, elsewhere, is not locked out
    assert env.repo.get_user(user_id).failed_logins == 0
    assert _login(attacker, PASSWORD).status_code == 429  # success elsewhere frees nobody else


@pytest.mark.parametrize("engine", ENGINES)
def test_two_processes_charging_one_pair_never_lose_a_count(
    engine: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Two Database objects (as two API processes would have) each with 20 threads: the
    read-modify-write of old lost updates; the counting UPDATE ... RETURNING does not."""
    first = _database(engine, request, tmp_path)
    second = Database(first.url, FAST)
    env = build_env(tmp_path, db=first)
    user_id = env.users[Role.OPERATOR]
    now = datetime.now(UTC)
    policy = LoginPolicy(max_failures=7)
    repos = [Repository(first), Repository(second)]
    go = threading.Barrier(40)

    def attempt(i: int) -> bool:
        go.wait()
        return repos[i % 2].charge_login(user_id, "c", now, policy.block_for) is None

    try:
        with ThreadPoolExecutor(40) as pool:
            allowed = sum(pool.map(attempt, range(40)))
        assert allowed == 7
        attempts, blocked = env.repo.login_throttle(user_id)["c"]
        assert attempts == 7 and blocked == now + policy.lock
    finally:
        second.dispose()
        first.dispose()


def test_backoff_doubles_per_failure_and_stops_at_the_cap(env: Env) -> None:
    env.svc.accounts.login = LoginPolicy(
        max_failures=2, lock=timedelta(seconds=60), lock_max=timedelta(seconds=200)
    )
    t = [datetime.now(UTC)]
    env.svc.accounts.clock = lambda: t[0]
    c = env.client()
    waits = []
    for _ in range(2):
        assert _login(c, WRONG).status_code == 401
    for _ in range(4):
        r = _login(c, WRONG)
        assert r.status_code == 429
        waits.append(int(r.headers["Retry-After"]))
        t[0] += timedelta(seconds=waits[-1])
        assert _login(c, WRONG).status_code == 401  # one guess per back-off period
    assert waits == [61, 121, 201, 201]  # 60, 120, then capped at 200 (+1 s rounding)


def test_many_clients_put_the_account_under_attack_without_locking_the_owner(env: Env) -> None:
    env.svc.accounts.login = LoginPolicy(max_failures=3, account_ceiling=6)
    for peer in ("192.0.2.1", "192.0.2.2"):
        for _ in range(3):
            assert _login(_client(env, peer), WRONG).status_code == 401
    fresh = _client(env, "192.0.2.3")
    assert _login(fresh, WRONG).status_code == 401
    assert _login(fresh, WRONG).status_code == 429  # under attack: one try per client
    assert _login(_client(env, "192.0.2.4"), PASSWORD).status_code == 200  # owner still gets in


def test_forwarded_for_is_ignored_from_an_untrusted_peer(env: Env) -> None:
    """Default config (no trusted proxies): a fresh X-Forwarded-For per guess buys nothing."""
    c = _client(env, "203.0.113.50")
    for i in range(5):
        assert _login(c, WRONG, **{"X-Forwarded-For": f"198.51.100.{i}"}).status_code == 401
    r = _login(c, PASSWORD, **{"X-Forwarded-For": "198.51.100.99"})
    assert r.status_code == 429
    assert set(env.repo.login_throttle(env.users[Role.OPERATOR])) == {"203.0.113.50"}


def test_forwarded_for_is_honoured_from_a_trusted_proxy(tmp_path: Path) -> None:
    env = build_env(tmp_path, cfg=config(trusted_proxies=["10.0.0.0/8"]))
    try:
        proxy = _client(env, "10.1.2.3")
        for _ in range(5):
            assert _login(proxy, WRONG, **{"X-Forwarded-For": "198.51.100.7"}).status_code == 401
        # the attacker prepends a fake hop: the proxy's own entry (rightmost) still counts
        spoof = {"X-Forwarded-For": "192.0.2.200, 198.51.100.7"}
        assert _login(proxy, PASSWORD, **spoof).status_code == 429
        owner = _login(proxy, PASSWORD, **{"X-Forwarded-For": "198.51.100.8"})
        assert owner.status_code == 200, owner.text
        assert set(env.repo.login_throttle(env.users[Role.OPERATOR])) == {"198.51.100.7"}
    finally:
        env.repo.db.dispose()


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("10.0.0.1", None, "10.0.0.1"),
        ("10.0.0.1", "1.2.3.4", "1.2.3.4"),
        ("10.0.0.1", "1.2.3.4, 10.0.0.9", "1.2.3.4"),  # chained trusted proxies are skipped
        ("10.0.0.1", "10.0.0.8, 10.0.0.9", "10.0.0.8"),  # all trusted: the leftmost
        ("10.0.0.1", "not-an-ip", "10.0.0.1"),
        ("8.8.8.8", "1.2.3.4", "8.8.8.8"),  # untrusted peer: header ignored
        ("2001:db8:1:2:aaaa::1", None, "2001:db8:1:2::/64"),  # an IPv6 host counts as its /64
        ("::ffff:192.0.2.1", None, "192.0.2.1"),
        ("testclient", "1.2.3.4", "testclient"),
    ],
)
def test_client_address(peer: str, header: str | None, expected: str) -> None:
    assert client_address(peer, header, proxy_networks(("10.0.0.0/8",))) == expected


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    with pytest.raises(PydanticValidationError, match="not an IP address or CIDR"):
        ApiConfig.model_validate({"trusted_proxies": ["proxy.example.org"]})
    with pytest.raises(PydanticValidationError, match="login_lock_max_s"):
        ApiConfig.model_validate({"login_lock_s": 600, "login_lock_max_s": 60})


def test_back_off_state_is_forgotten_after_success_and_when_idle(env: Env) -> None:
    user_id = env.users[Role.OPERATOR]
    for i in range(30):  # 30 clients with one failure each
        assert _login(_client(env, f"192.0.2.{i + 1}"), WRONG).status_code == 401
    assert _login(_client(env, "192.0.2.1"), PASSWORD).status_code == 200
    assert len(env.repo.login_throttle(user_id)) == 29  # the successful pair is gone
    later = datetime.now(UTC) + env.svc.accounts.login.forget + timedelta(minutes=1)
    assert env.repo.prune_login_throttle(later - env.svc.accounts.login.forget, later) == 29
    assert env.repo.login_throttle(user_id) == {}


def test_a_served_api_ignores_forwarded_for_even_from_loopback(env: Env) -> None:
    """Through uvicorn as ``vigil run`` serves it: uvicorn's own proxy handling (on by default
    for 127.0.0.1) would let a local caller rotate X-Forwarded-For per guess."""
    import httpx

    with served(env.app) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
        codes = []
        for i in range(6):
            r = http.post(
                LOGIN,
                json={"username": "operator", "password": WRONG},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            )
            codes.append(r.status_code)
        assert codes == [401] * 5 + [429]
        assert set(env.repo.login_throttle(env.users[Role.OPERATOR])) == {"127.0.0.1"}
