"""Who is calling: API keys (`Authorization: Bearer KEY`) resolved to a Principal with a role and
the shops it may touch, and the per-key rate limit.

Roles nest: an admin passes every role check; a trainer's and an agent's keys are scoped to
shops. Missing, unknown or revoked keys get 401; a wrong role or another shop's resource 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias, get_args

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.errors import ServiceError

if TYPE_CHECKING:
    from service.keys import KeyStore

Role: TypeAlias = Literal["agent", "trainer", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)

_bearer = HTTPBearer(auto_error=False, description="an API key from `copilot keys create`")


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: Role
    shops: frozenset[str]
    all_shops: bool

    def allows(self, shop_id: str) -> bool:
        return self.all_shops or shop_id in self.shops


def ensure_shop(principal: Principal, shop_id: str) -> None:
    """403 unless the key may touch this shop (its conversations, suggestions, KB...)."""
    if not principal.allows(shop_id):
        raise ServiceError(403, "forbidden", f"this key may not access shop {shop_id!r}", "shop_id")


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency: the caller's Principal, if its role is one of `roles` (admin always is)."""
    allowed = {*roles, "admin"}

    def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        if credentials is None or not credentials.credentials:
            raise ServiceError(
                401, "unauthorized", "send `Authorization: Bearer KEY` (copilot keys create)"
            )
        keys: KeyStore = request.app.state.keys
        principal = keys.lookup(credentials.credentials)
        if principal is None:
            raise ServiceError(401, "unauthorized", "unknown or revoked API key")
        if principal.role not in allowed:
            wanted = " or ".join(sorted(allowed))
            raise ServiceError(
                403, "forbidden", f"a {principal.role} key cannot do this (needs {wanted})"
            )
        limiter = getattr(request.app.state, "rate_limiter", None)
        if limiter is not None:
            limiter.check(principal.key_id)
        request.state.principal = principal
        return principal

    return dependency
