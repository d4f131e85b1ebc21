"""Per-shop policies (copilot.types.ShopPolicy), stored in Redis as JSON under
`copilot:shop:{shop}:policy` (kb/storage/redis_keys.py); a shop without one gets the conservative
defaults (no auto-reply, no refund or compensation without a specialist).

A stored policy that cannot be read (not a string, not JSON, unknown fields) is logged and the
shop gets the defaults too: one damaged key must not stop the service from starting, nor fail
every request that lists or answers for the shop, and the defaults are the cautious choice."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, fields
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

import redis

from copilot.errors import CopilotError
from copilot.types import ShopPolicy
from kb.storage.recent import recent_reads
from kb.storage.redis_keys import ROOT, RedisKeys

log = logging.getLogger(__name__)
_DECIMALS = ("refund_limit", "compensation_limit")


def policy_from_dict(shop_id: str, data: dict[str, Any]) -> ShopPolicy:
    known = {f.name for f in fields(ShopPolicy)} - {"shop_id"}
    unknown = set(data) - known
    if unknown:
        raise CopilotError(
            f"shop policy of {shop_id!r}: unknown field(s) {sorted(unknown)}; "
            f"known: {sorted(known)}"
        )
    values: dict[str, Any] = dict(data)
    for name in _DECIMALS:
        if name in values:
            try:
                values[name] = Decimal(str(values[name]))
            except InvalidOperation:
                raise CopilotError(f"shop policy of {shop_id!r}: {name} must be a number") from None
    if "banned_phrases" in values:
        values["banned_phrases"] = tuple(values["banned_phrases"])
    return ShopPolicy(shop_id=shop_id, **values)


def policy_to_dict(policy: ShopPolicy) -> dict[str, Any]:
    data = asdict(policy)
    data.pop("shop_id")
    for name in _DECIMALS:
        data[name] = str(data[name])
    data["banned_phrases"] = list(policy.banned_phrases)
    return data


class PolicyStore:
    def __init__(self, client: redis.Redis, prefix: str = ROOT, *, max_age: float = 0.0) -> None:
        """`max_age` > 0: a policy may come from a read that recent (seconds;
        kb/storage/recent.py)."""
        self.client = client
        self.keys = RedisKeys(prefix)
        self.max_age = max_age
        self._recent = recent_reads(client)

    def _key(self, shop_id: str) -> str:
        return self.keys.shop(shop_id, "policy")

    def get(self, shop_id: str) -> ShopPolicy:
        return self._recent.read(self._key(shop_id), self.max_age, partial(self._read, shop_id))

    def _read(self, shop_id: str) -> ShopPolicy:
        try:
            raw = self.client.get(self._key(shop_id))
            return policy_from_dict(shop_id, _json_object(raw)) if raw else ShopPolicy(shop_id)
        except (redis.ResponseError, ValueError, TypeError, CopilotError) as exc:
            log.warning("policy of shop %r unreadable, defaults apply: %s", shop_id, exc)
            return ShopPolicy(shop_id=shop_id)

    def put(self, policy: ShopPolicy) -> None:
        try:
            self.client.set(
                self._key(policy.shop_id), json.dumps(policy_to_dict(policy), ensure_ascii=False)
            )
        finally:
            self._recent.forget(self._key(policy.shop_id))


def _json_object(raw: bytes | str) -> dict[str, Any]:
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError(f"not a JSON object: {type(data).__name__}")
    return data
