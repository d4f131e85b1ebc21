"""Who is calling: API keys (`Authorization: Bearer KEY`) resolved to a Principal with a role and
the shops it may touch, the per-key rate limit, and the limit on bad keys per client address.

Roles nest: an admin passes every role check; a trainer's and an agent's keys are scoped to
shops. Missing, unknown or revoked keys get 401; a wrong role or another shop's resource 403.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.errors import ServiceError
from service.principals import Principal, Role
from service.services import services_of

if TYPE_CHECKING:
    import redis


_bearer = HTTPBearer(auto_error=False, description="an API key from `copilot keys create`")


def ensure_shop(principal: Principal, shop_id: str) -> None:
    """403 unless the key may touch this shop (its conversations, suggestions, KB...)."""
    if not principal.allows(shop_id):
        raise ServiceError(403, "forbidden", f"this key may not access shop {shop_id!r}", "shop_id")


class Require:
    """A dependency: the caller's Principal, if its role is one of `roles` (admin always is).
    `check` is the same test for a route that resolves its arguments itself (routes/suggest.py)."""

    def __init__(self, *roles: Role) -> None:
        self.allowed = {*roles, "admin"}

    def __call__(
        self,
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        return self.check(request, credentials.credentials if credentials else "")

    async def token(self, request: Request) -> str:
        """The bearer token as the dependency reads it ("" when there is none)."""
        credentials = await _bearer(request)
        return credentials.credentials if credentials else ""

    def check(self, request: Request, token: str) -> Principal:
        """Blocking (one Redis round trip for a key seen before): 401, 403 or 429, else the
        Principal."""
        if not token:
            raise ServiceError(
                401, "unauthorized", "send `Authorization: Bearer KEY` (copilot keys create)"
            )
        services = services_of(request.app)
        keys, limiter, failures = services.keys, services.rate_limiter, services.auth_failures
        address = request.client.host if request.client else "unknown"
        if not keys.knows(token):  # a known key skips the round trip
            failures.check(address)

        def count(pipe: redis.client.Pipeline, principal: Principal) -> None:
            if principal.role in self.allowed:
                limiter.queue(pipe, principal.key_id)

        verified = keys.verify(token, count)
        principal = verified.principal
        if principal is None:
            failures.failed(address)
            raise ServiceError(401, "unauthorized", "unknown or revoked API key")
        if principal.role not in self.allowed:
            wanted = " or ".join(sorted(self.allowed))
            raise ServiceError(
                403, "forbidden", f"a {principal.role} key cannot do this (needs {wanted})"
            )
        if limiter is not None:
            limiter.enforce(verified.replies, principal.key_id)
        request.state.principal = principal
        return principal


def require(*roles: Role) -> Require:
    return Require(*roles)
