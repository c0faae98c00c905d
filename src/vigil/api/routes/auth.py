"""``/auth``: log in (bearer token or cookie + CSRF), log out, who am I, API keys; ``/users``."""

from __future__ import annotations

from fastapi import Request, Response

from vigil.api.clients import client_address, proxy_networks
from vigil.api.deps import COOKIE, access, services
from vigil.api.routes.common import router
from vigil.api.schemas import (
    ApiKeyOut,
    CameraAssignment,
    Done,
    IdPath,
    IdQuery,
    LoginRequest,
    LoginResponse,
    NewApiKey,
    NewUser,
    RoleAssignment,
    UserOut,
)
from vigil.core.domain import Role, SessionRow, UserRow
from vigil.governance.accounts import Principal

auth = router("/auth", "auth")
users = router("/users", "users")


def user_out(u: UserRow) -> UserOut:
    return UserOut(
        id=u.id,
        username=u.username,
        display_name=u.display_name,
        roles=list(u.roles),
        disabled=u.disabled,
        created_at=u.created_at,
        cameras=None if u.cameras is None else list(u.cameras),
    )


def key_out(row: SessionRow, key: str | None = None) -> ApiKeyOut:
    return ApiKeyOut(
        id=row.token_hash,
        user_id=row.user_id,
        scopes=list(row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        issued_by=row.issued_by,
        key=key,
    )


@auth.post("/login", response_model=LoginResponse)
def login(body: LoginRequest, request: Request, response: Response) -> LoginResponse:
    """Public. Check the password (throttled per client and per account) and start a session.

    The client is the connecting peer, or what ``X-Forwarded-For`` says when the peer is one of
    ``api.trusted_proxies`` (:mod:`vigil.api.clients`).
    """
    svc = services(request)
    trusted = proxy_networks(tuple(request.app.state.config.api.trusted_proxies))
    forwarded = ",".join(request.headers.getlist("x-forwarded-for")) or None
    client = client_address(request.client.host if request.client else None, forwarded, trusted)
    user = svc.accounts.authenticate(body.username, body.password, client=client)
    token, row = svc.accounts.start_session(user)
    out = LoginResponse(user=user_out(user), expires_at=row.expires_at)
    if body.mode == "cookie":
        response.set_cookie(
            COOKIE,
            token,
            max_age=int((row.expires_at - row.created_at).total_seconds()),
            httponly=True,
            secure=request.app.state.config.api.cookie_secure,
            samesite="strict",
            path="/",
        )
        out.csrf_token = svc.accounts.csrf_token(row.token_hash)
    else:
        out.token = token
    return out


@auth.post("/logout", response_model=Done)
def logout(request: Request, response: Response, p: Principal = access(csrf=False)) -> Done:
    """Revoke the session (or key) this request was made with, and clear the session cookie.

    No CSRF header is needed here, unlike every other unsafe call of a cookie session: a
    sign-out must work with nothing but the session itself, because the CSRF token is what a
    lost tab state or a server secret changed by a restart destroys, and a sign-out that fails
    then leaves a valid session behind in the browser. The trade-off is that another site could
    in principle sign a user out (a forced logout): it gains nothing but a nuisance, and the
    cookie's ``SameSite=Strict`` already keeps browsers from sending it on cross-site requests.
    A cookie that no longer authenticates is cleared by the 401 answer itself
    (:mod:`vigil.api.errors`), so the browser ends up signed out either way.
    """
    services(request).accounts.revoke(p)
    response.delete_cookie(COOKIE, path="/")
    return Done()


@auth.get("/me", response_model=UserOut)
def me(p: Principal = access(scope="any")) -> UserOut:
    return user_out(p.user)


@auth.post("/api-keys", response_model=ApiKeyOut, status_code=201)
def create_api_key(
    body: NewApiKey, request: Request, p: Principal = access(Role.ADMIN)
) -> ApiKeyOut:
    """Issue an API key for an integration account; the secret is in this answer only.

    Audited (``api_key.issue``) with the issuer and the owner; the key keeps its issuer, so
    what it does later is attributed to both.
    """
    accounts = services(request).accounts
    key, row = accounts.issue_api_key(p.actor, body.user_id, body.scopes, days=body.days)
    return key_out(row, key)


@auth.get("/api-keys", response_model=list[ApiKeyOut])
def list_api_keys(
    request: Request, user_id: IdQuery = None, p: Principal = access()
) -> list[ApiKeyOut]:
    """API keys of a user (admins: anyone's via ``user_id``; others: their own)."""
    target = user_id if user_id and Role.ADMIN in p.roles else p.user.id
    return [key_out(r) for r in services(request).repo.list_sessions(target, kind="api_key")]


@auth.delete("/api-keys/{key_id}", response_model=Done)
def revoke_api_key(key_id: IdPath, request: Request, p: Principal = access()) -> Done:
    """Revoke an API key (admins: anyone's; others: their own); audited as ``api_key.revoke``."""
    services(request).accounts.revoke_api_key(p, key_id)
    return Done()


@users.get("", response_model=list[UserOut])
def list_users(request: Request, _: Principal = access(Role.ADMIN)) -> list[UserOut]:
    return [user_out(u) for u in services(request).repo.list_users()]


@users.post("", response_model=UserOut, status_code=201)
def create_user(body: NewUser, request: Request, p: Principal = access(Role.ADMIN)) -> UserOut:
    svc = services(request)
    user = svc.accounts.create_user(
        body.username,
        body.password,
        body.roles,
        body.display_name,
        body.cameras,
        by=p.user.id,
        reason="created through the API",
    )
    return user_out(user)


@users.put("/{user_id}/cameras", response_model=UserOut)
def assign_cameras(
    user_id: IdPath, body: CameraAssignment, request: Request, p: Principal = access(Role.ADMIN)
) -> UserOut:
    """Limit a person to some cameras (null: every camera); audited with the reason."""
    svc = services(request)
    user = svc.accounts.assign_cameras(user_id, body.cameras, by=p.user.id, reason=body.reason)
    return user_out(user)


@users.put("/{user_id}/roles", response_model=UserOut)
def set_roles(
    user_id: IdPath, body: RoleAssignment, request: Request, p: Principal = access(Role.ADMIN)
) -> UserOut:
    """Replace a person's roles; audited (``user.roles``) with the reason. Takes effect on the
    next request, and narrows or closes their open live connections within
    ``api.live_recheck_s``."""
    svc = services(request)
    user = svc.accounts.set_roles(user_id, body.roles, by=p.user.id, reason=body.reason)
    return user_out(user)


@users.post("/{user_id}/disable", response_model=Done)
def disable_user(user_id: IdPath, request: Request, p: Principal = access(Role.ADMIN)) -> Done:
    svc = services(request)
    svc.accounts.disable(user_id, by=p.user.id, reason="disabled through the API")
    return Done()
