"""Who a key speaks for: its role and the shops it may touch. Keys (service.keys) store these;
authentication (service.auth) resolves a request to one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias, get_args

Role: TypeAlias = Literal["agent", "trainer", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: Role
    shops: frozenset[str]
    all_shops: bool

    def allows(self, shop_id: str) -> bool:
        return self.all_shops or shop_id in self.shops
