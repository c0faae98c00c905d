"""The administrative and governance half of the repository: cameras, accounts, watchlists,
subjects, templates, deployments, verifications and cases.

The policy (who may approve a deployment, when an alert becomes actionable) lives in the
governance layer; this layer stores and returns typed rows and enforces only what the schema
guarantees for everyone (one decision per user per alert, unique usernames, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Row, Table, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from vigil.core.domain import (
    CameraRow,
    CaseLink,
    CaseRow,
    Decision,
    DeploymentRow,
    DeploymentState,
    Role,
    SessionRow,
    SubjectRow,
    TemplateRow,
    UserRow,
    VerificationRow,
    WatchlistRow,
)
from vigil.errors import ConflictError, NotFoundError
from vigil.logs import redact
from vigil.storage import schema as t
from vigil.storage.database import Database
from vigil.storage.repository import insert_ignore
from vigil.storage.types import pack_vector, unpack_vector


def _split(text: str) -> tuple[str, ...]:
    return tuple(p for p in text.split(",") if p)


def _fields(row: Any, names: Sequence[str]) -> dict[str, Any]:
    return {n: getattr(row, n) for n in names}


def _one(c: Connection, table: Any, key: str, name: str) -> Row[Any]:
    row = c.execute(select(table).where(next(iter(table.primary_key.columns)) == key)).first()
    if row is None:
        raise NotFoundError(f"no {name} {key!r}")
    return row


class AdminRepository:
    """Cameras, users, sessions, watchlists, subjects, templates, deployments, cases."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- cameras --------------------------------------------------------------------------------

    def upsert_camera(self, cam: CameraRow) -> None:
        """Create or replace a camera row (from the config file or the admin API).

        The source URL is stored redacted (``rtsp://***@host/path``): the running system takes
        the real URL from the config file, never from this table, so the table only has to say
        which device a camera is, and a database dump or backup then holds no camera password.
        """
        values = _fields(cam, [c.name for c in t.cameras.columns if c.name != "analytics"])
        values["analytics"] = ",".join(cam.analytics)
        values["source_url"] = redact(cam.source_url)

        def run(c: Connection) -> None:
            if not insert_ignore(c, t.cameras, [values]):
                c.execute(update(t.cameras).where(t.cameras.c.id == cam.id).values(**values))

        self.db.write(run)

    def set_camera_enabled(self, camera_id: str, enabled: bool, at: datetime) -> bool:
        """Switch a camera on or off; ``True`` if the flag changed, ``False`` if it already had
        that value. :class:`NotFoundError` for an unknown camera.

        The update is conditional on the old value, so of two callers racing to set the same
        state exactly one sees a change (and writes the one audit entry), whatever the isolation
        level.
        """

        def run(c: Connection) -> bool:
            _one(c, t.cameras, camera_id, "camera")
            done = c.execute(
                update(t.cameras)
                .where(t.cameras.c.id == camera_id, t.cameras.c.enabled != enabled)
                .values(enabled=enabled, updated_at=at)
            )
            return bool(done.rowcount)

        return self.db.write(run)

    def get_camera(self, camera_id: str) -> CameraRow:
        with self.db.read() as c:
            return self._camera(_one(c, t.cameras, camera_id, "camera"))

    def list_cameras(self) -> list[CameraRow]:
        with self.db.read() as c:
            return [self._camera(r) for r in c.execute(select(t.cameras).order_by(t.cameras.c.id))]

    @staticmethod
    def _camera(r: Row[Any]) -> CameraRow:
        names = [c.name for c in t.cameras.columns if c.name != "analytics"]
        return CameraRow(**_fields(r, names), analytics=_split(r.analytics))

    # -- users and sessions ---------------------------------------------------------------------

    def add_user(self, user: UserRow) -> None:
        """Create an account; :class:`ConflictError` if the id or username is taken."""
        values = _fields(user, [c.name for c in t.users.columns if c.name not in _USER_LISTS])
        values["roles"] = ",".join(r.value for r in user.roles)
        values["cameras"] = _join_cameras(user.cameras)

        def run(c: Connection) -> None:
            existing = c.execute(
                select(t.users.c.id).where(t.users.c.username == user.username)
            ).scalar()
            if existing is not None and existing != user.id:
                raise ConflictError(f"username {user.username!r} is taken")
            insert_ignore(c, t.users, [values])

        self.db.write(run)

    def get_user(self, user_id: str | None = None, *, username: str | None = None) -> UserRow:
        q = select(t.users)
        q = q.where(t.users.c.id == user_id) if user_id else q.where(t.users.c.username == username)
        with self.db.read() as c:
            row = c.execute(q).first()
        if row is None:
            raise NotFoundError(f"no user {user_id or username!r}")
        return _user(row)

    def update_user(self, user_id: str, **values: Any) -> None:
        """Set columns of a user (e.g. ``password_hash``, ``failed_logins``, ``locked_until``,
        ``cameras``: a sequence of camera ids, or ``None`` for every camera)."""
        if "roles" in values:
            values["roles"] = ",".join(Role(r).value for r in values["roles"])
        if "cameras" in values:
            values["cameras"] = _join_cameras(values["cameras"])
        self.db.write(
            lambda c: c.execute(update(t.users).where(t.users.c.id == user_id).values(**values))
        )

    def add_session(self, session: SessionRow) -> None:
        values = _fields(session, [c.name for c in t.sessions.columns if c.name != "scopes"])
        values["scopes"] = ",".join(session.scopes)
        self.db.write(lambda c: insert_ignore(c, t.sessions, [values]))

    def get_session(self, token_hash: str) -> SessionRow:
        with self.db.read() as c:
            r = _one(c, t.sessions, token_hash, "session")
        names = [c.name for c in t.sessions.columns if c.name != "scopes"]
        return SessionRow(**_fields(r, names), scopes=_split(r.scopes))

    def sessions_with_users(self, token_hashes: Sequence[str]) -> list[tuple[SessionRow, UserRow]]:
        """The sessions (or API keys) of ``token_hashes`` that exist, each with its account, in
        one query per 500 hashes (the live-connection check re-reads every open socket's
        credential this way, so its cost does not grow with a query per socket)."""
        cols = [c.label(f"s_{c.name}") for c in t.sessions.columns]
        cols += [c.label(f"u_{c.name}") for c in t.users.columns]  # both tables have created_at
        found: list[tuple[SessionRow, UserRow]] = []
        wanted = sorted(set(token_hashes))
        with self.db.read() as c:
            for start in range(0, len(wanted), 500):
                q = (
                    select(*cols)
                    .join_from(t.sessions, t.users, t.users.c.id == t.sessions.c.user_id)
                    .where(t.sessions.c.token_hash.in_(wanted[start : start + 500]))
                )
                for r in c.execute(q).mappings():
                    s = {k[2:]: v for k, v in r.items() if k.startswith("s_")}
                    u = SimpleNamespace(**{k[2:]: v for k, v in r.items() if k.startswith("u_")})
                    scopes = _split(s.pop("scopes"))
                    found.append((SessionRow(**s, scopes=scopes), _user(u)))
        return found

    def list_users(self) -> list[UserRow]:
        """Every account, by username (the accounts layer never returns the hashes)."""
        with self.db.read() as c:
            rows = c.execute(select(t.users).order_by(t.users.c.username)).all()
        return [_user(r) for r in rows]

    def list_sessions(self, user_id: str, *, kind: str | None = None) -> list[SessionRow]:
        """A user's sessions or API keys (revoked and expired ones included), oldest first."""
        col = t.sessions.c
        q = select(t.sessions).where(col.user_id == user_id).order_by(col.created_at)
        if kind is not None:
            q = q.where(col.kind == kind)
        names = [c.name for c in t.sessions.columns if c.name != "scopes"]
        with self.db.read() as c:
            rows = c.execute(q).all()
        return [SessionRow(**_fields(r, names), scopes=_split(r.scopes)) for r in rows]

    def revoke_user_sessions(self, user_id: str, at: datetime) -> int:
        """Revoke every live session and API key of a user (on disable); returns how many."""
        col = t.sessions.c
        return int(
            self.db.write(
                lambda c: (
                    c.execute(
                        update(t.sessions)
                        .where(col.user_id == user_id, col.revoked_at.is_(None))
                        .values(revoked_at=at)
                    ).rowcount
                )
            )
        )

    def revoke_session(self, token_hash: str, at: datetime) -> None:
        col = t.sessions.c
        self.db.write(
            lambda c: c.execute(
                update(t.sessions)
                .where(col.token_hash == token_hash, col.revoked_at.is_(None))
                .values(revoked_at=at)
            )
        )

    # -- login back-off -------------------------------------------------------------------------

    def charge_login(
        self,
        user_id: str,
        client: str,
        now: datetime,
        block_for: Callable[[int], timedelta | None],
    ) -> datetime | None:
        """Charge one login attempt to ``(user_id, client)`` before its password is checked.

        Returns ``None`` when the attempt may go on, or the time until which the pair is blocked
        (nothing charged). The count goes up in the database (``failures = failures + 1 ...
        RETURNING``) in the same statement that checks the block, so parallel attempts each get
        their own number and at most ``k`` of them reach the password check once the policy
        ``block_for(n)`` (the block after the ``n``-th attempt, or ``None``) starts blocking at
        ``k``. Not idempotent: a write re-run after a lost connection may count one attempt twice
        (harmless: it errs towards throttling).
        """
        col = t.login_throttle.c
        key = (col.user_id == user_id, col.client == client)
        open_ = or_(col.blocked_until.is_(None), col.blocked_until <= now)

        def run(c: Connection) -> datetime | None:
            for _ in range(3):
                n = c.execute(
                    update(t.login_throttle)
                    .where(*key, open_)
                    .values(failures=col.failures + 1, last_attempt_at=now)
                    .returning(col.failures)
                ).scalar()
                if n is None:
                    blocked = c.execute(select(col.blocked_until).where(*key)).scalar()
                    if blocked is not None:
                        return blocked  # type: ignore[no-any-return]
                    first = {"user_id": user_id, "client": client, "last_attempt_at": now}
                    if not insert_ignore(c, t.login_throttle, [{**first, "failures": 1}]):
                        continue  # a parallel first attempt created the row: count again
                    n = 1
                wait = block_for(int(n))
                if wait is not None:
                    c.execute(update(t.login_throttle).where(*key).values(blocked_until=now + wait))
                return None
            raise ConflictError("login attempts changed too fast to count; try again")

        return self.db.write(run)

    def count_login_attempt(self, client: str, now: datetime) -> float:
        """Count one login attempt from ``client`` and return its rate over the last 60 s.

        Refused attempts count too, so hammering keeps a client refused (see
        :meth:`count_per_minute` for how the rate is kept).
        """
        return self.count_per_minute(t.login_rate, "client", client, now)

    def count_search(self, key: str, now: datetime) -> float:
        """Count one search under ``key`` (``<kind>:<user id>``); its rate over the last 60 s."""
        return self.count_per_minute(t.search_rate, "key", key, now)

    def count_per_minute(self, table: Table, column: str, key: str, now: datetime) -> float:
        """Count one event under ``key`` in ``table`` and return its rate over the last 60 s.

        Per-minute counters in the database (every API process shares them): the rate is this
        minute's count (this event included) plus the previous minute's, weighted by the part
        of it still inside the last 60 s (a sliding window, approximated). Rows older than two
        minutes are deleted here, so the table holds at most two rows per recently active key.
        """
        who, at, count = table.c[column], table.c.minute, table.c.attempts
        minute = now.replace(second=0, microsecond=0)
        previous = minute - timedelta(minutes=1)

        def run(c: Connection) -> float:
            for _ in range(3):
                n = c.execute(
                    update(table)
                    .where(who == key, at == minute)
                    .values(attempts=count + 1)
                    .returning(count)
                ).scalar()
                if n is None:
                    row = {column: key, "minute": minute, "attempts": 1}
                    if not insert_ignore(c, table, [row]):
                        continue  # a parallel first event this minute made the row
                    n = 1
                before = c.execute(select(count).where(who == key, at == previous)).scalar()
                c.execute(delete(table).where(at < previous))
                left = 1.0 - (now - minute).total_seconds() / 60.0
                return float(n) + float(before or 0) * left
            raise ConflictError("events changed too fast to count; try again")

        return self.db.write(run)

    def record_login_failure(
        self, user_id: str, now: datetime, *, ceiling: int, strict_for: timedelta
    ) -> int:
        """Count a wrong password against the account (every client together), atomically.

        From the ``ceiling``-th failure since the last success on, ``users.locked_until`` is
        pushed to ``now + strict_for``: the accounts layer reads it as "under broad attack" and
        allows every client a single try before back-off. Returns the new count.
        """
        col = t.users.c

        def run(c: Connection) -> int:
            n = c.execute(
                update(t.users)
                .where(col.id == user_id)
                .values(failed_logins=col.failed_logins + 1)
                .returning(col.failed_logins)
            ).scalar()
            if n is not None and n >= ceiling:
                c.execute(
                    update(t.users).where(col.id == user_id).values(locked_until=now + strict_for)
                )
            return int(n or 0)

        return self.db.write(run)

    def clear_login_failures(self, user_id: str, client: str) -> None:
        """A right password from ``client``: forget that pair's attempts and reset the account's
        count (an "under attack" mark stays until its time passes)."""
        col = t.login_throttle.c

        def run(c: Connection) -> None:
            c.execute(delete(t.login_throttle).where(col.user_id == user_id, col.client == client))
            c.execute(update(t.users).where(t.users.c.id == user_id).values(failed_logins=0))

        self.db.write(run)

    def prune_login_throttle(self, idle_since: datetime, now: datetime) -> int:
        """Forget pairs with no attempt since ``idle_since`` and no block left; returns how many
        (keeps the table bounded by the clients that failed recently)."""
        col = t.login_throttle.c
        q = delete(t.login_throttle).where(
            col.last_attempt_at < idle_since,
            or_(col.blocked_until.is_(None), col.blocked_until <= now),
        )
        return int(self.db.write(lambda c: c.execute(q).rowcount))

    def login_throttle(self, user_id: str) -> dict[str, tuple[int, datetime | None]]:
        """``client -> (attempts, blocked_until)`` of an account (for tests and operators)."""
        col = t.login_throttle.c
        q = select(col.client, col.failures, col.blocked_until).where(col.user_id == user_id)
        with self.db.read() as c:
            return {r.client: (r.failures, r.blocked_until) for r in c.execute(q)}

    # -- watchlists, subjects, templates --------------------------------------------------------

    def add_watchlist(self, wl: WatchlistRow) -> None:
        self.db.write(lambda c: insert_ignore(c, t.watchlists, [_fields(wl, wl.__slots__)]))

    def get_watchlist(self, watchlist_id: str) -> WatchlistRow:
        with self.db.read() as c:
            r = _one(c, t.watchlists, watchlist_id, "watchlist")
        return WatchlistRow(**_fields(r, WatchlistRow.__slots__))

    def list_watchlists(self) -> list[WatchlistRow]:
        with self.db.read() as c:
            rows = c.execute(select(t.watchlists).order_by(t.watchlists.c.created_at)).all()
        return [WatchlistRow(**_fields(r, WatchlistRow.__slots__)) for r in rows]

    def set_watchlist_version(self, watchlist_id: str, version: int, version_hash: str) -> None:
        col = t.watchlists.c
        self.db.write(
            lambda c: c.execute(
                update(t.watchlists)
                .where(col.id == watchlist_id)
                .values(version=version, version_hash=version_hash)
            )
        )

    def add_subject(self, subject: SubjectRow) -> None:
        values = _fields(subject, SubjectRow.__slots__)
        self.db.write(lambda c: insert_ignore(c, t.subjects, [values]))

    def list_subjects(self, watchlist_id: str) -> list[SubjectRow]:
        col = t.subjects.c
        q = select(t.subjects).where(col.watchlist_id == watchlist_id).order_by(col.created_at)
        with self.db.read() as c:
            return [SubjectRow(**_fields(r, SubjectRow.__slots__)) for r in c.execute(q)]

    def delete_subject(self, subject_id: str) -> None:
        """Delete a subject and (by cascade) its templates."""

        def run(c: Connection) -> None:
            c.execute(delete(t.templates).where(t.templates.c.subject_id == subject_id))
            c.execute(delete(t.subjects).where(t.subjects.c.id == subject_id))

        self.db.write(run)

    def add_templates(self, templates: Sequence[TemplateRow]) -> int:
        """Store enrolled templates (idempotent by id); returns how many were new."""
        names = [c.name for c in t.templates.columns if c.name not in {"vector", "dim"}]
        rows = []
        for tpl in templates:
            packed = pack_vector(tpl.vector)
            rows.append({**_fields(tpl, names), "vector": packed, "dim": len(packed) // 4})
        return len(self.db.write(lambda c: insert_ignore(c, t.templates, rows)))

    def templates_for_watchlist(self, watchlist_id: str) -> list[TemplateRow]:
        """Every template of every subject of a watchlist (what a deployment matches against)."""
        q = (
            select(t.templates)
            .join(t.subjects, t.subjects.c.id == t.templates.c.subject_id)
            .where(t.subjects.c.watchlist_id == watchlist_id)
            .order_by(t.templates.c.id)
        )
        names = [c.name for c in t.templates.columns if c.name not in {"vector", "dim"}]
        with self.db.read() as c:
            return [
                TemplateRow(**_fields(r, names), vector=unpack_vector(r.vector, r.dim))
                for r in c.execute(q)
            ]

    def get_template(self, template_id: str) -> TemplateRow:
        """One enrolled template by id (NotFoundError when removed)."""
        names = [c.name for c in t.templates.columns if c.name not in {"vector", "dim"}]
        with self.db.read() as c:
            r = _one(c, t.templates, template_id, "template")
            return TemplateRow(**_fields(r, names), vector=unpack_vector(r.vector, r.dim))

    # -- deployments ----------------------------------------------------------------------------

    def add_deployment(self, dep: DeploymentRow) -> None:
        names = [n for n in DeploymentRow.__slots__ if n not in {"camera_ids", "watchlists"}]
        values = {**_fields(dep, names), "camera_ids": ",".join(dep.camera_ids)}
        links = [
            {"deployment_id": dep.id, "watchlist_id": w, "version_hash": h}
            for w, h in dep.watchlists
        ]

        def run(c: Connection) -> None:
            insert_ignore(c, t.deployments, [values])
            insert_ignore(c, t.deployment_watchlists, links)

        self.db.write(run)

    def get_deployment(self, deployment_id: str) -> DeploymentRow:
        with self.db.read() as c:
            r = _one(c, t.deployments, deployment_id, "deployment")
            return self._deployment(c, r)

    def list_deployments(self, *, active_at: datetime | None = None) -> list[DeploymentRow]:
        """Deployments, optionally only those approved (or urgent-pending) at ``active_at``."""
        col = t.deployments.c
        q = select(t.deployments).order_by(col.starts_at, col.id)
        if active_at is not None:
            live = [DeploymentState.APPROVED.value, DeploymentState.URGENT_PENDING.value]
            q = q.where(col.state.in_(live), col.starts_at <= active_at, col.ends_at > active_at)
        with self.db.read() as c:
            return [self._deployment(c, r) for r in c.execute(q).all()]

    def set_deployment_state(
        self,
        deployment_id: str,
        state: DeploymentState,
        *,
        at: datetime,
        authorised_by: str | None = None,
        reason: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"state": state.value, "decided_at": at}
        if authorised_by is not None:
            values["authorised_by"] = authorised_by
        if reason is not None:
            values["reason"] = reason
        col = t.deployments.c
        self.db.write(
            lambda c: c.execute(
                update(t.deployments).where(col.id == deployment_id).values(**values)
            )
        )

    @staticmethod
    def _deployment(c: Connection, r: Row[Any]) -> DeploymentRow:
        col = t.deployment_watchlists.c
        links = c.execute(
            select(col.watchlist_id, col.version_hash)
            .where(col.deployment_id == r.id)
            .order_by(col.watchlist_id)
        ).all()
        names = [n for n in DeploymentRow.__slots__ if n not in {"camera_ids", "watchlists"}]
        values = _fields(r, names)
        values["state"] = DeploymentState(values["state"])
        return DeploymentRow(
            **values,
            camera_ids=_split(r.camera_ids),
            watchlists=tuple((w, h) for w, h in links),
        )

    # -- verifications --------------------------------------------------------------------------

    def add_verification(self, v: VerificationRow) -> None:
        """Record one user's decision on an alert. :class:`ConflictError` if that user already
        decided differently (an exact replay of the same decision is accepted)."""
        values = {**_fields(v, VerificationRow.__slots__), "decision": v.decision.value}

        def run(c: Connection) -> None:
            if insert_ignore(c, t.verifications, [values]):
                return
            col = t.verifications.c
            prior = c.execute(
                select(col.decision, col.decided_at).where(
                    col.alert_id == v.alert_id, col.user_id == v.user_id
                )
            ).one()
            if (prior.decision, prior.decided_at) != (v.decision.value, v.decided_at):
                raise ConflictError(f"user {v.user_id} already decided on alert {v.alert_id}")

        try:
            self.db.write(run)
        except IntegrityError as exc:  # unknown alert id
            raise NotFoundError(f"no alert {v.alert_id!r}") from exc

    def list_verifications(self, alert_id: str) -> list[VerificationRow]:
        col = t.verifications.c
        q = select(t.verifications).where(col.alert_id == alert_id).order_by(col.decided_at)
        with self.db.read() as c:
            rows = c.execute(q).all()
        return [
            VerificationRow(
                **{**_fields(r, VerificationRow.__slots__), "decision": Decision(r.decision)}
            )
            for r in rows
        ]

    # -- cases ----------------------------------------------------------------------------------

    def add_case(self, case: CaseRow) -> None:
        self.db.write(lambda c: insert_ignore(c, t.cases, [_fields(case, CaseRow.__slots__)]))

    def get_case(self, case_id: str) -> CaseRow:
        with self.db.read() as c:
            return CaseRow(**_fields(_one(c, t.cases, case_id, "case"), CaseRow.__slots__))

    def link_case(self, link: CaseLink) -> None:
        """Attach a record to a case; alerts and sightings linked to a held case are held too."""
        values = _fields(link, CaseLink.__slots__)

        def run(c: Connection) -> None:
            insert_ignore(c, t.case_links, [values])
            hold = c.execute(select(t.cases.c.legal_hold).where(t.cases.c.id == link.case_id))
            if hold.scalar() and link.kind in {"alert", "sighting"}:
                table = t.alerts if link.kind == "alert" else t.sightings
                c.execute(update(table).where(table.c.id == link.target_id).values(legal_hold=True))

        self.db.write(run)

    def case_links(self, case_id: str) -> list[CaseLink]:
        col = t.case_links.c
        q = select(t.case_links).where(col.case_id == case_id).order_by(col.added_at, col.kind)
        with self.db.read() as c:
            return [CaseLink(**_fields(r, CaseLink.__slots__)) for r in c.execute(q)]

    def share_case(self, case_id: str, user_id: str, shared_by: str, at: datetime) -> None:
        """Let ``user_id`` read and add to a case (sharing twice keeps the first share)."""
        row = {"case_id": case_id, "user_id": user_id, "shared_by": shared_by, "shared_at": at}
        self.db.write(lambda c: insert_ignore(c, t.case_shares, [row]))

    def case_sharers(self, case_id: str) -> list[str]:
        """The user ids a case is shared with (its owner is not among them), in share order."""
        col = t.case_shares.c
        q = select(col.user_id).where(col.case_id == case_id).order_by(col.shared_at, col.user_id)
        with self.db.read() as c:
            return [str(r) for r in c.execute(q).scalars()]

    def list_cases(self, *, visible_to: str | None, limit: int = 100) -> list[CaseRow]:
        """Cases opened by or shared with ``visible_to`` (``None``: every case), newest first."""
        cases, shares = t.cases.c, t.case_shares.c
        q = select(t.cases).order_by(cases.opened_at.desc(), cases.id).limit(limit)
        if visible_to is not None:
            shared = select(shares.case_id).where(shares.user_id == visible_to)
            q = q.where((cases.opened_by == visible_to) | cases.id.in_(shared))
        with self.db.read() as c:
            return [CaseRow(**_fields(r, CaseRow.__slots__)) for r in c.execute(q)]


_USER_LISTS = ("roles", "cameras")  # columns stored as comma-separated lists


def accountable_records(db: Database) -> dict[str, list[str]]:
    """Every stored record whose creation or decision must have an audit entry, by kind:
    ``{"user": [ids], ..., "verification": ["<alert id>|<user id>|<decision>", ...]}``.

    Read by :mod:`vigil.governance.accountability` to find records without their entry. Alerts
    are those the verification path audits (face matches and plate hits).
    """
    tables = {
        "user": t.users,
        "deployment": t.deployments,
        "watchlist": t.watchlists,
        "case": t.cases,
        "hotlist": t.hotlists,
    }
    out: dict[str, list[str]] = {}
    with db.read() as c:
        for kind, table in tables.items():
            out[kind] = [r[0] for r in c.execute(select(table.c.id))]
        kinds = ("face_match", "plate_hit")
        out["alert"] = [
            r[0] for r in c.execute(select(t.alerts.c.id).where(t.alerts.c.kind.in_(kinds)))
        ]
        v = t.verifications.c
        out["verification"] = [
            f"{r.alert_id}|{r.user_id}|{r.decision}"
            for r in c.execute(select(v.alert_id, v.user_id, v.decision))
        ]
    return out


def _join_cameras(cameras: Sequence[str] | None) -> str | None:
    return None if cameras is None else ",".join(cameras)


def _user(row: Any) -> UserRow:
    names = [c.name for c in t.users.columns if c.name not in _USER_LISTS]
    cameras = None if row.cameras is None else _split(row.cameras)
    return UserRow(
        **_fields(row, names), roles=tuple(Role(r) for r in _split(row.roles)), cameras=cameras
    )
