"""Accounts, logins, sessions and API keys: the service behind ``/auth`` and ``vigil users``.

* **Passwords** are hashed with argon2id (argon2-cffi; its defaults follow RFC 9106's
  low-memory profile: 64 MiB, 3 passes). Hashes are upgraded on login when the parameters
  change. A login for an unknown user still runs one verification, so timing does not reveal
  which usernames exist; the answer is the same 401 either way.
* **Throttling** has two layers: per client address, a sliding window of
  ``login_rate_per_min`` attempts (in memory, bounded); per account, after
  ``login_max_failures`` consecutive failures the account locks for ``login_lock_s``, doubling
  with each further failure (stored in the users table, so it holds across processes).
* **Sessions and API keys** are random 256-bit secrets handed out once; only their SHA-256 is
  stored (a database leak yields no usable token). Both expire and can be revoked; disabling a
  user revokes all of theirs. API keys carry scopes (``alerts:read``, ``camera:<id>``, ...) and
  reach only read routes that name one of their scopes: decisions are made by people.
* **CSRF** tokens for cookie sessions are an HMAC of the session hash under the server secret:
  nothing extra is stored, and a token is useless for any other session.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from vigil.api.errors import AuthenticationError, RateLimitedError
from vigil.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditLog, utc_now
from vigil.storage import Repository
from vigil.storage.rows import Role, SessionRow, UserRow

log = logging.getLogger(__name__)

SESSION_PREFIX = "vgs_"
API_KEY_PREFIX = "vgk_"
MIN_PASSWORD = 12
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{1,63}$"
READ_SCOPES = frozenset(
    {
        "cameras:read",
        "alerts:read",
        "events:read",
        "deployments:read",
        "sightings:read",
        "audit:read",
        "reports:read",
    }
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, and through which credential."""

    user: UserRow
    via: str  # cookie | bearer | api_key
    token_hash: str
    scopes: frozenset[str] | None = None  # None: a person's session (no scope limits)

    @property
    def actor(self) -> Actor:
        return Actor.from_user(self.user)

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(self.user.roles)

    @property
    def cameras(self) -> frozenset[str] | None:
        """Cameras this caller may see, or ``None`` for all.

        The account's camera assignment (a district's operators see that district) intersected
        with an API key's ``camera:<id>`` scopes; either may be absent (= no limit from it).
        """
        assigned = None if self.user.cameras is None else frozenset(self.user.cameras)
        if self.scopes is None:
            return assigned
        scoped = frozenset(s.split(":", 1)[1] for s in self.scopes if s.startswith("camera:"))
        if not scoped:
            return assigned
        return scoped if assigned is None else scoped & assigned


class _Window:
    """Per-client sliding-window counter, bounded to ``max_clients`` (oldest evicted)."""

    def __init__(self, per_min: int, max_clients: int = 10_000) -> None:
        self.per_min = per_min
        self.max_clients = max_clients
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.pop(client, deque())
            while hits and hits[0] <= now - 60:
                hits.popleft()
            self._hits[client] = hits
            while len(self._hits) > self.max_clients:
                self._hits.popitem(last=False)
            if len(hits) >= self.per_min:
                raise RateLimitedError(
                    "too many login attempts from this client",
                    retry_after_s=max(1, int(60 - (now - hits[0])) + 1),
                )
            hits.append(now)


