"""Plate and face searches are rate-limited per user across API processes: 429 with Retry-After
through the one error envelope (issue 24: repeated searches slowed every other call)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.support.api_env import PASSWORD, build_env, config, jpeg
from vigil.api.app import create_app
from vigil.core.domain import Role
from vigil.system.assembly import governance_services


def test_plate_and_face_searches_answer_429_past_the_per_user_rate(tmp_path: Path) -> None:
    cfg = config(plate_search_rate_per_min=3, face_search_rate_per_min=1)
    env = build_env(tmp_path, cfg=cfg)
    try:
        # A second API process over the same database: its own services, the same counters.
        other = governance_services(
            env.repo,
            env.svc.media,
            env.svc.audit,
            config=cfg,
            accounts=env.svc.accounts,
            watchlist_factory=env.svc.watchlist_factory,
            archive=env.svc.archive,
        )
        apps = [env.app, create_app(cfg, services=other, start_background=False)]
        clients = []
        for app in apps:
            c = TestClient(app, base_url="https://testserver")
            c.headers["Authorization"] = f"Bearer {env.tokens[Role.INVESTIGATOR]}"
            clients.append(c)
        body = {"pattern": "ABC123", "reason": "rate test"}
        codes = [clients[i % 2].post("/api/v1/searches/plates", json=body) for i in range(4)]
        assert [r.status_code for r in codes] == [200, 200, 200, 429], codes[-1].text
        refused = codes[-1]
        assert 1 <= int(refused.headers["Retry-After"]) <= 61
        assert refused.json()["error"]["code"] == "rate_limited", refused.json()
        # Another investigator has a budget of their own.
        user = env.svc.accounts.create_user("investigator-b", PASSWORD, [Role.INVESTIGATOR])
        other_person = env.client()
        other_person.headers["Authorization"] = f"Bearer {env.svc.accounts.start_session(user)[0]}"
        assert other_person.post("/api/v1/searches/plates", json=body).status_code == 200
        # Face searches: one a minute here; the second is refused before the archive is read.
        form = {"authorisation_id": "no-such-auth", "reason": "rate test"}
        photo = {"photo": ("p.jpg", jpeg(), "image/jpeg")}
        first = clients[0].post("/api/v1/searches/faces", data=form, files=photo)
        assert first.status_code != 429, first.text
        second = clients[1].post("/api/v1/searches/faces", data=form, files=photo)
        assert second.status_code == 429 and int(second.headers["Retry-After"]) >= 1
    finally:
        env.repo.db.dispose()
