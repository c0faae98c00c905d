"""The password policy: the user's name, repetition and common passwords are refused (422 with a
message that says which rule), wherever a password is set; random and passphrase passwords pass."""

from __future__ import annotations

import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.api_env import Env
from vigil.core.domain import Role
from vigil.errors import ValidationError
from vigil.governance.accounts import USERNAME_PATTERN
from vigil.governance.passwords import check_password, common_passwords
from vigil.system.demo_world import _user

USERNAMES = st.from_regex(USERNAME_PATTERN, fullmatch=True)


@pytest.mark.parametrize(
    ("password", "says"),
    [
        ("aaaaaaaaaaaa", "too repetitive"),
        ("abcabcabcabc", "too repetitive"),
        ("newbienewbie", "mostly the user's name"),
        ("N3wbie2024!!", "mostly the user's name"),
        ("eibwenEIBWEN", "mostly the user's name"),
        ("password1234", "most common passwords"),
        ("iloveyou2025", "most common passwords"),
        ("qwertyuiopasdf", "too easy to guess"),
        ("short", "at least 12 characters"),
    ],
)
def test_api_refuses_weak_passwords_with_a_clear_message(
    env: Env, password: str, says: str
) -> None:
    r = env.client(Role.ADMIN).post(
        "/api/v1/users",
        json={"username": "newbie", "password": password, "roles": ["auditor"]},
    )
    assert r.status_code == 422, r.text
    assert says in r.json()["error"]["message"] or says in r.text
    assert all(u.username != "newbie" for u in env.repo.list_users())


@settings(max_examples=200, deadline=None)
@given(username=USERNAMES, times=st.integers(min_value=1, max_value=12))
def test_the_username_repeated_is_always_refused(username: str, times: int) -> None:
    with pytest.raises(ValidationError):
        check_password(username * times, username=username)


@settings(max_examples=100, deadline=None)
@given(
    username=USERNAMES,
    times=st.integers(min_value=2, max_value=8),
    suffix=st.sampled_from(["", "1", "!", "2024"]),
)
def test_the_username_in_capitals_or_reversed_with_a_suffix_is_refused(
    username: str, times: int, suffix: str
) -> None:
    for form in (username.upper(), username[::-1], username.capitalize()):
        with pytest.raises(ValidationError):
            check_password(form * times + suffix, username=username)


def test_the_common_list_comes_from_the_installed_package() -> None:
    common = common_passwords()
    assert len(common) > 10_000 and "password" in common and "letmein" in common


@pytest.mark.parametrize(
    "password",
    ["correct horse battery", "tide pool lantern 42", "Xk3_u9ZpQw1L-aR7"],
)
def test_good_passwords_pass(password: str) -> None:
    check_password(password, username="newbie", display_name="New Bie")


def test_random_demo_passwords_always_pass() -> None:
    for _ in range(200):  # what the demo hands out: secrets.token_urlsafe(12)
        check_password(secrets.token_urlsafe(12), username="demo-investigator")


def test_demo_users_are_still_created(env: Env) -> None:
    actor, password = _user(env.svc, Role.INVESTIGATOR)
    assert password is not None and env.repo.get_user(actor.id).username == "demo-investigator"
