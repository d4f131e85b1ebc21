"""The suggestion cache: the same question in the same context on the same knowledge gets the
same retrieval answer, so it is served from Redis in about a millisecond.

Key: (shop, KB version, normalised last customer message, hash of the context: earlier turns,
order, notes). An import moves the KB version, so no stale answer outlives a KB change; the TTL
bounds staleness of the history bank and shop policy. Only suggestions without an LLM draft are
cached (a draft is meant to be fresh). Hits and misses are counted in Redis (all replicas).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Any

import redis

from copilot.types import Conversation
from kb.storage.redis_keys import RedisKeys

PREFIX = "copilot"
_NOISE = re.compile(r"[\s~～!！?？。.,，、…]+")


def normalise(message: str) -> str:
    """Width, case, spacing and trailing punctuation do not change the question."""
    return _NOISE.sub(" ", unicodedata.normalize("NFKC", message).lower()).strip()


def context_hash(conversation: Conversation) -> str:
    """Everything but the last customer message that the pipeline reads."""
    tail = len(conversation.turns)
    while tail and conversation.turns[tail - 1].role == "customer":
        tail -= 1
    earlier = [(t.role, normalise(t.text)) for t in conversation.turns[:tail]][-6:]
    order = conversation.order
    data = {
        "turns": earlier,
        "order": repr(order) if order else None,
        "notes": conversation.notes,
    }
    return hashlib.sha1(json.dumps(data, ensure_ascii=False).encode()).hexdigest()[:16]


class SuggestionCache:
    def __init__(
        self, client: redis.Redis, ttl_seconds: int, *, enabled: bool = True, prefix: str = PREFIX
    ) -> None:
        self.client = client
        self.ttl = ttl_seconds
        self.enabled = enabled
        self.keys = RedisKeys(prefix)

    def key(self, conversation: Conversation, kb_version: int) -> str:
        message = normalise(conversation.last_customer_text)
        digest = hashlib.sha1(f"{message}\n{context_hash(conversation)}".encode()).hexdigest()
        return self.keys.cache(conversation.shop_id, kb_version, digest)

    def get(self, key: str) -> dict[str, Any] | None:
        raw = self.client.get(key)
        self.client.hincrby(self.keys.cache_stats, "hits" if raw else "misses", 1)
        return json.loads(raw) if raw else None

    def put(self, key: str, payload: dict[str, Any]) -> None:
        self.client.set(key, json.dumps(payload, ensure_ascii=False), ex=self.ttl)

    def stats(self) -> dict[str, float]:
        raw = self.client.hgetall(self.keys.cache_stats)
        counts = {_text(k): int(v) for k, v in raw.items()}
        hits, misses = counts.get("hits", 0), counts.get("misses", 0)
        total = hits + misses
        return {"hits": hits, "misses": misses, "hit_rate": hits / total if total else 0.0}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
