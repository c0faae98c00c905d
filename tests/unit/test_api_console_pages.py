"""The routes behind the console's pages: bad input gets the one error envelope and changes
nothing; the crowd chart's buckets; audit search filters and pages; watchlist expiry and the
photo check (with the tests' fake face pipeline: a red top-left pixel means no face)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.api_env import Env, jpeg
from vigil.api.routes.console_data import buckets
from vigil.core.domain import Role
from vigil.core.records import CrowdSample

T0 = datetime(2026, 12, 1, tzinfo=UTC)


@given(st.lists(st.tuples(st.integers(0, 3599), st.floats(0, 500)), max_size=60))
def test_buckets_keep_every_sample_once_and_bound_the_mean(rows: list[tuple[int, float]]) -> None:
    samples = [(T0 + timedelta(seconds=s), c) for s, c in rows]
    points = buckets(samples, T0, 60)
    assert sum(p.samples for p in points) == len(rows)
    assert [p.at for p in points] == sorted({p.at for p in points})
    for p in points:
        assert p.mean <= p.max + 1e-9 and p.max >= 0


def _error(r: object, status: int) -> str:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    return str(body["error"]["code"])


@pytest.mark.parametrize(
    "path",
    [
        "/cameras/cam-1/crowd/series?window=2d",
        "/cameras/cam-1/crowd/series?until=2026-12-01T00:00:00",  # no time zone
        "/cameras/cam-1/crowd/series?zone=" + "z" * 101,
        "/audit/search?before_seq=0",
        "/audit/search?limit=201",
        "/audit/search?action=" + "a" * 201,
        "/audit/search?since=yesterday",
        "/reports/activity?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z",
        "/video/wall?cameras=cam-1,,cam-2",
        "/video/wall?cameras=" + ",".join(f"c{i}" for i in range(17)),
        "/video/wall?cameras=../x",
        "/video/wall",
    ],
)
def test_bad_queries_are_refused_with_the_envelope(env: Env, path: str) -> None:
    role = Role.AUDITOR if path.startswith(("/audit", "/reports")) else Role.SUPERVISOR
    r = env.client(role).get("/api/v1" + path)
    assert _error(r, 422)


def test_crowd_series_buckets_the_stored_samples(env: Env) -> None:
    now = datetime.now(UTC)
    env.repo.add_crowd_samples(
        [CrowdSample("cam-1", now - timedelta(seconds=s), float(s % 7), "boxes") for s in range(90)]
    )
    r = env.client(Role.OPERATOR).get("/api/v1/cameras/cam-1/crowd/series?window=1h")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert sum(p["samples"] for p in doc["points"]) == 90
    assert doc["bucket_s"] == 60 and doc["overcrowd"] > 0
    assert env.client(Role.OPERATOR).get("/api/v1/cameras/nope/crowd/series").status_code == 404


def test_live_video_of_a_camera_this_process_does_not_run_is_404(env: Env) -> None:
    c = env.client(Role.OPERATOR)
    assert c.get("/api/v1/video/cameras").json() == []
    for path in ("cameras/cam-1/mjpeg", "cameras/cam-1/still", "wall?cameras=cam-1,cam-2"):
        assert _error(c.get(f"/api/v1/video/{path}"), 404) == "not_found"
    assert not [e for e in env.repo.audit_entries() if e.action.startswith("live_video")]


def test_audit_search_filters_by_actor_name_and_action_prefix_and_pages(env: Env) -> None:
    for i in range(5):
        env.svc.audit.append(env.users[Role.SUPERVISOR], "case.open", f"case:c{i}", "test", [])
    c = env.client(Role.AUDITOR)
    r = c.get("/api/v1/audit/search", params={"actor": "supervisor", "action": "case.", "limit": 2})
    assert r.status_code == 200, r.text
    page = r.json()
    assert [e["target"] for e in page["items"]] == ["case:c4", "case:c3"]
    assert {e["actor_name"] for e in page["items"]} == {"supervisor"}
    older = c.get(
        "/api/v1/audit/search",
        params={"action": "case.", "limit": 2, "before_seq": page["next_before_seq"]},
    ).json()
    assert [e["target"] for e in older["items"]] == ["case:c2", "case:c1"]
    assert (
        c.get("/api/v1/audit/search", params={"target": "case:c0"}).json()["items"][0]["target"]
        == "case:c0"
    )
    # "%" and "_" are literal in a prefix, not wildcards
    assert c.get("/api/v1/audit/search", params={"action": "%"}).json()["items"] == []
    names = {a["username"] for a in c.get("/api/v1/audit/actors").json()}
    assert {"supervisor", "auditor"} <= names


def _watchlist(env: Env) -> str:
    r = env.client(Role.SUPERVISOR).post(
        "/api/v1/watchlists",
        json={
            "name": "MP-9",
            "category": "missing_or_vulnerable",
            "reason": "report MP-9",
            "expires_at": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_photo_check_says_why_and_stores_nothing(env: Env) -> None:
    c = env.client(Role.SUPERVISOR)
    before = env.repo.audit_entries()
    url = "/api/v1/watchlists/check-photo"
    good = c.post(url, files={"photo": ("a.jpg", jpeg(), "image/jpeg")})
    assert good.status_code == 200, good.text
    assert good.json()["ok"] is True and good.json()["faces"] == 1
    red = jpeg((255, 0, 0))
    bad = c.post(url, files={"photo": ("b.jpg", red, "image/jpeg")})
    assert bad.json() == {**bad.json(), "ok": False, "faces": 0, "reason": "no face found"}
    assert env.repo.audit_entries() == before  # nothing kept, nothing to audit
    assert not list((env.tmp / "media").rglob("*.jpg"))


@pytest.mark.parametrize(
    ("files", "status"),
    [
        ({"photo": ("a.txt", b"hello", "text/plain")}, 415),
        ({"photo": ("a.jpg", b"not a jpeg", "image/jpeg")}, 400),
        ({"photo": ("a.jpg", b"", "image/jpeg")}, 400),
        ({"other": ("a.jpg", jpeg(), "image/jpeg")}, 422),
    ],
)
def test_photo_check_refuses_bad_uploads(
    env: Env, files: dict[str, tuple[str, bytes, str]], status: int
) -> None:
    r = env.client(Role.SUPERVISOR).post("/api/v1/watchlists/check-photo", files=files)
    _error(r, status)


def test_expiring_a_watchlist_is_audited_and_refused_twice(env: Env) -> None:
    wl = _watchlist(env)
    c = env.client(Role.SUPERVISOR)
    _error(c.post(f"/api/v1/watchlists/{wl}/expire", json={}), 422)  # a reason is required
    r = c.post(f"/api/v1/watchlists/{wl}/expire", json={"reason": "found safe"})
    assert r.status_code == 200, r.text
    assert env.repo.get_watchlist(wl).expires_at <= datetime.now(UTC)
    entries = [e for e in env.repo.audit_entries() if e.action == "watchlist.expire"]
    assert [(e.target, e.reason) for e in entries] == [(f"watchlist:{wl}", "found safe")]
    assert _error(c.post(f"/api/v1/watchlists/{wl}/expire", json={"reason": "again"}), 403)
    assert _error(c.post("/api/v1/watchlists/nope/expire", json={"reason": "x"}), 404)


def test_watchlist_details_are_audited_views_without_images(env: Env) -> None:
    wl = _watchlist(env)
    r = env.client(Role.AUTHORISING_OFFICER).get(f"/api/v1/watchlists/{wl}/details")
    assert r.status_code == 200, r.text
    assert r.json()["names"][env.users[Role.SUPERVISOR]] == "supervisor"
    assert "image_key" not in r.text and "vector" not in r.text
    views = [e for e in env.repo.audit_entries() if e.action == "watchlist.view"]
    assert [e.actor for e in views] == [env.users[Role.AUTHORISING_OFFICER]]