class AccountService:
    """Create accounts, log people in, issue and check sessions and API keys."""

    def __init__(
        self,
        repo: Repository,
        *,
        secret: bytes,
        audit: AuditLog | None = None,
        session_ttl: timedelta = timedelta(hours=12),
        api_key_ttl: timedelta = timedelta(days=365),
        max_failures: int = 5,
        lock: timedelta = timedelta(seconds=60),
        rate_per_min: int = 20,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.repo = repo
        self.secret = secret
        self.audit = audit
        self.session_ttl = session_ttl
        self.api_key_ttl = api_key_ttl
        self.max_failures = max_failures
        self.lock = lock
        self.window = _Window(rate_per_min)
        self.hasher = hasher or PasswordHasher()
        self.clock = clock
        self._dummy: str | None = None

    # -- accounts -------------------------------------------------------------------------------

    def create_user(
        self,
        username: str,
        password: str,
        roles: Iterable[Role | str],
        display_name: str = "",
        cameras: Iterable[str] | None = None,
    ) -> UserRow:
        """Create an account; :class:`ConflictError` if the username is taken.

        ``cameras``: the cameras the person may see (``None``: every camera).
        """
        import re

        if not re.fullmatch(USERNAME_PATTERN, username):
            raise ValidationError(
                f"username {username[:64]!r} must be 2-64 of a-z 0-9 . _ - (lower case)"
            )
        if len(password) < MIN_PASSWORD:
            raise ValidationError(f"a password needs at least {MIN_PASSWORD} characters")
        role_set = tuple(sorted({Role(r) for r in roles}))
        if not role_set:
            raise ValidationError("a user needs at least one role")
        user = UserRow(
            id=uuid.uuid4().hex,
            username=username,
            password_hash=self.hasher.hash(password),
            created_at=self.clock(),
            roles=role_set,
            display_name=display_name,
            cameras=self._known_cameras(cameras),
        )
        self.repo.add_user(user)
        return user

    def assign_cameras(self, user_id: str, cameras: Iterable[str] | None) -> UserRow:
        """Limit a person to ``cameras`` (``None``: every camera); returns the updated account.

        Takes effect on the person's next request (sessions read the account each time).
        """
        self.repo.get_user(user_id)
        self.repo.update_user(user_id, cameras=self._known_cameras(cameras))
        return self.repo.get_user(user_id)

    def _known_cameras(self, cameras: Iterable[str] | None) -> tuple[str, ...] | None:
        """Sorted, de-duplicated camera ids, each of which must exist (a typo would otherwise
        silently hide a camera from the person)."""
        if cameras is None:
            return None
        wanted = tuple(sorted(set(cameras)))
        known = {c.id for c in self.repo.list_cameras()}
        unknown = [c for c in wanted if c not in known]
        if unknown:
            raise ValidationError(f"unknown camera(s) {unknown[:10]}; known: {sorted(known)[:20]}")
        return wanted

    def disable(self, user_id: str) -> int:
        """Disable an account and revoke every session and key it holds; returns how many."""
        self.repo.get_user(user_id)
        self.repo.update_user(user_id, disabled=True)
        return self.repo.revoke_user_sessions(user_id, self.clock())

    # -- logins ---------------------------------------------------------------------------------

    def authenticate(self, username: str, password: str, *, client: str) -> UserRow:
        """Check a password, with throttling; the same 401 for every kind of failure."""
        self.window.hit(client)
        try:
            user = self.repo.get_user(username=username)
        except NotFoundError:
            self._verify(self._dummy_hash(), password)
            raise AuthenticationError("invalid username or password") from None
        now = self.clock()
        if user.locked_until is not None and now < user.locked_until:
            wait = int((user.locked_until - now).total_seconds()) + 1
            raise RateLimitedError(
                "account temporarily locked after failed logins", retry_after_s=wait
            )
        if not self._verify(user.password_hash, password):
            failures = user.failed_logins + 1
            values: dict[str, object] = {"failed_logins": failures}
            if failures >= self.max_failures:
                values["locked_until"] = now + self.lock * 2 ** (failures - self.max_failures)
            self.repo.update_user(user.id, **values)
            log.warning("failed login for %s from %s (%d in a row)", user.id, client, failures)
            raise AuthenticationError("invalid username or password")
        if user.disabled:
            raise AuthenticationError("invalid username or password")
        updates: dict[str, object] = {}
        if user.failed_logins or user.locked_until:
            updates.update(failed_logins=0, locked_until=None)
        if self.hasher.check_needs_rehash(user.password_hash):
            updates["password_hash"] = self.hasher.hash(password)
        if updates:
            self.repo.update_user(user.id, **updates)
        return user

    def _verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

    # -- sessions and keys ----------------------------------------------------------------------

    def start_session(self, user: UserRow) -> tuple[str, SessionRow]:
        """A new login session for ``user``: returns the secret token (shown once) and its row."""
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        row = SessionRow(token_hash(token), user.id, now, now + self.session_ttl)
        self.repo.add_session(row)
        return token, row

    def issue_api_key(
        self, user_id: str, scopes: Iterable[str], *, days: int | None = None
    ) -> tuple[str, SessionRow]:
        """An API key for an integration account, limited to ``scopes``."""
        user = self.repo.get_user(user_id)
        if user.disabled:
            raise ConflictError(f"user {user.username!r} is disabled")
        scope_set = tuple(sorted(set(scopes)))
        bad = [s for s in scope_set if s not in READ_SCOPES and not s.startswith("camera:")]
        if bad or not any(s in READ_SCOPES for s in scope_set):
            raise ValidationError(
                f"scopes must include one of {sorted(READ_SCOPES)} (and optionally "
                f"camera:<id>); unknown: {bad}"
            )
        ttl = self.api_key_ttl if days is None else timedelta(days=days)
        if ttl > self.api_key_ttl:
            raise ValidationError(f"an API key may last at most {self.api_key_ttl.days} days")
        token = API_KEY_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        row = SessionRow(token_hash(token), user.id, now, now + ttl, "api_key", scope_set)
        self.repo.add_session(row)
        return token, row

    def resolve(self, token: str, via: str) -> Principal:
        """The principal a token stands for; :class:`AuthenticationError` if it is not valid."""
        if not token.startswith((SESSION_PREFIX, API_KEY_PREFIX)) or len(token) > 200:
            raise AuthenticationError("invalid or expired credentials")
        digest = token_hash(token)
        try:
            row = self.repo.get_session(digest)
            user = self.repo.get_user(row.user_id)
        except NotFoundError:
            raise AuthenticationError("invalid or expired credentials") from None
        if not row.active_at(self.clock()) or user.disabled:
            raise AuthenticationError("invalid or expired credentials")
        if row.kind == "api_key":
            return Principal(user, "api_key", digest, frozenset(row.scopes))
        if via == "api_key":  # a session token sent as an API key still counts as a session
            via = "bearer"
        return Principal(user, via, digest)

    def revoke(self, digest: str) -> None:
        self.repo.revoke_session(digest, self.clock())

    def revoke_api_key(self, principal: Principal, key_id: str) -> None:
        """Revoke an API key by id (its hash); admins may revoke any, others only their own."""
        try:
            row = self.repo.get_session(key_id)
        except NotFoundError:
            raise NotFoundError(f"no API key {key_id!r}") from None
        if row.kind != "api_key":
            raise NotFoundError(f"no API key {key_id!r}")
        if row.user_id != principal.user.id and Role.ADMIN not in principal.roles:
            raise PermissionDeniedError("only an admin may revoke another user's API key")
        self.revoke(key_id)

    def csrf_token(self, digest: str) -> str:
        return hmac.new(self.secret, b"csrf:" + digest.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, digest: str, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(self.csrf_token(digest), presented)
