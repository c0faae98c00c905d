"""Accounts, logins, sessions and API keys: the service behind ``/auth`` and ``vigil users``.

* **Passwords** are hashed with argon2id (argon2-cffi; its defaults follow RFC 9106's
  low-memory profile: 64 MiB, 3 passes). Hashes are upgraded on login when the parameters
  change. A login for an unknown user still runs one verification, so timing does not reveal
  which usernames exist; the answer is the same 401 either way.
* **Throttling** (see :class:`LoginPolicy`) has three layers, all in the database (so every API
  process on it shares them): per client address, a sliding window of ``login_rate_per_min``
  attempts; per account *and* client, a back-off; per account over all clients, a ceiling that
  makes every client's back-off start after one failure. An attacker is slowed, the owner is
  never locked out.
* **Passwords set** (API, CLI, demo) must pass :func:`vigil.governance.passwords.check_password`.
* **Sessions and API keys** are random 256-bit secrets handed out once; only their SHA-256 is
  stored (a database leak yields no usable token). Both expire and can be revoked; disabling a
  user revokes all of theirs. API keys carry scopes (``alerts:read``, ``camera:<id>``, ...) and
  reach only read routes that name one of their scopes: decisions are made by people. Issuing
  and revoking a key are audited (``api_key.issue``/``api_key.revoke``, naming issuer and owner)
  in the same transaction as the change, and a key remembers its issuer, so what it does is
  attributed to both (:meth:`Principal.attribution`).
* **CSRF** tokens for cookie sessions are an HMAC of the session hash under the server secret:
  nothing extra is stored, and a token is useless for any other session.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from vigil.config.settings import ApiConfig
from vigil.core.domain import Role, SessionRow, UserRow
from vigil.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ValidationError,
)
from vigil.governance.actors import Actor
from vigil.governance.audit import AuditAction, AuditLog, summarise_ids, utc_now
from vigil.governance.passwords import check_password
from vigil.storage import Repository

log = logging.getLogger(__name__)

SESSION_PREFIX = "vgs_"
API_KEY_PREFIX = "vgk_"
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
    issued_by: str | None = None  # an API key's issuer (None: a session, or a pre-0005 key)

    @property
    def actor(self) -> Actor:
        return Actor.from_user(self.user)

    def attribution(self) -> list[tuple[str, str]]:
        """Audit details that name the credential behind an action: for an API key its id and
        its issuer, so an entry written as the key's owner also names who handed the key out
        (an admin cannot act "as" someone else through a key without being named)."""
        if self.via != "api_key":
            return []
        return [("api_key", self.token_hash), ("key_issued_by", self.issued_by or "unknown")]

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


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    """How wrong passwords are slowed down, and why it is built this way.

    The old design locked the *account* after ``max_failures`` failures, doubling without end:
    anyone who knew a username could keep its owner out (a denial-of-service lever), and the
    count was read, incremented and written back, so parallel guesses were all checked and
    counted once. Now:

    * **Per (account, client)**: every attempt is charged in the database *before* the password
      is checked (an atomic ``failures + 1 ... RETURNING``), and from the ``max_failures``-th
      attempt on the pair is refused for ``lock * 2^k``, capped at ``lock_max``. However many
      guesses arrive at once, at most ``max_failures`` are checked; a right password clears the
      pair. The owner, on another client, is not affected.
    * **Per account, all clients**: after ``account_ceiling`` failures since the last success
      (guessing spread over many addresses), the account is "under attack" for ``lock_max``
      after the latest failure, and every client's back-off starts after its *first* failure.
      That slows (does not lock): the owner's first try from their own client is still checked.
    * **Per client, all accounts**: the sliding window of ``rate_per_min`` in the database (spraying
      one password over many usernames).

    State stays bounded: pair rows are deleted on success and pruned after ``forget`` without an
    attempt; a client key is an IPv4 address or an IPv6 ``/64`` (:mod:`vigil.api.clients`).
    Unknown usernames create no back-off rows (there is no account to protect); they count in
    the client's window like any attempt.
    """

    max_failures: int = 5
    lock: timedelta = timedelta(seconds=60)
    lock_max: timedelta = timedelta(seconds=900)
    account_ceiling: int = 50
    rate_per_min: int = 20
    forget: timedelta = timedelta(hours=24)

    @classmethod
    def from_config(cls, api: ApiConfig) -> LoginPolicy:
        return cls(
            max_failures=api.login_max_failures,
            lock=timedelta(seconds=api.login_lock_s),
            lock_max=timedelta(seconds=api.login_lock_max_s),
            account_ceiling=api.login_account_ceiling,
            rate_per_min=api.login_rate_per_min,
        )

    def block_for(self, attempts: int, *, under_attack: bool = False) -> timedelta | None:
        """The block a pair gets after its ``attempts``-th charged attempt (``None``: none)."""
        start = 1 if under_attack else self.max_failures
        if attempts < start:
            return None
        wait: timedelta = min(self.lock * 2 ** min(attempts - start, 20), self.lock_max)
        return wait


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
        login: LoginPolicy | None = None,
        hasher: PasswordHasher | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.repo = repo
        self.secret = secret
        self.audit = audit
        self.session_ttl = session_ttl
        self.api_key_ttl = api_key_ttl
        self.login = login or LoginPolicy()
        self.hasher = hasher or PasswordHasher()
        self.clock = clock
        self._dummy: str | None = None
        self._pruned_at = 0.0

    # -- accounts -------------------------------------------------------------------------------

    def create_user(
        self,
        username: str,
        password: str,
        roles: Iterable[Role | str],
        display_name: str = "",
        cameras: Iterable[str] | None = None,
        *,
        by: str = "system",
        reason: str = "account created",
    ) -> UserRow:
        """Create an account; :class:`ConflictError` if the username is taken.

        ``cameras``: the cameras the person may see (``None``: every camera). ``by`` (who
        creates it) and ``reason`` go to the ``user.create`` audit entry, written in the same
        transaction as the account, so no caller (API, CLI, demo) can create one unrecorded.
        """
        import re

        if not re.fullmatch(USERNAME_PATTERN, username):
            raise ValidationError(
                f"username {username[:64]!r} must be 2-64 of a-z 0-9 . _ - (lower case)"
            )
        check_password(password, username=username, display_name=display_name)
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
        with self.repo.db.transaction():
            self.repo.add_user(user)
            self._record(
                by,
                AuditAction.USER_CREATE,
                user.id,
                reason,
                [("roles", ",".join(user.roles)), ("cameras", summarise_ids(user.cameras))],
            )
        return user

    def _record(
        self,
        by: str,
        action: AuditAction,
        user_id: str,
        reason: str,
        details: list[tuple[str, str]],
    ) -> None:
        """Append a user change's entry (inside the caller's unit of work)."""
        self._audit().append(by, action, f"user:{user_id}", reason, details)

    def assign_cameras(
        self, user_id: str, cameras: Iterable[str] | None, *, by: str = "system", reason: str = ""
    ) -> UserRow:
        """Limit a person to ``cameras`` (``None``: every camera); returns the updated account.

        Takes effect on the person's next request (sessions read the account each time).
        Audited as ``user.cameras`` in the same transaction.
        """
        with self.repo.db.transaction():
            self.repo.get_user(user_id)
            self.repo.update_user(user_id, cameras=self._known_cameras(cameras))
            user = self.repo.get_user(user_id)
            why = reason or "camera assignment changed"
            self._record(
                by,
                AuditAction.USER_CAMERAS,
                user_id,
                why,
                [("cameras", summarise_ids(user.cameras))],
            )
        return user

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

    def set_roles(
        self, user_id: str, roles: Iterable[Role | str], *, by: str = "system", reason: str = ""
    ) -> UserRow:
        """Replace a person's roles (at least one); returns the updated account.

        Takes effect on the next request, and on open live connections within the re-check
        interval (:mod:`vigil.api.live`). Audited as ``user.roles`` in the same transaction.
        """
        role_set = tuple(sorted({Role(r) for r in roles}))
        if not role_set:
            raise ValidationError("a user needs at least one role")
        with self.repo.db.transaction():
            before = self.repo.get_user(user_id)
            self.repo.update_user(user_id, roles=role_set)
            why = reason or "roles changed"
            self._record(
                by,
                AuditAction.USER_ROLES,
                user_id,
                why,
                [("roles", ",".join(role_set)), ("before", ",".join(before.roles))],
            )
            return self.repo.get_user(user_id)

    def disable(self, user_id: str, *, by: str = "system", reason: str = "") -> int:
        """Disable an account and revoke every session and key it holds; returns how many.
        Audited as ``user.disable`` in the same transaction."""
        with self.repo.db.transaction():
            self.repo.get_user(user_id)
            self.repo.update_user(user_id, disabled=True)
            revoked = self.repo.revoke_user_sessions(user_id, self.clock())
            why = reason or "account disabled"
            self._record(by, AuditAction.USER_DISABLE, user_id, why, [("revoked", str(revoked))])
        return revoked

    # -- logins ---------------------------------------------------------------------------------

    def authenticate(self, username: str, password: str, *, client: str) -> UserRow:
        """Check a password, throttled as :class:`LoginPolicy` says; the same 401 for every kind
        of failure, a 429 with ``Retry-After`` while ``client`` is backed off for this account.

        ``client`` is the key from :func:`vigil.api.clients.client_address`.
        """
        self._rate(client)
        try:
            user = self.repo.get_user(username=username)
        except NotFoundError:
            self._verify(self._dummy_hash(), password)
            raise AuthenticationError("invalid username or password") from None
        now = self.clock()
        under_attack = user.locked_until is not None and now < user.locked_until
        policy = partial(self.login.block_for, under_attack=under_attack)
        blocked = self.repo.charge_login(user.id, client, now, policy)
        if blocked is not None:
            raise RateLimitedError(
                "too many failed logins for this account from this client; try again later",
                retry_after_s=int((blocked - now).total_seconds()) + 1,
            )
        if not self._verify(user.password_hash, password):
            total = self.repo.record_login_failure(
                user.id, now, ceiling=self.login.account_ceiling, strict_for=self.login.lock_max
            )
            log.warning("failed login for %s from %s (%d since success)", user.id, client, total)
            self._prune(now)
            raise AuthenticationError("invalid username or password")
        if user.disabled:
            raise AuthenticationError("invalid username or password")
        self.repo.clear_login_failures(user.id, client)
        if self.hasher.check_needs_rehash(user.password_hash):
            self.repo.update_user(user.id, password_hash=self.hasher.hash(password))
        return user

    def _rate(self, client: str) -> None:
        """The per-client window, all accounts together (in the database, so every API process
        on it shares it): refuse past ``rate_per_min`` attempts in the last 60 s."""
        now = self.clock()
        if self.repo.count_login_attempt(client, now) > self.login.rate_per_min:
            raise RateLimitedError(
                "too many login attempts from this client",
                retry_after_s=61 - now.second,
            )

    def _prune(self, now: datetime) -> None:
        """Forget idle (account, client) pairs, at most once a minute per process."""
        tick = time.monotonic()
        if tick - self._pruned_at < 60:
            return
        self._pruned_at = tick
        gone = self.repo.prune_login_throttle(now - self.login.forget, now)
        if gone:
            log.info("forgot %d idle login back-off record(s)", gone)

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
        self, issuer: Actor, user_id: str, scopes: Iterable[str], *, days: int | None = None
    ) -> tuple[str, SessionRow]:
        """An API key for ``user_id``'s integration account, limited to ``scopes``.

        The key records ``issuer`` (who may be an admin issuing it in another user's name), and
        the issue is audited as ``api_key.issue`` by the issuer, naming the owner, in the same
        transaction as the key: there is no key without its entry.
        """
        audit = self._audit()
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
        row = SessionRow(
            token_hash(token), user.id, now, now + ttl, "api_key", scope_set, issued_by=issuer.id
        )
        with self.repo.db.transaction():
            self.repo.add_session(row)
            audit.append(
                issuer.id,
                AuditAction.API_KEY_ISSUE,
                f"api_key:{row.token_hash}",
                "issued through the API",
                [
                    ("owner", user.id),
                    ("issued_by", issuer.id),
                    ("scopes", summarise_ids(scope_set)),
                    ("expires_at", row.expires_at.isoformat()),
                ],
            )
        return token, row

    def _audit(self) -> AuditLog:
        if self.audit is None:
            raise ConflictError(
                "account changes need the audit log: this service was built without one"
            )
        return self.audit

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
        principal = self._principal(row, user, via)
        if principal is None:
            raise AuthenticationError("invalid or expired credentials")
        return principal

    def resolve_many(self, digests: Iterable[str]) -> dict[str, Principal]:
        """The principals of the credentials (by hash) that are still valid now: one read for
        them all. A hash missing from the answer is revoked, expired, unknown or its user
        disabled. ``via`` is ``api_key`` for keys and ``bearer`` for sessions (the caller
        knows how its own credential was presented)."""
        found = self.repo.sessions_with_users(list(digests))
        out: dict[str, Principal] = {}
        for row, user in found:
            principal = self._principal(row, user, "bearer")
            if principal is not None:
                out[row.token_hash] = principal
        return out

    def _principal(self, row: SessionRow, user: UserRow, via: str) -> Principal | None:
        """The principal of a stored credential, or ``None`` if it may not be used now."""
        if not row.active_at(self.clock()) or user.disabled:
            return None
        if row.kind == "api_key":
            return Principal(user, "api_key", row.token_hash, frozenset(row.scopes), row.issued_by)
        if via == "api_key":  # a session token sent as an API key still counts as a session
            via = "bearer"
        return Principal(user, via, row.token_hash)

    def revoke(self, principal: Principal) -> None:
        """End the session (or API key) ``principal`` called with (log out); a key revoking
        itself is audited like any other revocation."""
        if principal.via == "api_key":
            self.revoke_api_key(principal, principal.token_hash)
        else:
            self.repo.revoke_session(principal.token_hash, self.clock())

    def revoke_api_key(self, principal: Principal, key_id: str) -> None:
        """Revoke an API key by id (its hash); admins may revoke any, others only their own.

        Audited as ``api_key.revoke`` by whoever revoked it, naming the key's owner and issuer,
        in the same transaction as the revocation.
        """
        audit = self._audit()
        try:
            row = self.repo.get_session(key_id)
        except NotFoundError:
            raise NotFoundError(f"no API key {key_id!r}") from None
        if row.kind != "api_key":
            raise NotFoundError(f"no API key {key_id!r}")
        if row.user_id != principal.user.id and Role.ADMIN not in principal.roles:
            raise PermissionDeniedError("only an admin may revoke another user's API key")
        if row.revoked_at is not None:
            return  # already revoked (and audited then): nothing changes, nothing to record
        with self.repo.db.transaction():
            self.repo.revoke_session(key_id, self.clock())
            audit.append(
                principal.user.id,
                AuditAction.API_KEY_REVOKE,
                f"api_key:{key_id}",
                "revoked through the API",
                [
                    ("owner", row.user_id),
                    ("issued_by", row.issued_by or "unknown"),
                    *principal.attribution(),
                ],
            )

    def csrf_token(self, digest: str) -> str:
        return hmac.new(self.secret, b"csrf:" + digest.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, digest: str, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(self.csrf_token(digest), presented)
