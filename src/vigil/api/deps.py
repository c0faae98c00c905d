"""Authentication and authorisation as FastAPI dependencies.

Every route that is not in :data:`PUBLIC_ROUTES` takes ``access(...)``: it authenticates the
caller (bearer token or API key in ``Authorization``, or the session cookie), checks the role
(any of the listed roles) and, for API keys, the route's scope, and for cookie sessions on unsafe
methods the CSRF header. The roles a route allows are stored on the dependency, so a test can
enumerate every route and check none was left open by accident. ``access`` also enforces camera
scope on the records a route's path names (:mod:`vigil.api.scope`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request

from vigil.api.errors import SESSION_COOKIE, CsrfError
from vigil.api.scope import enforce
from vigil.core.domain import Role
from vigil.errors import AuthenticationError, PermissionDeniedError
from vigil.governance.accounts import Principal
from vigil.system.services import Services

COOKIE = SESSION_COOKIE
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALL_ROLES = tuple(Role)
PUBLIC_ROUTES = frozenset(
    {
        ("GET", "/api/v1/health"),
        ("POST", "/api/v1/auth/login"),
        ("GET", "/openapi.json"),
        # The web console's static files (no data; its pages call the authenticated routes).
        ("GET", "/"),
        ("GET", "/console"),
        ("GET", "/console/"),
        ("GET", "/console/{name:path}"),
    }
)


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def authenticate(request: Request) -> Principal:
    """The caller, from ``Authorization: Bearer <token>`` or the session cookie."""
    return _authenticate(request, csrf=True)


def authenticate_without_csrf(request: Request) -> Principal:
    """The caller, without the CSRF check of cookie sessions (only for log-out: see there)."""
    return _authenticate(request, csrf=False)


def _authenticate(request: Request, *, csrf: bool) -> Principal:
    svc = services(request)
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("use 'Authorization: Bearer <token>'")
        principal = svc.accounts.resolve(token.strip(), "bearer")
    elif cookie := request.cookies.get(COOKIE):
        principal = svc.accounts.resolve(cookie, "cookie")
        if principal.via != "cookie":  # an API key placed in a cookie is not a session
            raise AuthenticationError("invalid or expired credentials")
        if (
            csrf
            and request.method not in SAFE_METHODS
            and not svc.accounts.check_csrf(principal.token_hash, request.headers.get(CSRF_HEADER))
        ):
            raise CsrfError(f"cookie sessions must send the {CSRF_HEADER} header from login")
    else:
        raise AuthenticationError("authentication required")
    request.state.principal = principal
    return principal


def check(principal: Principal, roles: tuple[Role, ...], scope: str | None) -> None:
    """Raise :class:`PermissionDeniedError` unless the role (and API-key scope) allows it."""
    if principal.scopes is not None and scope != "any" and scope not in principal.scopes:
        raise PermissionDeniedError(
            f"this API key's scopes do not include {scope or 'this (person-only) route'}"
        )
    if not principal.roles.intersection(roles):
        need = ", ".join(r.value for r in roles)
        raise PermissionDeniedError(f"this needs one of the roles: {need}")


def access(*roles: Role, scope: str | None = None, csrf: bool = True) -> Any:
    """Dependency: authenticated, holding one of ``roles`` (and ``scope`` for API keys), and
    allowed to see the records the path names (camera scope and case visibility, checked by
    :func:`vigil.api.scope.enforce` after the role, so a refused role never learns whether an
    id exists). ``csrf=False`` skips the CSRF header of cookie sessions (log-out only)."""
    allowed = roles or ALL_ROLES
    who = authenticate if csrf else authenticate_without_csrf

    def dep(request: Request, principal: Principal = Depends(who)) -> Principal:
        check(principal, allowed, scope)
        enforce(request, principal)
        return principal

    dep.vigil_access = (allowed, scope)  # type: ignore[attr-defined]
    return Depends(dep)


def route_access(call: Callable[..., Any]) -> tuple[tuple[Role, ...], str | None] | None:
    found: tuple[tuple[Role, ...], str | None] | None = getattr(call, "vigil_access", None)
    return found
