"""API keys in Redis, stored hashed (sha256): a leaked dump of Redis holds no usable key.

    copilot:key:{key_id}        hash: role, shops (JSON), label, created, revoked, hash
    copilot:keyhash:{sha256}    -> key_id
    copilot:keys                set of key ids

(built by kb/storage/redis_keys.py). A record that cannot be read (wrong type, garbage) is an
unknown
key: logged, never an error for the caller.

Every lookup asks Redis whether the key is revoked, so a revocation is seen by every replica at
once (no delay). What never changes for a key (its id, role and shops) is remembered in-process
after its first use, so a known key costs one HGET, sharing its round trip with the rate-limit
count (auth used to be two or three round trips on every request). When Redis is down a replica
falls back to the keys it has seen answer in this process, so agents keep getting (degraded)
suggestions; a key revoked during the outage still works until it ends.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from copilot.clock import Clock, SystemClock, timestamp
from kb.errors import StoreUnavailable
from kb.storage.redis_keys import ROOT, RedisKeys
from service.errors import KeyNotFound
from service.principals import ROLES, Principal, Role

log = logging.getLogger(__name__)
PREFIX = ROOT
ALL_SHOPS = "*"


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    role: Role
    shops: tuple[str, ...]  # ("*",) for all shops
    label: str
    created: float
    revoked: bool


@dataclass(frozen=True)
class Verified:
    principal: Principal | None  # None: unknown or revoked
    replies: list[Any] = field(default_factory=list)  # of what `also` queued; [] if not run


# Queues more commands (the rate-limit count) into the round trip that checks the key.
Also = Callable[[redis.client.Pipeline, Principal], None]


class KeyStore:
    def __init__(
        self,
        client: redis.Redis,
        prefix: str = PREFIX,
        *,
        clock: Clock = SystemClock(),  # noqa: B008  # frozen: one shared instance is safe
    ) -> None:
        self.client = client
        self.keys = RedisKeys(prefix)
        self.clock = clock
        self._seen: dict[str, Principal] = {}  # hash -> principal: a key's fixed facts

    def create(
        self, role: Role, shops: list[str] | tuple[str, ...], label: str = ""
    ) -> tuple[str, str]:
        """A new key: (key_id, plaintext). The plaintext is shown once and never stored."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        shops = tuple(sorted({s.strip() for s in shops if s.strip()}))
        if role == "admin" or not shops:
            if role != "admin":
                raise ValueError(f"a {role} key needs at least one shop (--shop S, or '*' for all)")
            shops = (ALL_SHOPS,)
        key_id = "k_" + secrets.token_hex(6)
        plaintext = f"cpk_{secrets.token_urlsafe(32)}"
        digest = _digest(plaintext)
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(
            self.keys.api_key(key_id),
            mapping={
                "role": role, "shops": json.dumps(list(shops)), "label": label,
                "created": str(timestamp(self.clock)), "revoked": "0", "hash": digest,
            },
        )  # fmt: skip
        pipe.set(self.keys.api_key_hash(digest), key_id)
        pipe.sadd(self.keys.api_keys, key_id)
        _call(pipe.execute)
        return key_id, plaintext

    def list(self) -> list[KeyInfo]:
        ids = sorted(_text(m) for m in _call(self.client.smembers, self.keys.api_keys))
        infos = [self._info(key_id) for key_id in ids]
        return sorted((i for i in infos if i is not None), key=lambda i: i.created)

    def count(self) -> int:
        return int(_call(self.client.scard, self.keys.api_keys))

    def revoke(self, key_id: str) -> None:
        key = self.keys.api_key(key_id)
        if not _call(self.client.exists, key):
            raise KeyNotFound(key_id)
        _call(self.client.hset, key, "revoked", "1")

    def lookup(self, plaintext: str) -> Principal | None:
        """The key's Principal; None for unknown or revoked keys."""
        return self.verify(plaintext).principal

    def knows(self, plaintext: str) -> bool:
        """This process has verified the key before (no Redis read; it may be revoked since)."""
        return _digest(plaintext) in self._seen

    def verify(self, plaintext: str, also: Also | None = None) -> Verified:
        """lookup(), plus the replies to what `also` queued in the same round trip (run only for
        a valid key, and not while Redis is down)."""
        digest = _digest(plaintext)
        known = self._seen.get(digest)
        try:
            if known is None:
                return self._first_use(digest, also)
            pipe = self.client.pipeline(transaction=False)
            pipe.hget(self.keys.api_key(known.key_id), "revoked")
            if also is not None:
                also(pipe, known)
            revoked, *replies = pipe.execute()
        except (redis.RedisError, OSError):
            return Verified(self._seen.get(digest))
        if revoked is None or _text(revoked) != "0":  # revoked, or its record is gone
            self._seen.pop(digest, None)
            return Verified(None)
        return Verified(known, replies)

    def _first_use(self, digest: str, also: Also | None) -> Verified:
        key_id = self.client.get(self.keys.api_key_hash(digest))
        info = self._info(_text(key_id)) if key_id else None
        if info is None or info.revoked:
            return Verified(None)
        principal = Principal(
            info.key_id, info.role, frozenset(info.shops) - {ALL_SHOPS}, ALL_SHOPS in info.shops
        )
        self._seen[digest] = principal
        if also is None:
            return Verified(principal)
        pipe = self.client.pipeline(transaction=False)
        also(pipe, principal)
        return Verified(principal, pipe.execute() if len(pipe) else [])

    def _info(self, key_id: str) -> KeyInfo | None:
        """The key's record; None when there is none, or none that can be read (a key whose
        record is damaged grants nothing)."""
        try:
            raw = self.client.hgetall(self.keys.api_key(key_id))
        except redis.ResponseError as exc:  # not a hash: not a key record
            log.warning("API key %r: unreadable record (%s); treated as unknown", key_id, exc)
            return None
        if not raw:
            return None
        try:
            return _key_info(key_id, {_text(k): _text(v) for k, v in raw.items()})
        except (ValueError, TypeError) as exc:
            log.warning("API key %r: unreadable record (%s); treated as unknown", key_id, exc)
            return None


def _key_info(key_id: str, fields: dict[str, str]) -> KeyInfo:
    role = fields.get("role", "agent")
    shops = json.loads(fields.get("shops", "[]"))
    if not isinstance(shops, list) or not all(isinstance(s, str) for s in shops):
        raise ValueError(f"shops is not a list of shop ids: {shops!r}")
    return KeyInfo(
        key_id=key_id,
        role=role if role in ROLES else "agent",  # type: ignore[arg-type]
        shops=tuple(shops),
        label=fields.get("label", ""),
        created=float(fields.get("created", 0)),
        revoked=fields.get("revoked") == "1",
    )


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def _call(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    try:
        return fn(*args, **kwargs)
    except (redis.RedisError, OSError) as exc:
        raise StoreUnavailable(f"Redis failed: {exc}") from exc
