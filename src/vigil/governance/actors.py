"""Who acts: a user id with roles, and the role checks every governance service makes.

The HTTP layer (issue 7) authenticates people and hands the governance services an
:class:`Actor`; the services never trust a role they were not given, and every refusal names the
role that was needed, so an operator sees why and an auditor can read it in the chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigil.core.domain import Role, UserRow
from vigil.errors import PermissionDeniedError, ValidationError


@dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated person (or ``system`` for the scheduler) and their roles."""

    id: str
    roles: frozenset[Role]

    def __post_init__(self) -> None:
        if not self.id:
            raise ValidationError("actor id must be non-empty")

    @classmethod
    def of(cls, user_id: str, *roles: Role | str) -> Actor:
        return cls(user_id, frozenset(Role(r) for r in roles))

    @classmethod
    def from_user(cls, user: UserRow) -> Actor:
        if user.disabled:
            raise PermissionDeniedError(f"user {user.username!r} is disabled")
        return cls(user.id, frozenset(user.roles))

    def require(self, *any_of: Role, action: str) -> None:
        """Raise :class:`PermissionDeniedError` unless the actor holds one of ``any_of``."""
        if not self.roles.intersection(any_of):
            need = " or ".join(r.value for r in any_of)
            have = ", ".join(sorted(r.value for r in self.roles)) or "none"
            raise PermissionDeniedError(
                f"{action} needs the role {need}; user {self.id} has {have}"
            )


SYSTEM = Actor("system", frozenset())
"""The scheduler: expiry, deadlines, purges and retention run as ``system`` in the chain."""
